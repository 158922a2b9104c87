import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * LVFS cabinet pieces made by the real tools: metainfo XML, a test CA (openssl), Jcat catalogs
 * (jcat-tool), cabinets (gcab, fwupdtool build-cabinet). Every function takes the working directory;
 * file arguments are relative to it, so jcat-tool names each item by the file's plain name, as the
 * LVFS does. Suites skip with JCAT_TOOL / GCAB / FWUPDTOOL / OPENSSL (test/helpers/requirements.ts).
 */

const run = promisify(execFile);

async function tool(dir: string, cmd: string, args: string[]): Promise<string> {
  try {
    const r = await run(cmd, args, { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, LC_ALL: 'C.UTF-8', TZ: 'UTC' } });
    return r.stdout;
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

// ---------------------------------------------------------------------------------------------- metainfo

export interface MetainfoChecksumSpec {
  type?: string;
  target?: string;
  filename?: string;
  value?: string;
}

export interface MetainfoReleaseSpec {
  version: string;
  date?: string;
  timestamp?: number;
  urgency?: string;
  installDuration?: number;
  /** Paragraphs; a string starting with "- " becomes a list item. */
  description?: string[];
  checksums?: MetainfoChecksumSpec[];
}

export interface MetainfoRequirementSpec {
  kind: string;
  value?: string;
  compare?: string;
  version?: string;
  depth?: number;
}

export interface MetainfoSpec {
  id?: string;
  name?: string;
  summary?: string;
  developer?: string;
  license?: string;
  metadataLicense?: string;
  provides?: string[];
  versionFormat?: string;
  releases?: MetainfoReleaseSpec[];
  requires?: MetainfoRequirementSpec[];
  categories?: string[];
  /** The root element's type attribute (default "firmware"; null leaves it out). */
  type?: string | null;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const attrs = (a: Record<string, string | number | undefined>): string =>
  Object.entries(a).filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}="${esc(String(v))}"`).join('');

/** A metainfo shaped as the LVFS writes them (XML declaration, two-space indent, newest release first). */
export function makeMetainfo(spec: MetainfoSpec = {}): string {
  const l: string[] = ['<?xml version="1.0" encoding="UTF-8"?>', '<!-- Copyright 2026 Example Corp -->'];
  l.push(`<component${attrs({ type: spec.type === null ? undefined : spec.type ?? 'firmware' })}>`);
  l.push(`  <id>${esc(spec.id ?? 'com.example.Widget.firmware')}</id>`);
  if (spec.name !== undefined) l.push(`  <name>${esc(spec.name)}</name>`);
  if (spec.summary !== undefined) l.push(`  <summary>${esc(spec.summary)}</summary>`);
  if (spec.developer !== undefined) l.push(`  <developer_name>${esc(spec.developer)}</developer_name>`);
  if (spec.license !== undefined) l.push(`  <project_license>${esc(spec.license)}</project_license>`);
  if (spec.metadataLicense !== undefined) l.push(`  <metadata_license>${esc(spec.metadataLicense)}</metadata_license>`);
  if (spec.provides) {
    l.push('  <provides>');
    for (const g of spec.provides) l.push(`    <firmware type="flashed">${esc(g)}</firmware>`);
    l.push('  </provides>');
  }
  if (spec.requires) {
    l.push('  <requires>');
    for (const r of spec.requires) {
      const a = attrs({ compare: r.compare, version: r.version, depth: r.depth });
      l.push(r.value === undefined ? `    <${r.kind}${a}/>` : `    <${r.kind}${a}>${esc(r.value)}</${r.kind}>`);
    }
    l.push('  </requires>');
  }
  if (spec.categories) {
    l.push('  <categories>');
    for (const c of spec.categories) l.push(`    <category>${esc(c)}</category>`);
    l.push('  </categories>');
  }
  if (spec.versionFormat !== undefined) {
    l.push('  <custom>', `    <value key="LVFS::VersionFormat">${esc(spec.versionFormat)}</value>`, '  </custom>');
  }
  const releases = spec.releases ?? [{ version: '1.0.0' }];
  if (releases.length > 0) {
    l.push('  <releases>');
    for (const r of releases) {
      l.push(`    <release${attrs({ version: r.version, date: r.date, timestamp: r.timestamp, urgency: r.urgency, install_duration: r.installDuration })}>`);
      if (r.description) {
        l.push('      <description>');
        const items = r.description.filter((d) => d.startsWith('- '));
        for (const d of r.description.filter((p) => !p.startsWith('- '))) l.push(`        <p>${esc(d)}</p>`);
        if (items.length) l.push('        <ul>', ...items.map((d) => `          <li>${esc(d.slice(2))}</li>`), '        </ul>');
        l.push('      </description>');
      }
      for (const c of r.checksums ?? []) {
        const a = attrs({ type: c.type, filename: c.filename, target: c.target });
        l.push(c.value === undefined ? `      <checksum${a}/>` : `      <checksum${a}>${esc(c.value)}</checksum>`);
      }
      l.push('    </release>');
    }
    l.push('  </releases>');
  }
  l.push('</component>', '');
  return l.join('\n');
}

// ---------------------------------------------------------------------------------------------- a test CA

export interface TestCa {
  caPem: string;
  caDer: string;
  caKey: string;
  signerPem: string;
  signerDer: string;
  signerKey: string;
}

const EXTENSIONS = `[ca_ext]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
[leaf_ext]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
`;

/** A CA ("CN=<name> CA") and a signing certificate it issued ("CN=<name> signer"), RSA-2048, PEM and DER, in `dir`. */
export async function makeTestCa(dir: string, name = 'fwup test'): Promise<TestCa> {
  const base = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
  const p = (s: string) => join(dir, `${base}-${s}`);
  const cnf = p('ext.cnf');
  await writeFile(cnf, `[req]\ndistinguished_name=dn\n[dn]\n${EXTENSIONS}`);
  const ca: TestCa = {
    caPem: p('ca.pem'), caDer: p('ca.der'), caKey: p('ca.key'),
    signerPem: p('signer.pem'), signerDer: p('signer.der'), signerKey: p('signer.key'),
  };
  await tool(dir, 'openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', ca.caKey, '-out', ca.caPem, '-days', '3650',
    '-subj', `/O=fwup tests/CN=${name} CA`, '-config', cnf, '-extensions', 'ca_ext']);
  await tool(dir, 'openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', ca.signerKey, '-out', p('signer.csr'), '-subj', `/O=fwup tests/CN=${name} signer`, '-config', cnf]);
  await tool(dir, 'openssl', ['x509', '-req', '-in', p('signer.csr'), '-CA', ca.caPem, '-CAkey', ca.caKey, '-set_serial', '2', '-days', '3650',
    '-out', ca.signerPem, '-extfile', cnf, '-extensions', 'leaf_ext']);
  await tool(dir, 'openssl', ['x509', '-in', ca.caPem, '-outform', 'DER', '-out', ca.caDer]);
  await tool(dir, 'openssl', ['x509', '-in', ca.signerPem, '-outform', 'DER', '-out', ca.signerDer]);
  return ca;
}

// ---------------------------------------------------------------------------------------------- jcat-tool

export type JcatChecksumKind = 'sha1' | 'sha256' | 'sha512';

/** jcat-tool's own keyring for self-signing (it makes a key and a self-signed client.pem on first use). */
export const jcatKeyring = (dir: string): string => join(dir, 'jcat-keyring');

/** `jcat-tool self-sign`: a PKCS#7 signature by the keyring's own certificate (not carried in the signature). */
export async function jcatSelfSign(dir: string, jcatPath: string, file: string, opts: { kind?: string; target?: JcatChecksumKind } = {}): Promise<void> {
  const extra = [...(opts.kind ? ['--kind', opts.kind] : []), ...(opts.target ? ['--target', opts.target] : [])];
  await tool(dir, 'jcat-tool', ['--keyring', jcatKeyring(dir), ...extra, 'self-sign', jcatPath, file]);
}

/** `jcat-tool sign`: a PKCS#7 signature by `certPem`/`keyPem`, carrying the certificate and a signing time. */
export async function jcatSign(dir: string, jcatPath: string, file: string, certPem: string, keyPem: string, opts: { target?: JcatChecksumKind } = {}): Promise<void> {
  const extra = opts.target ? ['--target', opts.target] : [];
  await tool(dir, 'jcat-tool', ['--keyring', jcatKeyring(dir), ...extra, 'sign', jcatPath, file, certPem, keyPem]);
}

/** A checksum blob (`jcat-tool self-sign --kind sha256`: the checksum engines "sign" by hashing). */
export async function jcatAddChecksum(dir: string, jcatPath: string, file: string, kind: JcatChecksumKind = 'sha256'): Promise<void> {
  await jcatSelfSign(dir, jcatPath, file, { kind });
}

/** `jcat-tool add-alias`. */
export async function jcatAddAlias(dir: string, jcatPath: string, id: string, alias: string): Promise<void> {
  await tool(dir, 'jcat-tool', ['--keyring', jcatKeyring(dir), 'add-alias', jcatPath, id, alias]);
}

/** `jcat-tool info`, for messages. */
export function jcatInfo(dir: string, jcatPath: string): Promise<string> {
  return tool(dir, 'jcat-tool', ['--keyring', jcatKeyring(dir), 'info', jcatPath]);
}

/** The catalog's JSON, as jcat-tool wrote it (for asserting the raw fields). */
export async function jcatJson(dir: string, jcatPath: string): Promise<unknown> {
  const { gunzipSync } = await import('node:zlib');
  return JSON.parse(gunzipSync(await readFile(join(dir, jcatPath))).toString('utf8'));
}

// ---------------------------------------------------------------------------------------------- cabinets

/** `gcab -c [-z] OUT FILE...` (MSZIP with compress). */
export async function gcabCreate(dir: string, out: string, files: readonly string[], opts: { compress?: boolean } = {}): Promise<void> {
  await tool(dir, 'gcab', ['-c', ...(opts.compress ? ['-z'] : []), out, ...files]);
}

/**
 * `fwupdtool build-cabinet OUT FILE...`: fwupd's own cabinet builder. fwupd 2.0.20 packs the files as
 * given and writes no firmware.jcat of its own (pass one among the files); it refuses a metainfo
 * without a <provides><firmware type="flashed"> ("no results for XPath query …").
 */
export async function fwupdBuildCabinet(dir: string, out: string, files: readonly string[]): Promise<void> {
  await tool(dir, 'fwupdtool', ['build-cabinet', out, ...files]);
}
