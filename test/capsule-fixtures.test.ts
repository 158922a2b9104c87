import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, tempDir } from './helpers/cli.js';
import { OPENSSL, needs } from './helpers/requirements.js';
import { OWN_CERTS, OWN_DIR, loadOwnManifest, opensslVerify, ownPath, prng, sha256, type OwnPatch } from './helpers/capsule-fixtures.js';
import { BufferSource } from '../src/image/byte-source.js';
import { parseCapsule } from '../src/image/capsule-format.js';
import { capsuleFormat } from '../src/image/formats/capsule.js';
import { reportError } from '../src/image/report.js';
import { FwupError } from '../src/errors/fwup-error.js';
import { pemBlocks } from '../src/util/pem.js';

/**
 * fwup's own capsule fixtures (fixtures/capsules/, made by scripts/make-capsule-fixtures.mjs) against
 * their manifest: the files are the ones described, every valid one parses to exactly its fields, every
 * invalid one is rejected with its code and message, openssl agrees on every signature, and the
 * script makes the same bytes again.
 */
const manifest = loadOwnManifest();
const root = pemBlocks(readFileSync(OWN_CERTS.root, 'latin1'))[0]!.der;
const trust = { keys: null, certs: [{ name: 'test-root.crt', der: root }] };
const verify = (bytes: Buffer) => capsuleFormat.verify(new BufferSource(bytes, 'fixture'), { trust });
const hex64 = (v: bigint) => `0x${v.toString(16).toUpperCase().padStart(16, '0')}`;
/** bigints as the manifest writes them. */
const terms = (v: unknown): unknown =>
  typeof v === 'bigint' ? hex64(v) : Array.isArray(v) ? v.map(terms) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, terms(x)])) : v;

test('capsule fixtures: the folder holds exactly the files of the manifest, with their sizes and hashes, under 1 MiB in all', () => {
  const listed = [...manifest.capsules, ...manifest.invalid];
  const onDisk = [...readdirSync(OWN_DIR).filter((f) => f.endsWith('.cap')), ...readdirSync(ownPath('invalid')).map((f) => `invalid/${f}`)].sort();
  assert.deepEqual(onDisk, listed.map((c) => c.file).sort());
  let total = 0;
  for (const c of listed) {
    const bytes = readFileSync(ownPath(c.file));
    assert.equal(bytes.length, c.size, c.file);
    assert.equal(sha256(bytes), c.sha256, c.file);
    total += bytes.length;
  }
  assert.ok(total < 1 << 20, `${total} bytes of capsules`);
  assert.ok(manifest.capsules.length >= 8 && manifest.invalid.length >= 30, 'the set covers the valid kinds and every rejection path');
});

test('capsule fixtures: every valid fixture parses to the fields of its manifest entry, with its payload bytes', async () => {
  for (const c of manifest.capsules) {
    const bytes = readFileSync(ownPath(c.file));
    const { report } = await verify(bytes);
    const cap = terms(report.capsule) as Record<string, unknown> & { payloads: Array<Record<string, unknown>>; embeddedDrivers: Array<Record<string, unknown>> };
    for (const k of ['capsuleGuid', 'headerSize', 'flags', 'flagNames', 'oemFlags', 'capsuleImageSize', 'fmpVersion', 'embeddedDriverCount', 'payloadItemCount', 'itemOffsets'] as const) {
      assert.deepEqual(cap[k], c[k], `${c.file}: ${k}`);
    }
    assert.equal(cap.embeddedDrivers.length, c.embeddedDrivers.length, `${c.file}: drivers`);
    c.embeddedDrivers.forEach((d, i) => {
      const { itemOffset, fileOffset, length, sha256: h } = cap.embeddedDrivers[i]!;
      assert.deepEqual({ itemOffset, fileOffset, length, sha256: h }, { itemOffset: d.itemOffset, fileOffset: d.fileOffset, length: d.length, sha256: d.sha256 }, `${c.file}: driver ${i}`);
      const want = prng(d.prngLabel, d.length);
      want.write('MZ', 0, 'latin1');
      assert.ok(bytes.subarray(d.fileOffset, d.fileOffset + d.length).equals(want), `${c.file}: driver ${i} bytes`);
    });
    assert.equal(cap.payloads.length, c.payloads.length, `${c.file}: payloads`);
    c.payloads.forEach((m, k) => {
      const p = cap.payloads[k]!;
      const where = `${c.file} payload ${k}`;
      for (const f of ['imageHeaderVersion', 'updateImageTypeId', 'updateImageIndex', 'updateImageSize', 'updateVendorCodeSize', 'hardwareInstance', 'imageCapsuleSupport',
        'authenticated', 'monotonicCount', 'auth', 'dependency', 'fmpPayloadHeader', 'payloadLength', 'payloadSha256', 'fileOffsets'] as const) {
        assert.deepEqual(p[f], m[f], `${where}: ${f}`);
      }
      assert.equal((p.signature as { status: string }).status, m.authenticated ? 'valid' : 'unsigned', where);
      // The payload is the PRNG's bytes, found at the manifest's offsets (not where the parser says).
      const o = m.fileOffsets as unknown as Record<string, number>;
      assert.ok(bytes.subarray(o.payload, o.end).equals(prng(m.payloadPrngLabel, m.payloadLength)), `${where}: payload bytes`);
      if (m.vendorCodeSha256) assert.equal(sha256(bytes.subarray(o.vendorCode, o.vendorCode! + m.updateVendorCodeSize)), m.vendorCodeSha256, `${where}: vendor code`);
    });
    assert.equal(report.ok, true, c.file);
  }
});

/** The manifest's patch, applied again to the file it names. */
function applyPatch(src: Buffer, patch: OwnPatch[]): Buffer {
  let b = Buffer.from(src);
  for (const op of patch) {
    if (op.op === 'truncate') b = b.subarray(0, op.newLength);
    else if (op.op === 'xor') b[op.at!] = b[op.at!]! ^ op.mask!;
    else if (op.op === 'u64') b.writeBigUInt64LE(BigInt(op.new!), op.at!);
    else if (op.op === 'u32') b.writeUInt32LE(Number(op.new), op.at!);
    else if (op.op === 'u16') b.writeUInt16LE(Number(op.new), op.at!);
    else if (op.op === 'u8') b.writeUInt8(Number(op.new), op.at!);
    else throw new Error(`unknown patch op ${op.op}`);
  }
  return b;
}

test('capsule fixtures: every invalid fixture is rejected with its code and message; each is its source with exactly the listed patch', async () => {
  const seen = new Map<string, number>();
  for (const inv of manifest.invalid) {
    const bytes = readFileSync(ownPath(inv.file));
    if (inv.derivedFrom) assert.ok(applyPatch(readFileSync(ownPath(inv.derivedFrom)), inv.patch).equals(bytes), `${inv.file}: ${inv.derivedFrom} + patch`);
    else assert.ok(inv.built, `${inv.file} says how it was made`);
    let err: unknown = null;
    try {
      err = reportError((await verify(bytes)).report, 'fixture');
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof FwupError, `${inv.file}: rejected (${String(err)})`);
    assert.equal(err.code, inv.error, `${inv.file}: ${err.message}`);
    assert.match(err.message, new RegExp(inv.message), inv.file);
    if (inv.category === 'format') {
      assert.throws(() => parseCapsule(bytes), (e: unknown) => e instanceof FwupError && e.code === 'CAPSULE_INVALID', `${inv.file}: the parser rejects it`);
    } else {
      assert.doesNotThrow(() => parseCapsule(bytes), `${inv.file}: the structure is intact, only the signature check fails`);
    }
    seen.set(inv.error, (seen.get(inv.error) ?? 0) + 1);
  }
  assert.deepEqual([...seen.keys()].sort(), ['CAPSULE_INVALID', 'IMAGE_SIGNATURE_INVALID', 'IMAGE_SIGNATURE_UNKNOWN_KEY']);
});

test('capsule fixtures: openssl verifies every signed payload and rejects the tampered ones (edk2 Pkcs7Verify flags)', async (t) => {
  if (!needs(t, OPENSSL())) return;
  const { dir, cleanup } = await tempDir();
  let verified = 0;
  try {
    for (const c of manifest.capsules) {
      const bytes = await readFile(ownPath(c.file));
      for (const p of c.payloads.filter((x) => x.authenticated)) {
        const o = p.fileOffsets as unknown as { auth: number; certData: number; signedContentStart: number; end: number };
        assert.equal(await opensslVerify(bytes, o, OWN_CERTS.root, dir), 'ok', `${c.file}: openssl verifies it`);
        // The same bytes, trusted to another root, are refused: the check is not vacuous.
        assert.equal(await opensslVerify(bytes, o, OWN_CERTS.untrustedRoot, dir), 'failed', `${c.file}: not against another root`);
        verified++;
      }
    }
    for (const inv of manifest.invalid.filter((i) => i.category === 'auth')) {
      const said = await opensslVerify(await readFile(ownPath(inv.file)), inv.fileOffsets!, OWN_CERTS.root, dir);
      assert.equal(said, inv.signatureVerify, `${inv.file}: openssl ${said}${inv.opensslDivergence ? ` (${inv.opensslDivergence})` : ''}`);
      if (said === 'ok') assert.ok(inv.opensslDivergence, `${inv.file}: an openssl "ok" fwup rejects is explained`);
    }
  } finally {
    await cleanup();
  }
  assert.equal(verified, manifest.capsules.flatMap((c) => c.payloads).filter((p) => p.authenticated).length);
  assert.ok(verified >= 5);
});

test('capsule fixtures: the script makes every capsule and the manifest again, byte for byte (from the committed certificates)', async (t) => {
  if (!needs(t, OPENSSL())) return;
  const { dir, cleanup } = await tempDir();
  try {
    await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'scripts', 'make-capsule-fixtures.mjs'), '--out', dir, '--certs', ownPath('certs')], { cwd: dir });
    for (const f of [...manifest.capsules, ...manifest.invalid].map((c) => c.file).concat('manifest.json')) {
      const ours = await readFile(join(dir, f));
      const committed = await readFile(ownPath(f));
      assert.ok(ours.equals(committed), `${f}: regenerated bytes differ (first at ${ours.findIndex((b, i) => b !== committed[i])})`);
    }
    assert.deepEqual(readdirSync(join(dir, 'invalid')).sort(), readdirSync(ownPath('invalid')).sort());
  } finally {
    await cleanup();
  }
});
