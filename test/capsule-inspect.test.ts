import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fwup, json, tempDir, hashTree } from './helpers/cli.js';
import { runInProcess } from './helpers/in-process.js';
import { EXIT } from '../src/errors/exit-codes.js';
import { exitCodeFor, type ErrorCode } from '../src/errors/codes.js';
import { pemBlocks } from '../src/util/pem.js';
import { EDK2_CORPUS, OPENSSL, needs } from './helpers/requirements.js';
import {
  edk2Path, loadManifest, loadOwnManifest, opensslVerify, ownPath, sha256, OWN_CERTS, TEST_ROOT, type ManifestCapsule, type ManifestPayload,
} from './helpers/capsule-fixtures.js';

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

/** A set of capsule fixtures with a manifest of the corpus's shape: fwup's own, or the edk2 corpus. */
interface FixtureSet {
  name: string;
  path: (rel: string) => string;
  capsules: Array<Omit<ManifestCapsule, 'command' | 'payloads'> & { payloads: ManifestPayload[] }>;
  root: string;
  /** First 8 bytes (hex) of the SHA-256 of the signer certificate's DER. */
  signerKeyId: string;
}

const ownSet = (): FixtureSet => {
  const signerDer = pemBlocks(readFileSync(OWN_CERTS.signer, 'latin1'))[0]!.der;
  return { name: 'own', path: ownPath, capsules: loadOwnManifest().capsules, root: OWN_CERTS.root, signerKeyId: sha256(signerDer).slice(0, 16) };
};
// TestCert's SHA-256 fingerprint starts D1:E8:BE:68:5C:2B:80:67 (the corpus manifest's "certs").
const edk2Set = (): FixtureSet => ({ name: 'edk2', path: edk2Path, capsules: loadManifest().capsules, root: TEST_ROOT(), signerKeyId: 'd1e8be685c2b8067' });

async function inspectEveryField(set: FixtureSet): Promise<void> {
  const { dir, cleanup } = await tempDir();
  try {
    for (const c of set.capsules) {
      const file = await readFile(set.path(c.file));
      assert.equal(sha256(file), c.sha256, `${c.file}: the fixture is the one the manifest describes`);
      const r = await fwup(['inspect', set.path(c.file), '--cert', set.root, '--json'], { cwd: dir });
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
        const where = `${set.name} ${c.file} payload ${k}`;
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
      if (signed) assert.equal(j.signature.keyId, set.signerKeyId);
    }
  } finally {
    await cleanup();
  }
}

test('capsule inspect: every field of manifest.json, for every valid own capsule, through the real CLI', () => inspectEveryField(ownSet()));

test('capsule inspect (edk2 corpus): every field of the corpus manifest, for every capsule GenerateCapsule made', async (t) => {
  if (!needs(t, EDK2_CORPUS())) return;
  await inspectEveryField(edk2Set());
});

/** fwup's verdict and openssl's on every signed payload of `files`; returns how many were compared. */
async function fwupAgreesWithOpenssl(set: FixtureSet, files: string[], dir: string): Promise<number> {
  let checked = 0;
  for (const f of files) {
    const bytes = await readFile(set.path(f));
    const r = await fwup(['inspect', set.path(f), '--cert', set.root, '--json'], { cwd: dir });
    const j = json<CapsuleJson>(r);
    for (const p of j.capsule.payloads.filter((x) => x.authenticated)) {
      const o = p.fileOffsets as unknown as { auth: number; certData: number; signedContentStart: number; end: number };
      const theirs = await opensslVerify(bytes, o, set.root, dir);
      const ours = p.signature.status === 'valid' ? 'ok' : 'failed';
      assert.equal(ours, theirs, `${set.name} ${f} payload ${p.index}: fwup says ${p.signature.status} (${p.signature.reason}), openssl says ${theirs}`);
      checked++;
    }
  }
  return checked;
}

test('capsule inspect: every signed payload is verified alike by fwup and by openssl', async (t) => {
  if (!needs(t, OPENSSL())) return;
  const m = loadOwnManifest();
  const { dir, cleanup } = await tempDir();
  try {
    // Those where fwup is knowingly stricter than OpenSSL (opensslDivergence) are checked in capsule-fixtures.test.ts.
    const auth = m.invalid.filter((i) => i.category === 'auth' && !i.opensslDivergence);
    const checked = await fwupAgreesWithOpenssl(ownSet(), [...m.capsules.map((c) => c.file), ...auth.map((i) => i.file)], dir);
    assert.equal(checked, m.capsules.flatMap((c) => c.payloads).filter((p) => p.authenticated).length + auth.length);
  } finally {
    await cleanup();
  }
});

test('capsule inspect (edk2 corpus): every signed payload is verified alike by fwup and by openssl', async (t) => {
  if (!needs(t, EDK2_CORPUS()) || !needs(t, OPENSSL())) return;
  const manifest = loadManifest();
  const { dir, cleanup } = await tempDir();
  try {
    const files = [...manifest.capsules.map((c) => c.file), ...manifest.invalid.filter((i) => i.category === 'auth').map((i) => i.file)];
    assert.equal(await fwupAgreesWithOpenssl(edk2Set(), files, dir), 6, 'four signed payloads in the valid capsules and two in the auth-invalid ones');
  } finally {
    await cleanup();
  }
});

test('capsule inspect: the invalid own fixtures are rejected with the rule that failed and the right exit code', async () => {
  const m = loadOwnManifest();
  const { dir, cleanup } = await tempDir();
  try {
    const before = await hashTree(dir);
    for (const inv of m.invalid) {
      const code = inv.cliError ?? inv.error;
      const exit = exitCodeFor(code as ErrorCode);
      const r = await fwup(['inspect', ownPath(inv.file), '--cert', OWN_CERTS.root], { cwd: dir });
      assert.equal(r.code, exit, `${inv.file}: ${r.stderr}`);
      if (!inv.cliError) assert.match(r.stderr, new RegExp(inv.message), inv.file);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${inv.file}: no stack trace`);
      // --json in process (the same main(), faster than another child process).
      const e = (JSON.parse((await runInProcess(['inspect', ownPath(inv.file), '--cert', OWN_CERTS.root, '--json'], dir)).stdout) as CapsuleJson).error!;
      assert.equal(e.code, code, inv.file);
      assert.equal(e.exitCode, exit);
    }
    assert.equal(await hashTree(dir), before, 'inspect writes nothing');
  } finally {
    await cleanup();
  }
});

test('capsule inspect (edk2 corpus): the invalid fixtures are rejected with the rule that failed and the right exit code', async (t) => {
  if (!needs(t, EDK2_CORPUS())) return;
  const manifest = loadManifest();
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
    for (const inv of manifest.invalid) {
      assert.equal(sha256(await readFile(edk2Path(inv.file))), inv.sha256, inv.file);
      const rule = rules[inv.file];
      assert.ok(rule, `a rule is expected for ${inv.file}`);
      const r = await fwup(['inspect', edk2Path(inv.file), '--cert', TEST_ROOT()], { cwd: dir });
      const code = inv.category === 'format' ? EXIT.INVALID_IMAGE : EXIT.SIGNATURE;
      assert.equal(r.code, code, `${inv.file}: ${r.stderr}`);
      assert.match(r.stderr, rule, inv.file);
      const e = json<CapsuleJson>(await fwup(['inspect', edk2Path(inv.file), '--cert', TEST_ROOT(), '--json'], { cwd: dir })).error!;
      assert.equal(e.code, inv.category === 'format' ? 'CAPSULE_INVALID' : 'IMAGE_SIGNATURE_INVALID', inv.file);
      assert.equal(e.exitCode, code);
    }
  } finally {
    await cleanup();
  }
});

test('capsule inspect: verdicts without --cert, with a partial chain, and with an untrusted root', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const signed = ownPath('signed-sha256-mc.cap');
    let r = await fwup(['inspect', signed, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    let j = json<CapsuleJson>(r);
    assert.equal(j.capsule.payloads[0]!.signature.status, 'not-verified');
    assert.equal(j.signature.status, 'not-verified');

    // edk2 allows a partial chain: the intermediate, or the signer itself, may be the trust anchor.
    // A file holding a private key is refused as a trust anchor, and the key is never printed.
    writeFileSync(join(dir, 'signer-and-key.pem'), readFileSync(OWN_CERTS.signer, 'latin1') + readFileSync(OWN_CERTS.signerKey, 'latin1'));
    for (const withKey of [OWN_CERTS.signerKey, 'signer-and-key.pem']) {
      r = await fwup(['inspect', signed, '--cert', withKey, '--json'], { cwd: dir });
      assert.equal(r.code, EXIT.USAGE, r.stdout);
      assert.equal(json<CapsuleJson>(r).error!.code, 'KEY_INVALID');
      assert.match(json<CapsuleJson>(r).error!.message, /is a private key/);
      assert.doesNotMatch(r.stdout, /PRIVATE KEY|MII/, 'the key is never printed');
    }
    for (const anchor of [OWN_CERTS.intermediate, OWN_CERTS.signer]) {
      r = await fwup(['inspect', signed, '--cert', anchor, '--json'], { cwd: dir });
      assert.equal(r.code, 0, `${anchor}: ${r.stdout}`);
      assert.equal(json<CapsuleJson>(r).capsule.payloads[0]!.signature.status, 'valid');
    }

    // A self-signed CA that signed nothing here: the signature is good, the chain is not trusted.
    r = await fwup(['inspect', signed, '--cert', OWN_CERTS.untrustedRoot, '--json'], { cwd: dir });
    assert.equal(r.code, EXIT.SIGNATURE, r.stdout);
    j = json<CapsuleJson>(r);
    assert.equal(j.capsule.payloads[0]!.signature.status, 'unknown-key');
    assert.equal(j.error!.code, 'IMAGE_SIGNATURE_UNKNOWN_KEY');
    assert.match(j.error!.message, /CN=fwup TEST ONLY signer.*not trusted/);

    // The mixed capsule: one payload signed, one not; verdicts are per payload.
    r = await fwup(['inspect', ownPath('2payload-mixed.cap'), '--cert', OWN_CERTS.root, '--json'], { cwd: dir });
    j = json<CapsuleJson>(r);
    assert.deepEqual(j.capsule.payloads.map((p) => p.signature.status), ['valid', 'unsigned']);

    // Text output names the fields an operator looks for.
    r = await fwup(['inspect', ownPath('unsigned-persist-reset.cap')], { cwd: dir });
    assert.equal(r.code, 0);
    for (const re of [/flags\s+0x000500A5 \(PersistAcrossReset, InitiateReset\)/, /oem flags\s+0x00A5/, /hardware instance\s+0x00A0000000000005/,
      /fw version\s+0x00030001/, /authenticated\s+no/, /signature\s+unsigned/, /verdict\s+OK/]) {
      assert.match(r.stdout, re);
    }
    r = await fwup(['inspect', signed, '--cert', OWN_CERTS.root], { cwd: dir });
    assert.match(r.stdout, /monotonic count\s+0x0020000000000001 \(9007199254740993\)/);
    assert.match(r.stdout, /signature\s+valid \(signer .*CN=fwup TEST ONLY signer/);

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
