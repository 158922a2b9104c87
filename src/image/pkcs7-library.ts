import { webcrypto } from 'node:crypto';
import { importEsm } from '../util/import-esm.js';

/**
 * pkijs (PKCS#7/CMS and X.509 over WebCrypto), loaded on first use only. Why lazily: `fwup --version`
 * and `fwup inspect x.fwup` start-up time is a measured requirement, and pkijs with asn1js is about
 * 1 MB of JavaScript that only capsule commands need. Why pkijs: see docs/capsule-format.md.
 */
export type Pkijs = typeof import('pkijs');
export type Asn1js = typeof import('asn1js');

export interface Pkcs7Library {
  pkijs: Pkijs;
  asn1js: Asn1js;
  /** One engine on Node's WebCrypto, passed explicitly instead of relying on pkijs's global engine. */
  engine: InstanceType<Pkijs['CryptoEngine']>;
}

let loading: Promise<Pkcs7Library> | null = null;

export function loadPkcs7Library(): Promise<Pkcs7Library> {
  loading ??= (async () => {
    const [pkijs, asn1js] = await Promise.all([importEsm<Pkijs>('pkijs'), importEsm<Asn1js>('asn1js')]);
    const engine = new pkijs.CryptoEngine({ name: 'node-webcrypto', crypto: webcrypto as unknown as ConstructorParameters<Pkijs['CryptoEngine']>[0]['crypto'] });
    return { pkijs, asn1js, engine };
  })();
  return loading;
}

/** An ArrayBuffer holding exactly these bytes (pkijs wants ArrayBuffers, Buffers may share a pool). */
export function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** Digest algorithm OIDs as the manifest and openssl name them. */
export const DIGEST_NAMES: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
