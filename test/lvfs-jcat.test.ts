import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { DEFAULT_JCAT_LIMITS, parseJcat, type JcatCatalog } from '../src/image/lvfs/jcat.js';
import { jcatVerdictError, verifyJcat, type JcatVerdict } from '../src/image/lvfs/jcat-verify.js';
import type { TrustedCertificateInput } from '../src/image/capsule-verify.js';
import { lvfsCaFiles } from '../src/core/lvfs-ca-files.js';
import { loadCertificateFiles } from '../src/core/cert-files.js';
import { loadTrustStore } from '../src/image/capsule-verify.js';
import { FwupError } from '../src/errors/fwup-error.js';
import { prngBytes, tempDir } from './helpers/cli.js';
import { FWUPDTOOL, JCAT_TOOL, OPENSSL, needs } from './helpers/requirements.js';
import { fwupdBuildCabinet, jcatAddAlias, jcatAddChecksum, jcatJson, jcatKeyring, jcatSelfSign, jcatSign, makeMetainfo, makeTestCa, type TestCa } from './helpers/lvfs-tools.js';
import { BufferSource } from '../src/image/byte-source.js';
import { readCabinet } from '../src/image/cab/cab-read.js';

const FIRMWARE = prngBytes(11, 5000);
const hex = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');
const gz = (doc: unknown): Buffer => gzipSync(Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc)));
const certOf = async (path: string): Promise<TrustedCertificateInput[]> => loadCertificateFiles([path]);
const only = (files: Record<string, Buffer>) => (id: string): Buffer | null => files[id] ?? null;
const sigs = (v: JcatVerdict) => v.items[0]!.signatures.map((s) => [s.kind, s.target, s.status]);

/** One world per suite run: a firmware file, a test CA and an unrelated CA, and catalogs jcat-tool made. */
interface World { dir: string; ca: TestCa; other: TestCa; checksums: Buffer; selfSigned: Buffer; caSigned: Buffer }
let world: Promise<World> | null = null;
const cleanups: Array<() => Promise<void>> = [];
function makeWorld(): Promise<World> {
  world ??= (async () => {
    const { dir, cleanup } = await tempDir('fwup-jcat-');
    cleanups.push(cleanup);
    await writeFile(join(dir, 'firmware.bin'), FIRMWARE);
    const ca = await makeTestCa(dir, 'fwup test');
    const other = await makeTestCa(dir, 'unrelated');
    for (const k of ['sha1', 'sha256', 'sha512'] as const) await jcatAddChecksum(dir, 'checksums.jcat', 'firmware.bin', k);
    await jcatAddChecksum(dir, 'self.jcat', 'firmware.bin', 'sha256');
    await jcatSelfSign(dir, 'self.jcat', 'firmware.bin');
    await jcatSelfSign(dir, 'self.jcat', 'firmware.bin', { target: 'sha256' });
    await jcatAddChecksum(dir, 'ca.jcat', 'firmware.bin', 'sha256');
    await jcatSign(dir, 'ca.jcat', 'firmware.bin', ca.signerPem, ca.signerKey);
    await jcatSign(dir, 'ca.jcat', 'firmware.bin', ca.signerPem, ca.signerKey, { target: 'sha256' });
    await jcatAddAlias(dir, 'ca.jcat', 'firmware.bin', 'firmware-1.2.3.bin');
    const r = (n: string) => readFile(join(dir, n));
    return { dir, ca, other, checksums: await r('checksums.jcat'), selfSigned: await r('self.jcat'), caSigned: await r('ca.jcat') };
  })();
  return world;
}
test.after(async () => {
  for (const c of cleanups) await c();
});
const tools = (t: Parameters<typeof needs>[0]) => needs(t, JCAT_TOOL()) && needs(t, OPENSSL());

test('jcat: checksums made by jcat-tool parse exactly (kinds 4 sha1, 1 sha256, 10 sha512; IS_UTF8 hex text)', async (t) => {
  if (!tools(t)) return;
  const w = await makeWorld();
  const raw = (await jcatJson(w.dir, 'checksums.jcat')) as { Items: Array<{ Blobs: Array<{ Timestamp: number }> }> };
  const ts = raw.Items[0]!.Blobs.map((b) => b.Timestamp);
  const cat = parseJcat(w.checksums, 'checksums.jcat');
  const blob = (kind: string, kindNumber: number, data: string, timestamp: number) =>
    ({ kind, kindNumber, kindName: kind, target: null, targetNumber: null, flags: 1, timestamp, appstreamId: null, data: Buffer.from(data) });
  assert.deepEqual(cat, {
    version: '0.1',
    items: [{ id: 'firmware.bin', aliases: [], blobs: [
      blob('sha1', 4, hex('sha1', FIRMWARE), ts[0]!),
      blob('sha256', 1, hex('sha256', FIRMWARE), ts[1]!),
      blob('sha512', 10, hex('sha512', FIRMWARE), ts[2]!),
    ] }],
  });
  assert.ok(ts.every((x) => Number.isSafeInteger(x) && x > 1.7e9), 'jcat-tool stamps each blob with the time');
  const v = await verifyJcat(cat, only({ 'firmware.bin': FIRMWARE }), null);
  assert.deepEqual(v, { items: [{ id: 'firmware.bin', present: true, file: 'firmware.bin', signatures: [], checksums: [
    { kind: 'sha1', expected: hex('sha1', FIRMWARE), actual: hex('sha1', FIRMWARE), ok: true },
    { kind: 'sha256', expected: hex('sha256', FIRMWARE), actual: hex('sha256', FIRMWARE), ok: true },
    { kind: 'sha512', expected: hex('sha512', FIRMWARE), actual: hex('sha512', FIRMWARE), ok: true },
  ] }] });
  assert.equal(jcatVerdictError(v, 'checksums.jcat'), null);
});

test('jcat: a self-signed catalog parses (PEM PKCS#7, Target 1 = sha256) and is not-verified without certificates, unknown-key with an unrelated CA, valid with jcat-tool\'s own certificate', async (t) => {
  if (!tools(t)) return;
  const w = await makeWorld();
  const cat = parseJcat(w.selfSigned, 'self.jcat');
  const blobs = cat.items[0]!.blobs;
  assert.deepEqual(blobs.map((b) => [b.kind, b.kindNumber, b.target, b.targetNumber, b.flags]), [['sha256', 1, null, null, 1], ['pkcs7', 3, null, null, 1], ['pkcs7', 3, 'sha256', 1, 1]]);
  assert.match(blobs[1]!.data.toString('utf8'), /^-----BEGIN PKCS7-----\n[\s\S]+-----END PKCS7-----\n$/);
  const files = only({ 'firmware.bin': FIRMWARE });

  const none = await verifyJcat(cat, files, null);
  assert.deepEqual(none.items[0]!.signatures.map((s) => [s.status, s.signer, s.reason]), [
    ['not-verified', null, 'no certificates were given to check it against (and the signature carries none of its own)'],
    ['not-verified', null, 'no certificates were given to check it against (and the signature carries none of its own)'],
  ]);
  assert.deepEqual((await verifyJcat(cat, files, [])).items[0]!.signatures.map((s) => s.status), ['not-verified', 'not-verified'], 'an empty list is no list');

  const unrelated = await verifyJcat(cat, files, await certOf(w.other.caPem));
  assert.deepEqual(sigs(unrelated), [['pkcs7', null, 'unknown-key'], ['pkcs7', 'sha256', 'unknown-key']]);
  assert.match(unrelated.items[0]!.signatures[0]!.reason!, /SignerInfo 0: its certificate \(issuer \(empty\), serial [0-9a-f]+\) is neither carried in the SignedData nor trusted/);

  const own = await verifyJcat(cat, files, await certOf(join(jcatKeyring(w.dir), 'pki', 'client.pem')));
  assert.deepEqual(sigs(own), [['pkcs7', null, 'valid'], ['pkcs7', 'sha256', 'valid']]);
  assert.equal(own.items[0]!.signatures[0]!.signer, '(empty subject)');
});

test('jcat: a catalog signed by the test CA is valid with the CA (PEM or DER), unknown-key with an unrelated CA, not-verified without certificates', async (t) => {
  if (!tools(t)) return;
  const w = await makeWorld();
  const cat = parseJcat(w.caSigned, 'ca.jcat');
  assert.deepEqual(cat.items.map((i) => [i.id, i.aliases]), [['firmware.bin', ['firmware-1.2.3.bin']]]);
  assert.deepEqual(cat.items[0]!.blobs.map((b) => [b.kindName, b.target]), [['sha256', null], ['pkcs7', null], ['pkcs7', 'sha256']]);
  const files = only({ 'firmware.bin': FIRMWARE });
  for (const certPath of [w.ca.caPem, w.ca.caDer]) {
    const v = await verifyJcat(cat, files, await certOf(certPath));
    assert.deepEqual(v.items[0]!.signatures.map((s) => [s.kind, s.target, s.status, s.signer, s.reason, s.trustAnchor]), [
      ['pkcs7', null, 'valid', 'O=fwup tests, CN=fwup test signer', null, `O=fwup tests, CN=fwup test CA (${certPath})`],
      ['pkcs7', 'sha256', 'valid', 'O=fwup tests, CN=fwup test signer', null, `O=fwup tests, CN=fwup test CA (${certPath})`],
    ]);
    assert.equal(jcatVerdictError(v, 'ca.jcat'), null);
  }
  const unrelated = await verifyJcat(cat, files, await certOf(w.other.caPem));
  assert.deepEqual(sigs(unrelated), [['pkcs7', null, 'unknown-key'], ['pkcs7', 'sha256', 'unknown-key']]);
  assert.match(unrelated.items[0]!.signatures[0]!.reason!, /whose issuer \(O=fwup tests, CN=fwup test CA\) is neither carried nor trusted/);
  const none = await verifyJcat(cat, files, null);
  assert.deepEqual(none.items[0]!.signatures.map((s) => [s.status, s.signer]), [['not-verified', 'O=fwup tests, CN=fwup test signer'], ['not-verified', 'O=fwup tests, CN=fwup test signer']]);
  // The signer's own certificate is not a CA: trusting it alone is enough, as edk2's partial chains allow.
  assert.deepEqual(sigs(await verifyJcat(cat, files, await certOf(w.ca.signerPem))).map((s) => s[2]), ['valid', 'valid']);
});

test('jcat: jcat-tool verify agrees: PASSED with the test CA, FAILED once the file changes', async (t) => {
  if (!tools(t)) return;
  const w = await makeWorld();
  const run = promisify(execFile);
  const verify = async (file: string) => {
    const sub = join(w.dir, `verify-${file}`);
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, 'firmware.bin'), file === 'good' ? FIRMWARE : flip(FIRMWARE, 100));
    return run('jcat-tool', ['--keyring', jcatKeyring(w.dir), '--public-key', w.ca.caPem, 'verify', join(w.dir, 'ca.jcat'), 'firmware.bin'], { cwd: sub, env: { PATH: process.env.PATH, HOME: w.dir } })
      .then((r) => ({ ok: true, out: r.stdout }), (e: { stdout: string }) => ({ ok: false, out: e.stdout }));
  };
  const good = await verify('good');
  assert.ok(good.ok, good.out);
  assert.match(good.out, /PASSED pkcs7: CN=fwup test CA,O=fwup tests/);
  const bad = await verify('bad');
  assert.equal(bad.ok, false, bad.out);
  assert.match(bad.out, /FAILED sha256/);
});

test('jcat: the catalog of a cabinet built by fwupdtool build-cabinet verifies against the cabinet\'s own files', async (t) => {
  if (!tools(t) || !needs(t, FWUPDTOOL())) return;
  const w = await makeWorld();
  const sub = join(w.dir, 'cabinet');
  await mkdir(sub, { recursive: true });
  await writeFile(join(sub, 'firmware.bin'), FIRMWARE);
  await writeFile(join(sub, 'firmware.metainfo.xml'), makeMetainfo({ provides: ['12345678-1234-1234-1234-123456789abc'], releases: [{ version: '1.2.3', checksums: [{ filename: 'firmware.bin', target: 'content' }] }] }));
  await writeFile(join(sub, 'firmware.jcat'), w.caSigned);
  await fwupdBuildCabinet(sub, 'out.cab', ['firmware.bin', 'firmware.metainfo.xml', 'firmware.jcat']);
  const cab = readCabinet(new BufferSource(await readFile(join(sub, 'out.cab')), 'out.cab'));
  assert.deepEqual(cab.files.map((f) => f.name), ['firmware.bin', 'firmware.metainfo.xml', 'firmware.jcat'], 'fwupdtool adds no file of its own');
  const file = (n: string) => {
    const f = cab.files.find((x) => x.name === n);
    return f ? Buffer.from(f.data) : null;
  };
  const v = await verifyJcat(parseJcat(file('firmware.jcat')!, 'firmware.jcat'), file, await certOf(w.ca.caPem));
  assert.deepEqual(v.items.map((i) => [i.id, i.present, i.checksums.map((c) => c.ok), i.signatures.map((s) => s.status)]), [['firmware.bin', true, [true], ['valid', 'valid']]]);
});

function flip(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  c[at]! ^= 0x01;
  return c;
}

test('jcat: one flipped byte of the file: the checksum mismatches and the file signature is invalid; the signature of the (unchanged) sha256 stays valid', async (t) => {
  if (!tools(t)) return;
  const w = await makeWorld();
  const cat = parseJcat(w.caSigned, 'ca.jcat');
  const changed = flip(FIRMWARE, 4321);
  const v = await verifyJcat(cat, only({ 'firmware.bin': changed }), await certOf(w.ca.caPem));
  assert.deepEqual(v.items[0]!.checksums, [{ kind: 'sha256', expected: hex('sha256', FIRMWARE), actual: hex('sha256', changed), ok: false }]);
  assert.deepEqual(sigs(v), [['pkcs7', null, 'invalid'], ['pkcs7', 'sha256', 'valid']]);
  assert.match(v.items[0]!.signatures[0]!.reason!, /SignerInfo 0: /);
  const e = jcatVerdictError(v, 'ca.jcat');
  assert.ok(e instanceof FwupError);
  assert.equal(e.code, 'IMAGE_SHA256');
  assert.match(e.message, new RegExp(`^ca\\.jcat: the sha256 of "firmware\\.bin" is ${hex('sha256', changed)}, but the catalog says ${hex('sha256', FIRMWARE)}$`));
});

test('jcat: a catalog whose sha256 was rewritten to match a changed file: the signature over the sha256 is invalid (JCAT_SIGNATURE_INVALID)', async (t) => {
  if (!tools(t)) return;
  const w = await makeWorld();
  const changed = flip(FIRMWARE, 7);
  const doc = (await jcatJson(w.dir, 'ca.jcat')) as { Items: Array<{ Blobs: Array<{ Kind: number; Data: string }> }> };
  doc.Items[0]!.Blobs[0]!.Data = hex('sha256', changed);
  const v = await verifyJcat(parseJcat(gz(doc), 'forged.jcat'), only({ 'firmware.bin': changed }), await certOf(w.ca.caPem));
  assert.deepEqual(v.items[0]!.checksums.map((c) => c.ok), [true], 'the rewritten checksum matches the changed file');
  assert.deepEqual(sigs(v), [['pkcs7', null, 'invalid'], ['pkcs7', 'sha256', 'invalid']]);
  const e = jcatVerdictError(v, 'forged.jcat');
  assert.ok(e instanceof FwupError);
  assert.equal(e.code, 'JCAT_SIGNATURE_INVALID');
  assert.match(e.message, /^forged\.jcat: the pkcs7 signature of "firmware\.bin" does not verify: SignerInfo 0: /);
});

test('jcat: a file found under its alias; a file not in the cabinet is reported absent, nothing verified over it', async (t) => {
  if (!tools(t)) return;
  const w = await makeWorld();
  const cat = parseJcat(w.caSigned, 'ca.jcat');
  const byAlias = await verifyJcat(cat, only({ 'firmware-1.2.3.bin': FIRMWARE }), await certOf(w.ca.caPem));
  assert.deepEqual([byAlias.items[0]!.present, byAlias.items[0]!.file, sigs(byAlias).map((s) => s[2])], [true, 'firmware-1.2.3.bin', ['valid', 'valid']]);
  const absent = await verifyJcat(cat, only({}), await certOf(w.ca.caPem));
  assert.deepEqual(absent.items[0]!.checksums, [{ kind: 'sha256', expected: hex('sha256', FIRMWARE), actual: null, ok: false }]);
  assert.deepEqual(absent.items[0]!.signatures.map((s) => [s.target, s.status, s.reason]), [
    [null, 'not-verified', '"firmware.bin" is not in the cabinet, so there is nothing to check the signature over'],
    ['sha256', 'valid', null],
  ]);
  assert.equal(absent.items[0]!.present, false);
});

test('jcat: GPG, Ed25519 and binary-transparency blobs are reported, not verified', async () => {
  const armour = '-----BEGIN PGP SIGNATURE-----\n\niQEzBAABCAAdFiEE\n=abcd\n-----END PGP SIGNATURE-----\n';
  const cat = parseJcat(gz({ JcatVersionMajor: 0, JcatVersionMinor: 1, Items: [{ Id: 'firmware.bin', Blobs: [
    { Kind: 2, Flags: 1, Timestamp: 1700000000, Data: armour },
    { Kind: 9, Flags: 0, Data: Buffer.alloc(64, 7).toString('base64'), AppstreamId: 'com.example' },
    { Kind: 5, Flags: 1, Data: '{}' },
    { Kind: 99, Flags: 0, Data: '' },
  ] }] }), 'gpg.jcat');
  assert.deepEqual(cat.items[0]!.blobs.map((b) => [b.kind, b.kindNumber, b.kindName, b.timestamp, b.appstreamId, b.data.length]), [
    ['gpg', 2, 'gpg', 1700000000, null, armour.length],
    ['ed25519', 9, 'ed25519', null, 'com.example', 64],
    ['unknown', 5, 'bt-manifest', null, null, 2],
    ['unknown', 99, 'kind-99', null, null, 0],
  ]);
  const v = await verifyJcat(cat, only({ 'firmware.bin': FIRMWARE }), null);
  assert.deepEqual(v.items[0]!.signatures.map((s) => [s.kind, s.status]), [['gpg', 'not-verified'], ['ed25519', 'not-verified'], ['unknown', 'unsupported'], ['unknown', 'unsupported']]);
  assert.match(v.items[0]!.signatures[0]!.reason!, /^GPG signatures are not verified: fwup has no OpenPGP verifier/);
  assert.match(v.items[0]!.signatures[2]!.reason!, /^blob kind 5 \(bt-manifest\) is not one fwup verifies$/);
  assert.equal(jcatVerdictError(v, 'gpg.jcat'), null, 'not verified is not invalid: policy decides');
});

test('jcat: a signature whose Target blob is missing, and a PKCS#7 blob that is not PKCS#7, are invalid', async () => {
  const cat = parseJcat(gz({ JcatVersionMajor: 0, JcatVersionMinor: 1, Items: [{ Id: 'f', Blobs: [
    { Kind: 3, Flags: 1, Target: 10, Data: '-----BEGIN PKCS7-----\nMAA=\n-----END PKCS7-----\n' },
    { Kind: 3, Flags: 0, Data: Buffer.from('not der').toString('base64') },
  ] }] }), 't.jcat');
  const v = await verifyJcat(cat, only({ f: FIRMWARE }), null);
  assert.deepEqual(v.items[0]!.signatures.map((s) => [s.status, s.reason]), [
    ['invalid', 'it signs the item\'s sha512 blob, which the item does not have'],
    ['invalid', 'CertData is not a DER PKCS#7 SignedData'],
  ]);
});

const base = { JcatVersionMajor: 0, JcatVersionMinor: 1 };
const item = (blob: Record<string, unknown>) => ({ ...base, Items: [{ Id: 'f', Blobs: [blob] }] });
const JCAT_REJECTIONS: Array<{ what: string; gz: () => Buffer; message: RegExp }> = [
  { what: 'not gzip', gz: () => Buffer.from('{"JcatVersionMajor":0}'), message: /^x\.jcat: is not gzip \(it starts with 7B22, not 1F8B\)$/ },
  { what: 'empty', gz: () => Buffer.alloc(0), message: /is not gzip \(it starts with nothing, not 1F8B\)/ },
  { what: 'a truncated gzip stream', gz: () => gz(base).subarray(0, 12), message: /is not a valid gzip stream/ },
  { what: 'a gzip bomb over the 4 MiB bound', gz: () => gzipSync(Buffer.alloc(DEFAULT_JCAT_LIMITS.maxJsonBytes + 1, 0x20)), message: /inflates to more than 4194304 bytes, the most accepted/ },
  { what: 'bad JSON', gz: () => gz('{"JcatVersionMajor":0,'), message: /is not JSON \(/ },
  { what: 'JSON that is not UTF-8', gz: () => gzipSync(Buffer.from([0x22, 0xff, 0x22])), message: /its JSON is not valid UTF-8/ },
  { what: 'a document that is an array', gz: () => gz([]), message: /the document is an array, not an object/ },
  { what: 'no version', gz: () => gz({ Items: [] }), message: /JcatVersionMajor is missing, not an integer/ },
  { what: 'a version that is a string', gz: () => gz({ JcatVersionMajor: '0', JcatVersionMinor: 1 }), message: /JcatVersionMajor is the string "0", not an integer/ },
  { what: 'a newer major version', gz: () => gz({ JcatVersionMajor: 1, JcatVersionMinor: 0 }), message: /JcatVersionMajor is 1: only version 0\.x catalogs are known/ },
  { what: 'Items that is an object', gz: () => gz({ ...base, Items: {} }), message: /Items is an object, not an array/ },
  { what: 'too many items', gz: () => gz({ ...base, Items: Array.from({ length: 1025 }, (_, i) => ({ Id: `f${i}`, Blobs: [] })) }), message: /Items has 1025 entries; at most 1024 are accepted/ },
  { what: 'too many blobs', gz: () => gz({ ...base, Items: [{ Id: 'f', Blobs: Array.from({ length: 65 }, () => ({ Kind: 1, Flags: 1, Data: '' })) }] }), message: /Items\[0\]\.Blobs has 65 entries; at most 64 are accepted/ },
  { what: 'an item without an Id', gz: () => gz({ ...base, Items: [{ Blobs: [] }] }), message: /Items\[0\]\.Id is missing, not a string/ },
  { what: 'an empty Id', gz: () => gz({ ...base, Items: [{ Id: '', Blobs: [] }] }), message: /Items\[0\]\.Id is empty/ },
  { what: 'an item without Blobs', gz: () => gz({ ...base, Items: [{ Id: 'f' }] }), message: /Items\[0\]\.Blobs is missing, not an array/ },
  { what: 'an alias that is a number', gz: () => gz({ ...base, Items: [{ Id: 'f', AliasIds: [3], Blobs: [] }] }), message: /Items\[0\]\.AliasIds\[0\] is the number 3, not a string/ },
  { what: 'two items of one name', gz: () => gz({ ...base, Items: [{ Id: 'f', Blobs: [] }, { Id: 'g', AliasIds: ['f'], Blobs: [] }] }), message: /Items\[1\] and Items\[0\] both name "f"/ },
  { what: 'a blob that is a string', gz: () => gz({ ...base, Items: [{ Id: 'f', Blobs: ['x'] }] }), message: /Items\[0\] \("f"\)\.Blobs\[0\] is the string "x", not an object/ },
  { what: 'a blob without Kind', gz: () => gz(item({ Flags: 1, Data: 'x' })), message: /Blobs\[0\]\.Kind is missing, not an integer/ },
  { what: 'a negative Kind', gz: () => gz(item({ Kind: -1, Flags: 1, Data: 'x' })), message: /Blobs\[0\]\.Kind is -1, which is negative/ },
  { what: 'a fractional Flags', gz: () => gz(item({ Kind: 1, Flags: 0.5, Data: 'x' })), message: /Blobs\[0\]\.Flags is the number 0\.5, not an integer/ },
  { what: 'Data that is not a string', gz: () => gz(item({ Kind: 1, Flags: 1, Data: null })), message: /Blobs\[0\]\.Data is null, not a string/ },
  { what: 'binary Data that is not base64', gz: () => gz(item({ Kind: 9, Flags: 0, Data: 'not base64!' })), message: /Blobs\[0\]\.Data is not base64 \(Flags 0 has no IS_UTF8 bit, so it must be\)/ },
  { what: 'a Timestamp that is a string', gz: () => gz(item({ Kind: 1, Flags: 1, Data: 'x', Timestamp: 'now' })), message: /Blobs\[0\]\.Timestamp is the string "now", not an integer/ },
  { what: 'an AppstreamId that is a number', gz: () => gz(item({ Kind: 1, Flags: 1, Data: 'x', AppstreamId: 1 })), message: /Blobs\[0\]\.AppstreamId is the number 1, not a string/ },
  { what: 'a Target that is an array', gz: () => gz(item({ Kind: 3, Flags: 1, Data: 'x', Target: [] })), message: /Blobs\[0\]\.Target is an array, not an integer/ },
];

for (const r of JCAT_REJECTIONS) {
  test(`jcat: refused: ${r.what}`, () => {
    assert.throws(() => parseJcat(r.gz(), 'x.jcat'), (e: unknown) => {
      assert.ok(e instanceof FwupError, String(e));
      assert.equal(e.code, 'JCAT_INVALID');
      assert.match(e.message, r.message);
      assert.ok(e.hint.length > 0);
      return true;
    });
  });
}

test('jcat: a catalog with no item (libjcat then leaves Items out) parses as empty', () => {
  const empty: JcatCatalog = parseJcat(gz({ JcatVersionMajor: 0, JcatVersionMinor: 2 }), 'e.jcat');
  assert.deepEqual(empty, { version: '0.2', items: [] });
});

test('lvfsCaFiles: the *.pem files under ROOT/etc/pki/fwupd, sorted; none when the folder is absent', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    assert.deepEqual(lvfsCaFiles(dir), []);
    const pki = join(dir, 'etc', 'pki', 'fwupd');
    await mkdir(join(pki, 'sub.pem'), { recursive: true });
    for (const n of ['LVFS-CA.pem', 'GPG-KEY-Linux-Vendor-Firmware-Service', 'LVFS-CA-2025PQ.pem']) await writeFile(join(pki, n), 'x');
    assert.deepEqual(lvfsCaFiles(dir), [join(pki, 'LVFS-CA-2025PQ.pem'), join(pki, 'LVFS-CA.pem')]);
  } finally {
    await cleanup();
  }
});

test('lvfsCaFiles: the LVFS CAs Debian\'s fwupd ships load as trusted certificates (the RSA one and the ML-DSA one)', async (t) => {
  const files = lvfsCaFiles('/');
  if (files.length === 0) {
    if (!needs(t, { ok: false, why: 'no /etc/pki/fwupd/*.pem: apt-get install fwupd (.ci/run installs it)' })) return;
  }
  const certs = await loadCertificateFiles(files, 'LVFS CA certificate', { refusePrivateKeys: true });
  const store = await loadTrustStore(certs);
  const subjects = store.anchors.map((a) => a.subject);
  assert.ok(subjects.includes('CN=LVFS CA, O=Linux Vendor Firmware Project'), subjects.join('; '));
  assert.ok(subjects.includes('O=Linux Vendor Firmware Project, CN=LVFS CA 2025PQ'), subjects.join('; '));
});
