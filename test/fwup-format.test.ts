import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildFwupHeader, fwupHeaderLayout, parseFwupHeader, fwupReport, TLV_CRITICAL, tlvLayout, LIMITS } from '../src/image/fwup-format.js';
import { generateKeyPair, parsePrivateKey, parsePublicKey } from '../src/image/keys.js';
import { readImageFile } from '../src/core/image-reader.js';
import { pack } from '../src/core/pack.js';
import { quietContext } from '../src/core/context.js';
import { Digester } from '../src/util/digest.js';
import { crc32 } from '../src/util/crc32.js';
import { FwupError } from '../src/errors/fwup-error.js';
import { exitCodeFor } from '../src/errors/codes.js';
import { REPO_ROOT, tempDir, prngBytes, xorByte } from './helpers/cli.js';
import { FIXTURE_IMAGES, fixturePayload } from './helpers/fixture-spec.js';
import { writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { fwupFormat } from '../src/image/formats/fwup.js';
import { BufferSource } from '../src/image/byte-source.js';

const FIX = join(REPO_ROOT, 'fixtures');
const manifest = JSON.parse(await readFile(join(FIX, 'images', 'manifest.json'), 'utf8')) as Array<{ file: string; sha256: string; size: number; payloadSha256: string }>;

test('round trip: every fixture image packs again to identical bytes and parses back', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const ctx = quietContext(FIX);
    assert.equal(manifest.length, FIXTURE_IMAGES.length);
    for (const spec of FIXTURE_IMAGES) {
      const m = manifest.find((x) => x.file === spec.file)!;
      const committed = await readFile(join(FIX, 'images', spec.file));
      assert.equal(sha(committed), m.sha256, `${spec.file}: committed bytes match the manifest`);
      // payload file on disk equals its generator
      assert.deepEqual(await readFile(join(FIX, 'payloads', spec.payload.name)), fixturePayload(spec.payload));
      const out = join(dir, spec.file);
      await pack(ctx, {
        payload: join(FIX, 'payloads', spec.payload.name),
        output: out,
        meta: { ...spec.meta, buildTime: null },
        ...(spec.signKey ? { signKey: join(FIX, 'keys', `${spec.signKey}.key`) } : {}),
      });
      const again = await readFile(out);
      assert.ok(again.equals(committed), `${spec.file}: pack reproduces the committed bytes`);
      // parse -> serialize -> byte compare (header), and the report carries every field
      const header = parseFwupHeader(committed);
      const rebuilt = buildFwupHeader(header, { length: header.payloadLength, crc32: header.payloadCrc32, sha256: header.payloadSha256 },
        spec.signKey ? parsePrivateKey(await readFile(join(FIX, 'keys', `${spec.signKey}.key`)), 'k') : undefined);
      assert.ok(rebuilt.equals(committed.subarray(0, header.headerSize)), `${spec.file}: header re-serializes identically`);
      const keys = [parsePublicKey(await readFile(join(FIX, 'keys', 'test-release.pub')), 'test-release.pub')];
      const r = (await readImageFile(join(FIX, 'images', spec.file), { trust: { keys, certs: null } })).report;
      assert.equal(r.sha256, m.payloadSha256);
      assert.equal(r.version, spec.meta.version);
      assert.equal(r.versionNumber, spec.meta.versionNumber);
      assert.equal(r.lowestSupportedVersion, spec.meta.lowestSupportedVersion);
      assert.equal(r.securityVersion, spec.meta.securityVersion);
      assert.equal(r.platform, spec.meta.platform);
      assert.equal(r.payloadSize, spec.payload.size);
      assert.equal(r.description, spec.meta.description);
      const expected = spec.signKey === null ? 'unsigned' : spec.signKey === 'test-release' ? 'valid' : 'unknown-key';
      assert.equal(r.signature.status, expected, spec.file);
    }
  } finally {
    await cleanup();
  }
});

function sha(b: Buffer): string {
  const d = new Digester();
  d.update(b);
  return d.digest().sha256;
}

// ---- rejection paths, each with its code and exit code ----

const pair = generateKeyPair();
const signer = parsePrivateKey(pair.privatePem, 'k');
const pub = parsePublicKey(pair.publicPem, 'k.pub');

function makeImage(payload = prngBytes(7, 5000), sign = true, description: string | null = 'demo'): Buffer {
  const d = new Digester().update(payload).digest();
  const header = buildFwupHeader(
    { platform: 'fwup-emu', version: '1.0.0', versionNumber: 0x01000000, lowestSupportedVersion: 0, securityVersion: 3, flags: 0, buildTime: new Date(1_700_000_000_000), description },
    d,
    sign ? signer : undefined,
  );
  return Buffer.concat([header, payload]);
}

/** Recompute the header CRC after tampering, to reach the checks behind it. */
function fixCrc(img: Buffer): Buffer {
  const size = img.readUInt32LE(fwupHeaderLayout.offsetOf('headerSize'));
  const at = fwupHeaderLayout.offsetOf('headerCrc32');
  const h = Buffer.from(img.subarray(0, size));
  h.writeUInt32LE(0, at);
  img.writeUInt32LE(crc32(h), at);
  return img;
}

async function readBytes(bytes: Buffer, keys = [pub]) {
  const { dir, cleanup } = await tempDir();
  try {
    const p = join(dir, 'img.fwup');
    await writeFile(p, bytes);
    return await readImageFile(p, { trust: { keys, certs: null } });
  } finally {
    await cleanup();
  }
}

async function rejects(bytes: Buffer, code: string, message: RegExp) {
  await assert.rejects(readBytes(bytes), (e: unknown) => {
    assert.ok(e instanceof FwupError, `expected FwupError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

test('reject: bad magic is an unknown format (exit 5)', async () => {
  const img = makeImage();
  xorByte(img, 0, 0xff);
  await rejects(img, 'IMAGE_UNKNOWN_FORMAT', /not a known image format/);
  assert.equal(exitCodeFor('IMAGE_UNKNOWN_FORMAT'), 5);
});

test('reject: empty file and a header cut short', async () => {
  await rejects(Buffer.alloc(0), 'IMAGE_UNKNOWN_FORMAT', /the file is empty/);
  await rejects(makeImage().subarray(0, 100), 'IMAGE_TRUNCATED', /FwupHeader needs 144 bytes/);
  const img = makeImage();
  const size = img.readUInt32LE(12);
  await rejects(img.subarray(0, size - 10), 'IMAGE_TRUNCATED', /header announces \d+ bytes but the source holds only/);
});

test('reject: truncated payload and trailing bytes', async () => {
  const img = makeImage();
  await rejects(img.subarray(0, img.length - 1), 'IMAGE_TRUNCATED', /payload truncated by 1 bytes/);
  await rejects(Buffer.concat([img, Buffer.from([0])]), 'IMAGE_BAD_FIELD', /1 unexpected bytes after the payload/);
});

test('reject: length fields that overflow or point past the end', async () => {
  const big = makeImage();
  big.writeBigUInt64LE(2n ** 63n, fwupHeaderLayout.offsetOf('payloadLength'));
  await rejects(fixCrc(big), 'IMAGE_BAD_FIELD', /payloadLength \d+ is larger than/);
  const past = makeImage();
  past.writeBigUInt64LE(BigInt(past.length), fwupHeaderLayout.offsetOf('payloadLength'));
  await rejects(fixCrc(past), 'IMAGE_TRUNCATED', /header announces/);
  const hs = makeImage();
  hs.writeUInt32LE(0xffffffff, fwupHeaderLayout.offsetOf('headerSize'));
  await rejects(hs, 'IMAGE_BAD_FIELD', /headerSize is 4294967295, above the maximum 65536/);
  const small = makeImage();
  small.writeUInt32LE(100, fwupHeaderLayout.offsetOf('headerSize'));
  await rejects(small, 'IMAGE_BAD_FIELD', /below the minimum 144/);
  // A TLV whose length runs past the header
  const tlv = makeImage(undefined, false);
  const first = fwupHeaderLayout.size;
  tlv.writeUInt16LE(0xfff0, first + 2);
  await rejects(fixCrc(tlv), 'IMAGE_BAD_FIELD', /runs \d+ bytes past the header/);
});

test('reject: header CRC mismatch (exit 6)', async () => {
  const img = makeImage();
  xorByte(img, fwupHeaderLayout.offsetOf('securityVersion'), 1);
  await rejects(img, 'IMAGE_HEADER_CRC', /header CRC-32 mismatch/);
  assert.equal(exitCodeFor('IMAGE_HEADER_CRC'), 6);
});

test('reject: payload CRC and SHA-256 mismatch are reported with the full header (exit 6)', async () => {
  const img = makeImage();
  xorByte(img, img.length - 1, 0x80);
  const r = (await readBytes(img)).report;
  assert.equal(r.checks.payloadCrc, 'mismatch');
  assert.equal(r.checks.sha256, 'mismatch');
  assert.equal(r.ok, false);
  // Only the SHA-256 field changed (CRC fixed): the SHA check alone catches it.
  const sh = makeImage();
  xorByte(sh, fwupHeaderLayout.offsetOf('payloadSha256'), 1);
  const r2 = (await readBytes(fixCrc(sh), [])).report;
  assert.equal(r2.checks.payloadCrc, 'ok');
  assert.equal(r2.checks.sha256, 'mismatch');
});

test('payloadCrc false (the firmware): the CRC is left out and reported n/a, the SHA-256 still decides', async () => {
  const trust = { keys: [pub], certs: null };
  const good = makeImage();
  const v = await fwupFormat.verify(new BufferSource(good, 'img'), { trust, payloadCrc: false });
  assert.equal(v.report.checks.payloadCrc, 'n/a');
  assert.equal(v.report.checks.sha256, 'ok');
  assert.equal(v.report.ok, true);
  assert.equal(v.fileSha256, createHash('sha256').update(good).digest('hex'));
  // A damaged payload byte fails on the SHA-256 alone; with the CRC on, both report it.
  const bad = Buffer.from(good);
  xorByte(bad, bad.length - 1, 0x80);
  const r = (await fwupFormat.verify(new BufferSource(bad, 'img'), { trust, payloadCrc: false })).report;
  assert.deepEqual([r.checks.payloadCrc, r.checks.sha256, r.ok], ['n/a', 'mismatch', false]);
  const both = (await fwupFormat.verify(new BufferSource(bad, 'img'), { trust })).report;
  assert.deepEqual([both.checks.payloadCrc, both.checks.sha256, both.ok], ['mismatch', 'mismatch', false]);
});

test('reject: a signed header changed and its CRC recomputed fails the signature (exit 7)', async () => {
  const img = makeImage();
  img.writeUInt32LE(99, fwupHeaderLayout.offsetOf('securityVersion'));
  const r = (await readBytes(fixCrc(img))).report;
  assert.equal(r.signature.status, 'invalid');
  assert.equal(r.signature.valid, false);
  assert.equal(r.ok, false);
  assert.equal(exitCodeFor('IMAGE_SIGNATURE_INVALID'), 7);
});

test('reject: a signature by an unknown key (exit 7)', async () => {
  const other = generateKeyPair();
  const r = (await readBytes(makeImage(), [parsePublicKey(other.publicPem, 'other')])).report;
  assert.equal(r.signature.status, 'unknown-key');
  assert.equal(r.ok, false);
  assert.equal(exitCodeFor('IMAGE_SIGNATURE_UNKNOWN_KEY'), 7);
});

test('reject: oversize strings and unknown fields', async () => {
  assert.throws(() => makeImage(undefined, true, 'x'.repeat(LIMITS.maxDescriptionBytes + 1)), /description is 1025 bytes/);
  // A description TLV longer than the limit, built by hand
  const payload = Buffer.from('p');
  const d = new Digester().update(payload).digest();
  const hdr = buildFwupHeader({ platform: 'p', version: '1', versionNumber: 1, lowestSupportedVersion: 0, securityVersion: 0, flags: 0, buildTime: null, description: 'a' }, d);
  const longDesc = Buffer.alloc(LIMITS.maxDescriptionBytes + 1, 0x61);
  const tlv = tlvLayout.serialize({ type: 2, length: longDesc.length });
  const head = Buffer.concat([hdr.subarray(0, fwupHeaderLayout.size), tlv, longDesc]);
  head.writeUInt32LE(head.length, fwupHeaderLayout.offsetOf('headerSize'));
  await rejects(fixCrc(Buffer.concat([head, payload])), 'IMAGE_BAD_FIELD', /description TLV is 1025 bytes/);
  // Platform text field with junk after its NUL
  const plat = makeImage();
  plat[fwupHeaderLayout.offsetOf('platform') + 20] = 0x41;
  await rejects(fixCrc(plat), 'IMAGE_BAD_FIELD', /platform has bytes after its terminating NUL/);
  // Unknown flag bits
  const flags = makeImage();
  flags.writeUInt32LE(0x80, fwupHeaderLayout.offsetOf('flags'));
  await rejects(fixCrc(flags), 'IMAGE_BAD_FIELD', /unknown bits/);
  // Unknown critical TLV
  const crit = Buffer.concat([hdr.subarray(0, fwupHeaderLayout.size), tlvLayout.serialize({ type: TLV_CRITICAL | 0x42, length: 0 })]);
  crit.writeUInt32LE(crit.length, fwupHeaderLayout.offsetOf('headerSize'));
  await rejects(fixCrc(Buffer.concat([crit, payload])), 'IMAGE_BAD_FIELD', /unknown critical TLV 0x8042/);
  // lowest supported above the version
  const lsv = makeImage();
  lsv.writeUInt32LE(0x7fffffff, fwupHeaderLayout.offsetOf('lowestSupportedVersion'));
  await rejects(fixCrc(lsv), 'IMAGE_BAD_FIELD', /lowest supported version/);
});

test('unknown non-critical TLVs are skipped; a TLV after the signature is refused', async () => {
  const payload = Buffer.from('payload');
  const d = new Digester().update(payload).digest();
  const hdr = buildFwupHeader({ platform: 'p', version: '1', versionNumber: 1, lowestSupportedVersion: 0, securityVersion: 0, flags: 0, buildTime: null, description: null }, d);
  const extra = Buffer.concat([hdr, tlvLayout.serialize({ type: 0x0042, length: 2 }), Buffer.from([1, 2])]);
  extra.writeUInt32LE(extra.length, fwupHeaderLayout.offsetOf('headerSize'));
  const ok = (await readBytes(fixCrc(Buffer.concat([extra, payload])), [])).report;
  assert.equal(ok.checks.sha256, 'ok');
  const signed = makeImage(payload);
  const size = signed.readUInt32LE(12);
  const after = Buffer.concat([signed.subarray(0, size), tlvLayout.serialize({ type: 0x0042, length: 0 })]);
  after.writeUInt32LE(after.length, fwupHeaderLayout.offsetOf('headerSize'));
  await rejects(fixCrc(Buffer.concat([after, payload])), 'IMAGE_BAD_FIELD', /follows the signature/);
});

test('every single-bit flip of a signed image is detected', async () => {
  const img = makeImage(prngBytes(3, 300));
  const { dir, cleanup } = await tempDir();
  try {
    const p = join(dir, 'x.fwup');
    let detected = 0;
    for (let bit = 0; bit < img.length * 8; bit++) {
      const m = Buffer.from(img);
      xorByte(m, bit >> 3, 1 << (bit & 7));
      await writeFile(p, m);
      try {
        const r = (await readImageFile(p, { trust: { keys: [pub], certs: null } })).report;
        assert.equal(r.ok, false, `bit ${bit} went unnoticed`);
        detected++;
      } catch (e) {
        assert.ok(e instanceof FwupError, `bit ${bit}: ${String(e)}`);
        assert.notEqual(exitCodeFor(e.code), 0);
        detected++;
      }
    }
    assert.equal(detected, img.length * 8);
  } finally {
    await cleanup();
  }
});

test('fwupReport marks a not-verified signature as acceptable but says so', () => {
  const img = makeImage();
  const h = parseFwupHeader(img);
  const d = new Digester().update(img.subarray(h.headerSize)).digest();
  const r = fwupReport(h, d, null);
  assert.equal(r.signature.status, 'not-verified');
  assert.equal(r.ok, true);
});
