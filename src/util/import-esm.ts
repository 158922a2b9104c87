/**
 * import() of an ES-only package (chalk, ora, execa, pkijs). bin/fwup.js runs the bundle compiled from a
 * V8 code cache, and in Node 20 code compiled from a cache loses its import() callback; the shim
 * therefore lends its own import() as `globalThis.__fwupImport` (which answers pkijs and asn1js from
 * their own code-cached bundle, dist/bundle/cli/pkcs7-vendor.js). Everywhere else (tests, library use)
 * this is a plain import().
 */
export function importEsm<T>(specifier: string): Promise<T> {
  const host = (globalThis as { __fwupImport?: (s: string) => Promise<unknown> }).__fwupImport;
  return (host ? host(specifier) : import(specifier)) as Promise<T>;
}
