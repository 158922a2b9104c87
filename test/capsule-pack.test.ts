import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fwup, hashTree, json, tempDir, xorByte } from './helpers/cli.js';
import { EDK2_CORPUS, OPENSSL, needs } from './helpers/requirements.js';
import {
  edk2Path, EDK2_DIR, loadManifest, loadOwnManifest, opensslVerify, ownPath, OWN_CERTS, prng, sha256, TEST_ROOT, type OwnCapsule,
} from './helpers/capsule-fixtures.js';
import { EXIT } from '../src/errors/exit-codes.js';

interface PayloadJson {
  index: number;
  updateImageTypeId: string;
  updateImageIndex: number;
  hardwareInstance: string;
  imageCapsuleSupport: string;
  authenticated: boolean;
  monotonicCount: string | null;
  fmpPayloadHeader: { fwVersion: number; lowestSupportedVersion: number };
  payloadLength: number;
  payloadSha256: string;
  fileOffsets: { auth: number; certData: number; signedContentStart: number; end: number };
  signature: { status: string; signer: string | null };
  auth: { digestAlgorithm: string } | null;
}
interface InspectJson {
  capsule: {
    flags: number;
    flagNames: string[];
    oemFlags: number;
    embeddedDriverCount: number;
    payloadItemCount: number;
    embeddedDrivers: Array<{ length: number; sha256: string }>;
    payloads: PayloadJson[];
  };
  error?: { code: string; message: string };
}

/** A build folder like the one the corpus was made in: payloads/ from the PRNG, certs/ linked. */
async function buildFolder(dir: string): Promise<void> {
  const manifest = loadManifest();
  await mkdir(join(dir, 'payloads'));
  await symlink(join(EDK2_DIR, 'certs'), join(dir, 'certs'));
  for (const c of manifest.capsules) {
    for (const p of c.payloads) await writeFile(join(dir, 'payloads', `${p.payloadPrngLabel.split('/')[1]}.bin`), prng(p.payloadPrngLabel, p.payloadLength));
    for (const d of c.embeddedDrivers) {
      const bytes = prng(d.prngLabel, d.length);
      bytes.write('MZ', 0, 'latin1');
      await writeFile(join(dir, 'payloads', `${d.prngLabel.split('/')[1]}.bin`), bytes);
    }
  }
}

/** GenerateCapsule's command line (from manifest.json) as the same `fwup pack` command. */
function packArgsFor(command: string): string[] {
  const words = command.split(/\s+/).slice(1);
  const out = ['pack', '--format', 'capsule'];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '-e') continue;
    if (w === '--fw-version') out.push('--version', words[++i]!);
    else if (w.startsWith('-')) out.push(w, words[++i]!);
    else out.push(w);
  }
  return out;
}

test('capsule pack (edk2 corpus): every unsigned fixture is rebuilt byte for byte from its GenerateCapsule command', async (t) => {
  if (!needs(t, EDK2_CORPUS())) return;
  const manifest = loadManifest();
  const { dir, cleanup } = await tempDir();
  try {
    await buildFolder(dir);
    const reproducible = manifest.capsules.filter((c) => c.byteReproducible);
    assert.equal(reproducible.length, 4);
    for (const c of reproducible) {
      const args = packArgsFor(c.command);
      const r = await fwup(args, { cwd: dir });
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      const ours = await readFile(join(dir, c.file));
      const theirs = await readFile(edk2Path(c.file));
      assert.equal(ours.length, theirs.length, c.file);
      assert.ok(ours.equals(theirs), `${c.file}: first difference at byte ${ours.findIndex((b, i) => b !== theirs[i])}`);
    }
  } finally {
    await cleanup();
  }
});

test('capsule pack (edk2 corpus): the GenerateCapsule -j JSON of json-2payload-mixed.cap rebuilds its structure (payload 0 signed)', async (t) => {
  if (!needs(t, EDK2_CORPUS())) return;
  const manifest = loadManifest();
  const { dir, cleanup } = await tempDir();
  try {
    await buildFolder(dir);
    let r = await fwup(['pack', '-o', 'j.cap', '--format', 'capsule', '--json-config', edk2Path('json/json-2payload-mixed.json'), '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    r = await fwup(['inspect', 'j.cap', '--cert', TEST_ROOT(), '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout);
    const ours = json<InspectJson>(r).capsule;
    const theirs = manifest.capsules.find((c) => c.file === 'json-2payload-mixed.cap')!;
    assert.equal(ours.payloadItemCount, 2);
    assert.equal(ours.flags, theirs.flags);
    theirs.payloads.forEach((m, k) => {
      const p = ours.payloads[k]!;
      // Signatures are not byte-reproducible (signing time), so offsets after payload 0's CertData move:
      // compare every field that does not depend on the CertData length.
      for (const f of ['updateImageTypeId', 'updateImageIndex', 'hardwareInstance', 'imageCapsuleSupport', 'authenticated', 'monotonicCount', 'payloadLength', 'payloadSha256'] as const) {
        assert.deepEqual(p[f], m[f], `payload ${k}: ${f}`);
      }
      assert.deepEqual(p.fmpPayloadHeader, m.fmpPayloadHeader);
    });
    assert.deepEqual(ours.payloads.map((p) => p.signature.status), ['valid', 'unsigned']);
    assert.equal(ours.payloads[0]!.auth!.digestAlgorithm, 'sha256');
    await t.test('openssl verifies the new signature', async (st) => {
      if (!needs(st, OPENSSL())) return;
      const bytes = await readFile(join(dir, 'j.cap'));
      assert.equal(await opensslVerify(bytes, ours.payloads[0]!.fileOffsets, TEST_ROOT(), dir), 'ok');
    });
  } finally {
    await cleanup();
  }
});

/** Write the inputs of an own fixture into `dir` and return the `fwup pack` arguments that make it. */
async function packArgsForOwn(c: OwnCapsule, dir: string): Promise<string[]> {
  const args = ['pack', '-o', c.file, '--format', 'capsule'];
  for (const f of c.flagNames) args.push('--capflag', f);
  if (c.oemFlags) args.push('--capoemflag', `0x${c.oemFlags.toString(16)}`);
  for (const [i, d] of c.embeddedDrivers.entries()) {
    const bytes = prng(d.prngLabel, d.length);
    bytes.write('MZ', 0, 'latin1');
    await writeFile(join(dir, `drv${i}.efi`), bytes);
    args.push('--embedded-driver', `drv${i}.efi`);
  }
  await writeFile(join(dir, 'signer-and-key.pem'), (await readFile(OWN_CERTS.signer, 'latin1')) + (await readFile(OWN_CERTS.signerKey, 'latin1')));
  const payloads = await Promise.all(c.payloads.map(async (p, k) => {
    await writeFile(join(dir, `pay${k}.bin`), prng(p.payloadPrngLabel, p.payloadLength));
    return {
      Payload: `pay${k}.bin`, Guid: p.updateImageTypeId, FwVersion: String(p.fmpPayloadHeader.fwVersion), LowestSupportedVersion: String(p.fmpPayloadHeader.lowestSupportedVersion),
      UpdateImageIndex: String(p.updateImageIndex), HardwareInstance: p.hardwareInstance,
      ...(p.authenticated ? { MonotonicCount: p.monotonicCount!, OpenSslSignerPrivateCertFile: 'signer-and-key.pem', OpenSslOtherPublicCertFile: OWN_CERTS.intermediate, OpenSslTrustedPublicCertFile: OWN_CERTS.root } : {}),
    };
  }));
  if (payloads.length > 1) {
    await writeFile(join(dir, 'config.json'), JSON.stringify({ Payloads: payloads }));
    return [...args, '--json-config', 'config.json'];
  }
  const p = payloads[0]!;
  args.push('pay0.bin', '--guid', p.Guid, '--version', p.FwVersion, '--lsv', p.LowestSupportedVersion, '--update-image-index', p.UpdateImageIndex, '--hardware-instance', p.HardwareInstance);
  if (p.MonotonicCount) args.push('--monotonic-count', p.MonotonicCount, '--signer-cert', OWN_CERTS.signer, '--signer-key', OWN_CERTS.signerKey, '--other-cert', OWN_CERTS.intermediate, '--trusted-cert', OWN_CERTS.root);
  return args;
}

test('capsule pack: fwup pack makes every own fixture again: unsigned ones byte for byte, signed ones byte for byte outside CertData', async () => {
  const m = loadOwnManifest();
  // fwup pack builds no dependency expression and no vendor code: those two are made by the library only.
  const packable = m.capsules.filter((c) => c.payloads.every((p) => !p.dependency && p.updateVendorCodeSize === 0));
  assert.deepEqual(m.capsules.filter((c) => !packable.includes(c)).map((c) => c.file), ['signed-dependency.cap', 'unsigned-vendor-code.cap']);
  for (const c of packable) {
    const { dir, cleanup } = await tempDir();
    try {
      const args = await packArgsForOwn(c, dir);
      const r = await fwup(args, { cwd: dir });
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      const ours = await readFile(join(dir, c.file));
      const theirs = await readFile(ownPath(c.file));
      assert.equal(ours.length, theirs.length, c.file);
      // The signing time is "now" for fwup pack: the signature differs, its length does not.
      for (const p of c.payloads.filter((x) => x.authenticated)) {
        const { certData, signedContentStart } = p.fileOffsets as unknown as { certData: number; signedContentStart: number };
        ours.fill(0, certData, signedContentStart);
        theirs.fill(0, certData, signedContentStart);
      }
      assert.ok(ours.equals(theirs), `${c.file}: first difference at byte ${ours.findIndex((b, i) => b !== theirs[i])}`);
      if (c.payloads.some((p) => p.authenticated)) {
        const v = await fwup(['inspect', c.file, '--cert', OWN_CERTS.root, '--json'], { cwd: dir });
        assert.equal(v.code, 0, `${c.file}: the new signature verifies: ${v.stdout}`);
      }
    } finally {
      await cleanup();
    }
  }
});

test('capsule pack: own capsules (signed and unsigned, several payloads, embedded driver) parse back with every field', async (t) => {
  const { dir, cleanup } = await tempDir();
  // What openssl must say too, run at the end when openssl is there.
  const opensslChecks: Array<() => Promise<void>> = [];
  try {
    await writeFile(join(dir, 'fw.bin'), prng('fwup-test/fw', 7777));
    await writeFile(join(dir, 'other.bin'), prng('fwup-test/other', 301));
    await writeFile(join(dir, 'drv.efi'), Buffer.concat([Buffer.from('MZ'), prng('fwup-test/drv', 999)]));
    // The signer key in its own file (--signer-key), and in one file with the certificate (like edk2's TestCert.pem).
    const signerAndKey = join(dir, 'signer-and-key.pem');
    await writeFile(signerAndKey, (await readFile(OWN_CERTS.signer, 'latin1')) + (await readFile(OWN_CERTS.signerKey, 'latin1')));

    let r = await fwup(['pack', 'fw.bin', '-o', 's.cap', '--format', 'capsule', '--guid', '950333ef-610f-40d6-97ff-c2ae71bd92d8', '--version', '0xFEDCBA98',
      '--lsv', '0x80000001', '--capflag', 'PersistAcrossReset', '--capflag', 'InitiateReset', '--capoemflag', '0xA5', '--update-image-index', '7',
      '--hardware-instance', '0x00A0000000000005', '--monotonic-count', '0x0020000000000001', '--embedded-driver', 'drv.efi',
      '--signer-cert', OWN_CERTS.signer, '--signer-key', OWN_CERTS.signerKey, '--other-cert', OWN_CERTS.intermediate, '--trusted-cert', OWN_CERTS.root], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    r = await fwup(['inspect', 's.cap', '--cert', OWN_CERTS.root, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout);
    const c = json<InspectJson>(r).capsule;
    assert.equal(c.flags, 0x000500a5);
    assert.deepEqual(c.flagNames, ['PersistAcrossReset', 'InitiateReset']);
    assert.equal(c.oemFlags, 0xa5);
    assert.equal(c.embeddedDriverCount, 1);
    assert.deepEqual(c.embeddedDrivers.map((d) => [d.length, d.sha256]), [[1001, sha256(await readFile(join(dir, 'drv.efi')))]]);
    const p = c.payloads[0]!;
    assert.equal(p.updateImageTypeId, '950333EF-610F-40D6-97FF-C2AE71BD92D8');
    assert.equal(p.updateImageIndex, 7);
    assert.equal(p.hardwareInstance, '0x00A0000000000005');
    assert.equal(p.monotonicCount, '0x0020000000000001');
    assert.equal(p.imageCapsuleSupport, '0x0000000000000001');
    assert.deepEqual(p.fmpPayloadHeader, { signature: 'MSS1', headerSize: 16, fwVersion: 0xfedcba98, lowestSupportedVersion: 0x80000001 });
    assert.equal(p.payloadSha256, sha256(await readFile(join(dir, 'fw.bin'))));
    assert.equal(p.signature.status, 'valid');
    assert.match(p.signature.signer!, /CN=fwup TEST ONLY signer/);
    const signedBytes = await readFile(join(dir, 's.cap'));
    opensslChecks.push(async () => assert.equal(await opensslVerify(signedBytes, p.fileOffsets, OWN_CERTS.root, dir), 'ok', 'openssl accepts our signature'));

    // Several payloads from our own JSON file: signed, unsigned, signed again with another count.
    await writeFile(join(dir, 'multi.json'), JSON.stringify({
      EmbeddedDrivers: [{ Driver: 'drv.efi' }],
      Payloads: [
        { Payload: 'fw.bin', Guid: '0777B0AD-7BA9-4122-BA99-C7669D5A1587', FwVersion: '0x10', LowestSupportedVersion: '0x1', MonotonicCount: '0x1FFFFFFFF',
          OpenSslSignerPrivateCertFile: signerAndKey, OpenSslOtherPublicCertFile: OWN_CERTS.intermediate, OpenSslTrustedPublicCertFile: OWN_CERTS.root },
        { Payload: 'other.bin', Guid: '050B1160-7519-4C47-A2DE-1C97EA5F5406', FwVersion: '20', LowestSupportedVersion: '3', UpdateImageIndex: '2', HardwareInstance: '0xFFFFFFFFFFFFFFFF' },
        { Payload: 'other.bin', Guid: '969DFDB3-EEDA-47C5-899E-698081F8189F', FwVersion: '0x30', LowestSupportedVersion: '0x30', UpdateImageIndex: '3', MonotonicCount: '5',
          OpenSslSignerPrivateCertFile: signerAndKey, OpenSslOtherPublicCertFile: OWN_CERTS.intermediate },
      ],
    }));
    r = await fwup(['pack', '-o', 'm.cap', '--format', 'capsule', '--json-config', 'multi.json'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    r = await fwup(['inspect', 'm.cap', '--cert', OWN_CERTS.root, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout);
    const m = json<InspectJson>(r).capsule;
    assert.equal(m.embeddedDriverCount, 1);
    assert.deepEqual(m.payloads.map((x) => [x.updateImageTypeId, x.updateImageIndex, x.hardwareInstance, x.monotonicCount, x.fmpPayloadHeader.fwVersion, x.payloadLength, x.signature.status]), [
      ['0777B0AD-7BA9-4122-BA99-C7669D5A1587', 1, '0x0000000000000000', '0x00000001FFFFFFFF', 0x10, 7777, 'valid'],
      ['050B1160-7519-4C47-A2DE-1C97EA5F5406', 2, '0xFFFFFFFFFFFFFFFF', null, 20, 301, 'unsigned'],
      ['969DFDB3-EEDA-47C5-899E-698081F8189F', 3, '0x0000000000000000', '0x0000000000000005', 0x30, 301, 'valid'],
    ]);
    const multiBytes = await readFile(join(dir, 'm.cap'));
    for (const k of [0, 2]) opensslChecks.push(async () => assert.equal(await opensslVerify(multiBytes, m.payloads[k]!.fileOffsets, OWN_CERTS.root, dir), 'ok', `payload ${k}`));

    // A flipped byte in the signed payload, in the signature (CertData) or in the MonotonicCount fails
    // verification, for fwup and for openssl alike.
    const o = p.fileOffsets;
    const flips: Array<[string, number]> = [['last payload byte', o.end - 1], ['FwVersion in the signed MSS1 header', o.signedContentStart + 8],
      ['CertData (RSA signature value)', o.signedContentStart - 10], ['MonotonicCount low byte', o.auth], ['MonotonicCount high byte', o.auth + 7]];
    for (const [what, at] of flips) {
      const bad = xorByte(Buffer.from(signedBytes), at, 0x01);
      await writeFile(join(dir, 'bad.cap'), bad);
      r = await fwup(['inspect', 'bad.cap', '--cert', OWN_CERTS.root, '--json'], { cwd: dir });
      assert.equal(r.code, EXIT.SIGNATURE, `${what}: ${r.stdout}`);
      assert.equal(json<InspectJson>(r).error!.code, 'IMAGE_SIGNATURE_INVALID', what);
      opensslChecks.push(async () => assert.equal(await opensslVerify(bad, o, OWN_CERTS.root, dir), 'failed', `${what}: openssl agrees`));
    }
    // The unsigned headers are not covered by the signature (README "What is signed"): changing the
    // HardwareInstance leaves it valid, which is why a good signature does not vouch for them.
    const moved = Buffer.from(signedBytes);
    moved.writeUInt8(moved.readUInt8(o.auth - 16) ^ 0x01, o.auth - 16);
    await writeFile(join(dir, 'hw.cap'), moved);
    r = await fwup(['inspect', 'hw.cap', '--cert', OWN_CERTS.root, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout);
    assert.equal(json<InspectJson>(r).capsule.payloads[0]!.hardwareInstance, '0x00A0000000000004');
    await t.test('openssl agrees with every verdict above', async (st) => {
      if (!needs(st, OPENSSL())) return;
      assert.equal(opensslChecks.length, 8);
      for (const check of opensslChecks) await check();
    });
  } finally {
    await cleanup();
  }
});

test('capsule pack: refused requests name the problem and write nothing', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await writeFile(join(dir, 'fw.bin'), prng('fwup-test/fw', 100));
    await writeFile(join(dir, 'signer-and-key.pem'), (await readFile(OWN_CERTS.signer, 'latin1')) + (await readFile(OWN_CERTS.signerKey, 'latin1')));
    await symlink(OWN_CERTS.untrustedSignerKey, join(dir, 'other.key'));
    await symlink(OWN_CERTS.untrustedRoot, join(dir, 'other.pem'));
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ Payloads: [{ Payload: 'fw.bin', Guid: '050B1160-7519-4C47-A2DE-1C97EA5F5406', FwVersion: '1', LowestSupportedVersion: '1', Dependencies: '0x1 > 0x0' }] }));
    const base = ['pack', 'fw.bin', '-o', 'out.cap', '--format', 'capsule', '--guid', '050B1160-7519-4C47-A2DE-1C97EA5F5406', '--version', '1'];
    const cases: Array<{ args: string[]; code: number; msg: RegExp }> = [
      { args: [...base, '--capflag', 'InitiateReset'], code: EXIT.USAGE, msg: /InitiateReset also requires --capflag PersistAcrossReset/ },
      { args: [...base, '--capflag', 'PopulateSystemTable'], code: EXIT.USAGE, msg: /PopulateSystemTable is not allowed on an FMP capsule/ },
      { args: [...base, '--capflag', 'Bogus'], code: EXIT.USAGE, msg: /--capflag Bogus is not a capsule flag/ },
      { args: [...base, '--capoemflag', '0x10000'], code: EXIT.USAGE, msg: /--capoemflag/ },
      { args: [...base, '--update-image-index', '0'], code: EXIT.USAGE, msg: /UpdateImageIndex 0 must be 1 to 255/ },
      { args: [...base, '--hardware-instance', '0x10000000000000000'], code: EXIT.USAGE, msg: /does not fit in 64 bits/ },
      { args: [...base, '--sign', 'x.key'], code: EXIT.USAGE, msg: /--sign is for \.fwup images/ },
      { args: [...base.slice(0, 6), '--version', '1'], code: EXIT.USAGE, msg: /needs --guid/ },
      { args: [...base.slice(0, 6), '--guid', 'nope', '--version', '1'], code: EXIT.USAGE, msg: /--guid "nope" is not a GUID/ },
      { args: ['pack', 'fw.bin', '-o', 'out.fwup', '--version', '1', '--guid', '050B1160-7519-4C47-A2DE-1C97EA5F5406'], code: EXIT.USAGE, msg: /--guid is for capsules/ },
      { args: ['pack', 'fw.bin', '-o', 'out.x', '--version', '1', '--format', 'zip'], code: EXIT.USAGE, msg: /--format "zip"/ },
      { args: [...base, '--signer-cert', OWN_CERTS.root], code: EXIT.USAGE, msg: /holds no usable private key/ },
      { args: [...base, '--signer-cert', OWN_CERTS.signer, '--signer-key', 'other.key'], code: EXIT.USAGE, msg: /the private key does not belong to the signer certificate/ },
      { args: [...base, '--signer-cert', 'missing.pem'], code: EXIT.NOT_FOUND, msg: /missing\.pem/ },
      { args: [...base, '--signer-cert', 'signer-and-key.pem', '--trusted-cert', OWN_CERTS.root], code: EXIT.SIGNATURE, msg: /does not verify against .*test-root\.crt/ },
      { args: [...base, '--signer-cert', 'signer-and-key.pem', '--other-cert', OWN_CERTS.intermediate, '--trusted-cert', 'other.pem'], code: EXIT.SIGNATURE, msg: /does not verify against other\.pem/ },
      { args: ['pack', '-o', 'out.cap', '--format', 'capsule', '--json-config', 'bad.json'], code: EXIT.USAGE, msg: /Dependencies: building dependency expressions is not supported/ },
      { args: ['pack', 'fw.bin', '-o', 'out.cap', '--format', 'capsule', '--json-config', 'bad.json'], code: EXIT.USAGE, msg: /either PAYLOAD or --json-config/ },
      { args: ['pack', 'nofile.bin', '-o', 'out.cap', '--format', 'capsule', '--guid', '050B1160-7519-4C47-A2DE-1C97EA5F5406', '--version', '1'], code: EXIT.NOT_FOUND, msg: /nofile\.bin/ },
    ];
    const before = await hashTree(dir);
    for (const c of cases) {
      const r = await fwup(c.args, { cwd: dir });
      assert.equal(r.code, c.code, `${c.args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, c.msg, c.args.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    assert.equal(await hashTree(dir), before, 'nothing was written');
  } finally {
    await cleanup();
  }
});
