import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fwup, json, tempDir, hashTree } from './helpers/cli.js';
import { EXIT } from '../src/errors/exit-codes.js';
import { edk2Path, loadManifest, opensslVerify, sha256, TEST_CERT, TEST_ROOT, TEST_SUB, type ManifestPayload } from './helpers/capsule-fixtures.js';

interface PayloadJson extends Omit<ManifestPayload, 'payloadPrngLabel' | 'signatureVerify'> {
  index: number;
  signature: { status: string; signer: string | null; keyId: string | null; reason: string | null };
}
interface CapsuleJson {
  format: string;
  version: string;
  versionNumber: number;
  lowestSupportedVersion: number;
  platform: string;
  flags: string[];
  payloadSize: number;
  sha256: string;
  totalSize: number;
  ok: boolean;
  signature: { present: boolean; status: string; keyId: string | null };
  capsule: Record<string, unknown> & { payloads: PayloadJson[]; embeddedDrivers: Array<Record<string, unknown>> };
  error?: { code: string; message: string; exitCode: number };
}

const manifest = loadManifest();
const openssl = (() => {
  try {
    return execFileSync('openssl', ['version']).toString().trim();
  } catch {
    throw new Error('openssl is needed for the PKCS#7 cross-checks (Debian package "openssl"; .ci/run installs it)');
  }
})();

test('capsule inspect: every field of manifest.json, for every valid capsule, through the real CLI', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    for (const c of manifest.capsules) {
      const file = await readFile(edk2Path(c.file));
      assert.equal(sha256(file), c.sha256, `${c.file}: the fixture is the one the manifest describes`);
      const r = await fwup(['inspect', edk2Path(c.file), '--cert', TEST_ROOT(), '--json'], { cwd: dir });
      assert.equal(r.code, 0, `${c.file}: ${r.stdout}${r.stderr}`);
      const j = json<CapsuleJson>(r);
      const cap = j.capsule;
      for (const k of ['capsuleGuid', 'headerSize', 'flags', 'flagNames', 'oemFlags', 'capsuleImageSize', 'fmpVersion', 'embeddedDriverCount', 'payloadItemCount', 'itemOffsets'] as const) {
        assert.deepEqual(cap[k], c[k], `${c.file}: ${k}`);
      }
      assert.equal(cap.embeddedDrivers.length, c.embeddedDrivers.length);
      c.embeddedDrivers.forEach((d, i) => {
        const got = cap.embeddedDrivers[i]!;
        assert.deepEqual({ itemOffset: got.itemOffset, fileOffset: got.fileOffset, length: got.length, sha256: got.sha256 },
          { itemOffset: d.itemOffset, fileOffset: d.fileOffset, length: d.length, sha256: d.sha256 }, `${c.file}: driver ${i}`);
        assert.equal(file.subarray(d.fileOffset, d.fileOffset + 2).toString('latin1'), d.firstTwoBytes);
      });
      assert.equal(cap.payloads.length, c.payloads.length);
      c.payloads.forEach((m, k) => {
        const p = cap.payloads[k]!;
        const where = `${c.file} payload ${k}`;
        for (const f of ['imageHeaderVersion', 'updateImageTypeId', 'updateImageIndex', 'updateImageSize', 'updateVendorCodeSize', 'hardwareInstance',
          'imageCapsuleSupport', 'authenticated', 'monotonicCount', 'auth', 'fmpPayloadHeader', 'payloadLength', 'payloadSha256', 'fileOffsets'] as const) {
          assert.deepEqual(p[f], m[f], `${where}: ${f}`);
        }
        assert.equal(p.signature.status, m.signatureVerify === 'ok' ? 'valid' : 'unsigned', `${where}: verdict`);
        // 64-bit values survive exactly (2^53 + 1 and 0x00A0000000000005 are not exact as JS numbers).
        if (m.monotonicCount) assert.equal(BigInt(p.monotonicCount!), BigInt(m.monotonicCount));
        assert.equal(BigInt(p.hardwareInstance), BigInt(m.hardwareInstance));
      });
      // The format-independent fields describe the first payload.
      const first = c.payloads[0]!;
      assert.equal(j.format, 'capsule');
      assert.equal(j.versionNumber, first.fmpPayloadHeader.fwVersion);
      assert.equal(j.lowestSupportedVersion, first.fmpPayloadHeader.lowestSupportedVersion);
      assert.equal(j.platform, first.updateImageTypeId);
      assert.deepEqual(j.flags, c.flagNames);
      assert.equal(j.payloadSize, first.payloadLength);
      assert.equal(j.sha256, first.payloadSha256);
      assert.equal(j.totalSize, c.size);
      assert.equal(j.ok, true);
      const signed = c.payloads.some((p) => p.authenticated);
      assert.equal(j.signature.status, signed ? 'valid' : 'unsigned');
      // TestCert's SHA-256 fingerprint starts D1:E8:BE:68:5C:2B:80:67 (manifest "certs").
      if (signed) assert.equal(j.signature.keyId, 'd1e8be685c2b8067');
    }
  } finally {
    await cleanup();
  }
});

test('capsule inspect: every signed payload is verified alike by fwup and by openssl', async () => {
  const { dir, cleanup } = await tempDir();
  let checked = 0;
  try {
    const files = [...manifest.capsules.map((c) => c.file), ...manifest.invalid.filter((i) => i.category === 'auth').map((i) => i.file)];
    for (const f of files) {
      const bytes = await readFile(edk2Path(f));
      const r = await fwup(['inspect', edk2Path(f), '--cert', TEST_ROOT(), '--json'], { cwd: dir });
      const j = json<CapsuleJson>(r);
      for (const p of j.capsule.payloads.filter((x) => x.authenticated)) {
        const o = p.fileOffsets as unknown as { auth: number; certData: number; signedContentStart: number; end: number };
        const theirs = await opensslVerify(bytes, o, TEST_ROOT(), dir);
        const ours = p.signature.status === 'valid' ? 'ok' : 'failed';
        assert.equal(ours, theirs, `${f} payload ${p.index}: fwup says ${p.signature.status} (${p.signature.reason}), ${openssl} says ${theirs}`);
        checked++;
      }
    }
  } finally {
    await cleanup();
  }
  assert.equal(checked, 6, 'four signed payloads in the valid capsules and two in the auth-invalid ones');
});

test('capsule inspect: the invalid fixtures are rejected with the rule that failed and the right exit code', async () => {
  const { dir, cleanup } = await tempDir();
  // The rule each format-invalid file must name (its edk2Check in manifest.json).
  const rules: Record<string, RegExp> = {
    'invalid/trunc-in-capsule-header.cap': /file is 26 bytes, shorter than the 28-byte EFI_CAPSULE_HEADER/,
    'invalid/trunc-in-image-header.cap': /CapsuleImageSize \(4656\) != file size \(1292\)/,
    'invalid/trunc-in-pkcs7.cap': /CapsuleImageSize \(9061\) != file size \(1052\)/,
    'invalid/capsule-image-size-mismatch.cap': /CapsuleImageSize \(4720\) != file size \(4208\)/,
    'invalid/item-offsets-decreasing.cap': /ItemOffsetList\[1\] <= ItemOffsetList\[0\]: offsets must strictly increase/,
    'invalid/update-image-size-inconsistent.cap': /payload 0: item size 5619 != image header 48 \+ UpdateImageSize 5579 \+ UpdateVendorCodeSize 0/,
    'invalid/mss1-signature-altered.cap': /payload 0: FMP_PAYLOAD_HEADER\.Signature 0x4D535331 \("1SSM"\) != 'MSS1'/,
    'invalid/initiate-reset-without-persist.cap': /Flags 0x000400A5: InitiateReset requires PersistAcrossReset/,
    'invalid/signed-payload-byte-flipped.cap': /payload 0: PKCS#7 signature does not verify: .*[Mm]essage digest/,
    'invalid/monotonic-count-altered.cap': /payload 0: PKCS#7 signature does not verify: .*[Mm]essage digest/,
  };
  try {
    const before = await hashTree(dir);
    for (const inv of manifest.invalid) {
      assert.equal(sha256(await readFile(edk2Path(inv.file))), inv.sha256, inv.file);
      const rule = rules[inv.file];
      assert.ok(rule, `a rule is expected for ${inv.file}`);
      const r = await fwup(['inspect', edk2Path(inv.file), '--cert', TEST_ROOT()], { cwd: dir });
      const code = inv.category === 'format' ? EXIT.INVALID_IMAGE : EXIT.SIGNATURE;
      assert.equal(r.code, code, `${inv.file}: ${r.stderr}`);
      assert.match(r.stderr, rule, inv.file);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${inv.file}: no stack trace`);
      const j = await fwup(['inspect', edk2Path(inv.file), '--cert', TEST_ROOT(), '--json'], { cwd: dir });
      const e = json<CapsuleJson>(j).error!;
      assert.equal(e.code, inv.category === 'format' ? 'CAPSULE_INVALID' : 'IMAGE_SIGNATURE_INVALID', inv.file);
      assert.equal(e.exitCode, code);
    }
    assert.equal(await hashTree(dir), before, 'inspect writes nothing');
  } finally {
    await cleanup();
  }
});

test('capsule inspect: verdicts without --cert, with a partial chain, and with an untrusted root', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const signed = edk2Path('signed-sha256-mc.cap');
    let r = await fwup(['inspect', signed, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    let j = json<CapsuleJson>(r);
    assert.equal(j.capsule.payloads[0]!.signature.status, 'not-verified');
    assert.equal(j.signature.status, 'not-verified');

    // edk2 allows a partial chain: the intermediate, or the signer itself, may be the trust anchor.
    // TestCert.pem holds the signer's private key too, and a trust anchor must not: it is refused, and
    // its certificate alone is trusted.
    r = await fwup(['inspect', signed, '--cert', TEST_CERT(), '--json'], { cwd: dir });
    assert.equal(r.code, EXIT.USAGE, r.stdout);
    assert.equal(json<CapsuleJson>(r).error!.code, 'KEY_INVALID');
    assert.match(json<CapsuleJson>(r).error!.message, /is a private key/);
    assert.doesNotMatch(r.stdout, /PRIVATE KEY|MII/, 'the key is never printed');
    const signerOnly = join(dir, 'signer-cert.pem');
    writeFileSync(signerOnly, /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/.exec(readFileSync(TEST_CERT(), 'utf8'))![0]);
    for (const anchor of [TEST_SUB(), signerOnly]) {
      r = await fwup(['inspect', signed, '--cert', anchor, '--json'], { cwd: dir });
      assert.equal(r.code, 0, `${anchor}: ${r.stdout}`);
      assert.equal(json<CapsuleJson>(r).capsule.payloads[0]!.signature.status, 'valid');
    }

    // A self-signed CA that signed nothing here: the signature is good, the chain is not trusted.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'other.key'), '-out', join(dir, 'other.pem'),
      '-subj', '/CN=Other Root', '-days', '1', '-addext', 'basicConstraints=critical,CA:TRUE'], { stdio: 'ignore' });
    r = await fwup(['inspect', signed, '--cert', 'other.pem', '--json'], { cwd: dir });
    assert.equal(r.code, EXIT.SIGNATURE, r.stdout);
    j = json<CapsuleJson>(r);
    assert.equal(j.capsule.payloads[0]!.signature.status, 'unknown-key');
    assert.equal(j.error!.code, 'IMAGE_SIGNATURE_UNKNOWN_KEY');
    assert.match(j.error!.message, /CN=TestCert.*not trusted/);

    // The mixed capsule: one payload signed, one not; verdicts are per payload.
    r = await fwup(['inspect', edk2Path('json-2payload-mixed.cap'), '--cert', TEST_ROOT(), '--json'], { cwd: dir });
    j = json<CapsuleJson>(r);
    assert.deepEqual(j.capsule.payloads.map((p) => p.signature.status), ['valid', 'unsigned']);

    // Text output names the fields an operator looks for.
    r = await fwup(['inspect', edk2Path('unsigned-persist-reset.cap')], { cwd: dir });
    assert.equal(r.code, 0);
    for (const re of [/flags\s+0x000500A5 \(PersistAcrossReset, InitiateReset\)/, /oem flags\s+0x00A5/, /hardware instance\s+0x00A0000000000005/,
      /fw version\s+0x00030001/, /authenticated\s+no/, /signature\s+unsigned/, /verdict\s+OK/]) {
      assert.match(r.stdout, re);
    }
    r = await fwup(['inspect', signed, '--cert', TEST_ROOT()], { cwd: dir });
    assert.match(r.stdout, /monotonic count\s+0x0020000000000001 \(9007199254740993\)/);
    assert.match(r.stdout, /signature\s+valid \(signer .*CN=TestCert/);

    // Certificate files that are missing or not certificates.
    r = await fwup(['inspect', signed, '--cert', 'nope.pem'], { cwd: dir });
    assert.equal(r.code, EXIT.NOT_FOUND);
    r = await fwup(['inspect', signed, '--cert', signed], { cwd: dir });
    assert.equal(r.code, EXIT.USAGE);
    assert.match(r.stderr, /is not an X\.509 certificate/);
  } finally {
    await cleanup();
  }
});
