import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashTree, tempDir } from './helpers/cli.js';
import { runInProcess } from './helpers/in-process.js';
import { loadOwnManifest, ownCapsule, ownPath, OWN_CERTS, prng } from './helpers/capsule-fixtures.js';
import { EXIT } from '../src/errors/exit-codes.js';
import { FwupError } from '../src/errors/fwup-error.js';
import { parseCapsule } from '../src/image/capsule-format.js';
import { buildCapsule, type CapsulePayloadSpec } from '../src/image/capsule-build.js';
import { scanDependency, DEP_OPCODES } from '../src/image/capsule-dependency.js';
import { signedContent } from '../src/image/capsule-format.js';
import { loadTrustStore, verifyCapsuleSignature } from '../src/image/capsule-verify.js';
import { pemBlocks } from '../src/util/pem.js';

/**
 * Every structural rule, each from bytes made to break exactly that rule. Offsets below are those of
 * fwup's own fixtures (fixtures/capsules/manifest.json fileOffsets, the same as the edk2 corpus's):
 * unsigned-4k.cap has its image header at 48 and its FMP_PAYLOAD_HEADER at 96; signed-sha256-mc.cap
 * has EFI_FIRMWARE_IMAGE_AUTHENTICATION at 96. (fixtures/capsules/invalid holds one file per rule too.)
 */
const unsigned = () => Buffer.from(readFileSync(ownPath('unsigned-4k.cap')));
const signed = () => Buffer.from(readFileSync(ownPath('signed-sha256-mc.cap')));
const twoPayloads = () => Buffer.from(readFileSync(ownPath('2payload-mixed.cap')));
const signedImageSize = ownCapsule(loadOwnManifest(), 'signed-sha256-mc.cap').payloads[0]!.updateImageSize;

const u32 = (b: Buffer, at: number, v: number) => (b.writeUInt32LE(v, at), b);
const u16 = (b: Buffer, at: number, v: number) => (b.writeUInt16LE(v, at), b);
const u64 = (b: Buffer, at: number, v: bigint) => (b.writeBigUInt64LE(v, at), b);
/** Keep CapsuleImageSize equal to the new length, so the rule under test is the one that fails. */
const resized = (b: Buffer) => u32(b, 24, b.length);

/** unsigned-4k.cap with ImageCapsuleSupport = dependency and `dep` written where the update image starts. */
const withDependency = (dep: number[]) => {
  const b = u64(unsigned(), 88, 2n);
  Buffer.from(dep).copy(b, 96);
  return b;
};

const spec = (over: Partial<CapsulePayloadSpec> = {}): CapsulePayloadSpec => ({
  imageTypeId: '050B1160-7519-4C47-A2DE-1C97EA5F5406',
  fwVersion: 2,
  lowestSupportedVersion: 1,
  updateImageIndex: 1,
  hardwareInstance: 0n,
  monotonicCount: 0n,
  payload: prng('rules', 100),
  ...over,
});

const CASES: Array<{ rule: string; bytes: () => Buffer | Promise<Buffer>; message: RegExp }> = [
  { rule: 'shorter than EFI_CAPSULE_HEADER', bytes: () => unsigned().subarray(0, 20), message: /file is 20 bytes, shorter than the 28-byte EFI_CAPSULE_HEADER/ },
  { rule: 'CapsuleImageSize == file size', bytes: () => u32(unsigned(), 24, 4207), message: /CapsuleImageSize \(4207\) != file size \(4208\)/ },
  { rule: 'CapsuleImageSize == file size (appended bytes)', bytes: () => Buffer.concat([unsigned(), Buffer.alloc(3)]), message: /CapsuleImageSize \(4208\) != file size \(4211\)/ },
  { rule: 'HeaderSize >= 28', bytes: () => u32(unsigned(), 16, 16), message: /HeaderSize \(16\) < 28: smaller than EFI_CAPSULE_HEADER/ },
  { rule: 'HeaderSize >= 32 (GenerateCapsule decoder)', bytes: () => u32(unsigned(), 16, 28), message: /HeaderSize \(28\) < 32: smaller than the header GenerateCapsule's decoder requires/ },
  { rule: 'HeaderSize < CapsuleImageSize', bytes: () => u32(unsigned(), 16, 4208), message: /HeaderSize \(4208\) >= CapsuleImageSize \(4208\)/ },
  { rule: 'InitiateReset needs PersistAcrossReset', bytes: () => u32(unsigned(), 20, 0x40000), message: /Flags 0x00040000: InitiateReset requires PersistAcrossReset/ },
  { rule: 'no PopulateSystemTable on FMP', bytes: () => u32(unsigned(), 20, 0x30000), message: /Flags 0x00030000: PopulateSystemTable is not allowed on an FMP capsule/ },
  { rule: 'FMP capsule holds its header', bytes: () => resized(unsigned().subarray(0, 36)), message: /FMP capsule size \(4\) < 8/ },
  { rule: 'FMP header Version 1', bytes: () => u32(unsigned(), 32, 2), message: /EFI_FIRMWARE_MANAGEMENT_CAPSULE_HEADER\.Version \(2\) != 1/ },
  { rule: 'at least one item', bytes: () => u16(unsigned(), 38, 0), message: /EmbeddedDriverCount \+ PayloadItemCount is 0/ },
  { rule: 'item count fits', bytes: () => u16(unsigned(), 36, 0xffff), message: /item count 65536 .* too big: ItemOffsetList would not fit in the 4176-byte FMP capsule/ },
  { rule: 'offsets inside the capsule', bytes: () => u64(unsigned(), 40, 0x1050n), message: /ItemOffsetList\[0\] \(0x00001050\) >= FMP capsule size \(0x00001050\)/ },
  { rule: 'offsets past the FMP header', bytes: () => u64(unsigned(), 40, 8n), message: /ItemOffsetList\[0\] \(0x00000008\) < 16 \(8 \+ 8 x 1\)/ },
  { rule: 'offsets strictly increase (equal)', bytes: () => u64(twoPayloads(), 48, 0x18n), message: /ItemOffsetList\[1\] <= ItemOffsetList\[0\]: offsets must strictly increase/ },
  { rule: 'item holds an image header Version', bytes: () => u64(twoPayloads(), 48, 0x1An), message: /payload 0: item is 2 bytes, too small for an image header/ },
  { rule: 'image header version 1..3 (0)', bytes: () => u32(unsigned(), 48, 0), message: /payload 0: image header Version 0 is unknown/ },
  { rule: 'image header version 1..3 (4)', bytes: () => u32(unsigned(), 48, 4), message: /payload 0: image header Version 4 is unknown/ },
  { rule: 'item holds the image header', bytes: () => u64(twoPayloads(), 48, 0x18n + 40n), message: /payload 0: item size 40 < image header size 48 \(version 3\)/ },
  { rule: 'UpdateImageIndex >= 1 (GenerateCapsule decoder)', bytes: () => unsigned().fill(0, 68, 69), message: /payload 0: UpdateImageIndex 0 < 1: image indexes are 1-based/ },
  { rule: 'item size == header + image + vendor code', bytes: () => u32(unsigned(), 76, 1), message: /payload 0: item size 4160 != image header 48 \+ UpdateImageSize 4112 \+ UpdateVendorCodeSize 1/ },
  { rule: 'item size uses the v1 header size', bytes: () => u32(unsigned(), 48, 1), message: /payload 0: item size 4160 != image header 32 \+ UpdateImageSize 4112/ },
  {
    rule: 'update image holds EFI_FIRMWARE_IMAGE_AUTHENTICATION',
    bytes: async () => u64(await buildCapsule({ flags: [], oemFlags: 0, embeddedDrivers: [], payloads: [spec({ payload: Buffer.alloc(5, 1) })] }), 88, 1n),
    message: /payload 0: UpdateImageSize 21 is too small for EFI_FIRMWARE_IMAGE_AUTHENTICATION \(32 bytes\)/,
  },
  { rule: 'dwLength > 24', bytes: () => u32(signed(), 104, 24), message: /payload 0: AuthInfo\.Hdr\.dwLength \(24\) <= 24: no CertData/ },
  { rule: 'auth inside the update image', bytes: () => u32(signed(), 104, 0xffffff00), message: new RegExp(`payload 0: MonotonicCount \\+ AuthInfo\\.Hdr\\.dwLength \\(8 \\+ 4294967040\\) >= UpdateImageSize \\(${signedImageSize}\\)`) },
  { rule: 'wRevision 0x0200', bytes: () => u16(signed(), 108, 0x0100), message: /payload 0: AuthInfo\.Hdr\.wRevision 0x0100 != 0x0200/ },
  { rule: 'wCertificateType 0x0EF1', bytes: () => u16(signed(), 110, 0x0002), message: /payload 0: AuthInfo\.Hdr\.wCertificateType 0x0002 != 0x0EF1/ },
  { rule: 'CertType PKCS7', bytes: () => u32(signed(), 112, 0), message: /payload 0: AuthInfo\.CertType 00000000-68DF-49EE-8AA9-347D375665A7 != EFI_CERT_TYPE_PKCS7_GUID/ },
  { rule: 'dependency expression valid', bytes: () => u64(unsigned(), 88, 2n), message: /payload 0: dependency expression invalid: unknown opcode 0x4d at \+0/ },
  { rule: 'dependency: unary operator has an operand', bytes: () => withDependency([0x05, 0x0d]), message: /payload 0: dependency expression invalid: NOT at \+0 needs 1 operand but the operand stack holds 0/ },
  { rule: 'dependency: binary operator has two operands', bytes: () => withDependency([0x06, 0x03, 0x0d]), message: /payload 0: dependency expression invalid: AND at \+1 needs 2 operands but the operand stack holds 1/ },
  { rule: 'dependency: END leaves an operand', bytes: () => withDependency([0x0d]), message: /payload 0: dependency expression invalid: END at \+0 needs 1 operand but the operand stack holds 0/ },
  { rule: 'dependency: VERSION_STR is UTF-8', bytes: () => withDependency([0x02, 0x76, 0xff, 0x00, 0x0d]), message: /payload 0: dependency expression invalid: VERSION_STR at \+0 is not valid UTF-8/ },
  {
    rule: 'FMP payload larger than its header',
    bytes: () => resized(u32(unsigned().subarray(0, 112), 72, 16)),
    message: /payload 0: 16 bytes left for the FMP payload, not more than the 16-byte FMP_PAYLOAD_HEADER/,
  },
  { rule: "signature 'MSS1'", bytes: () => u32(unsigned(), 96, 0x4d535331), message: /payload 0: FMP_PAYLOAD_HEADER\.Signature 0x4D535331 \("1SSM"\) != 'MSS1'/ },
  { rule: 'MSS1 HeaderSize >= 16', bytes: () => u32(unsigned(), 100, 8), message: /payload 0: FMP_PAYLOAD_HEADER\.HeaderSize \(8\) < 16/ },
  { rule: 'MSS1 HeaderSize inside the payload', bytes: () => u32(unsigned(), 100, 4112), message: /payload 0: FMP_PAYLOAD_HEADER\.HeaderSize \(4112\) leaves no payload in the 4112 bytes that remain/ },
];

test('capsule rules: each rule rejects its bytes with its own message (library)', async () => {
  for (const c of CASES) {
    const bytes = await c.bytes();
    assert.throws(() => parseCapsule(bytes), (e: unknown) => {
      assert.ok(e instanceof FwupError, c.rule);
      assert.equal(e.code, 'CAPSULE_INVALID', c.rule);
      assert.match(e.message, c.message, c.rule);
      return true;
    }, c.rule);
  }
  // The capsule GUID rule (the CLI never gets that far: detection is by that GUID).
  const notFmp = unsigned();
  notFmp.writeUInt8(0, 0);
  assert.throws(() => parseCapsule(notFmp), /CapsuleGuid 6DCBD500-.* is not the FMP capsule GUID/);
});

test('capsule rules: each rejection through `inspect` exits 5 (invalid image) and changes no file', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    for (const [i, c] of CASES.entries()) await writeFile(join(dir, `bad-${i}.cap`), await c.bytes());
    const before = await hashTree(dir);
    for (const [i, c] of CASES.entries()) {
      const r = await runInProcess(['inspect', `bad-${i}.cap`, '--cert', OWN_CERTS.root, '--json'], dir);
      assert.equal(r.code, EXIT.INVALID_IMAGE, `${c.rule}: ${r.stdout}`);
      const e = (JSON.parse(r.stdout) as { error: { code: string; message: string; details: { rule: string } } }).error;
      assert.equal(e.code, 'CAPSULE_INVALID');
      assert.match(e.message, c.message, c.rule);
      assert.match(e.details.rule, c.message, `${c.rule}: the rule is in --json details`);
    }
    assert.equal(await hashTree(dir), before, 'rejected commands changed nothing');
  } finally {
    await cleanup();
  }
});

test('capsule dependency: edk2 ValidateDependency semantics and a well-formed expression reported as text', async () => {
  const guid = Buffer.from('ed d5 cb 6d 2d e8 44 4c bd a1 71 94 19 9a d9 2a'.replace(/ /g, ''), 'hex');
  const version = Buffer.alloc(4);
  version.writeUInt32LE(0x20a);
  const dep = Buffer.concat([Buffer.from([DEP_OPCODES.PUSH_VERSION]), version, Buffer.from([DEP_OPCODES.PUSH_GUID]), guid,
    Buffer.from([DEP_OPCODES.GTE, DEP_OPCODES.VERSION_STR]), Buffer.from('v2\0'), Buffer.from([DEP_OPCODES.END])]);
  const cap = await buildCapsule({ flags: [], oemFlags: 0, embeddedDrivers: [], payloads: [spec({ dependency: dep })] });
  const p = parseCapsule(cap).payloads[0]!;
  assert.equal(p.imageCapsuleSupport, 2n);
  assert.deepEqual(p.dependency, { size: dep.length, text: 'PUSH_VERSION 0x0000020A PUSH_GUID 6DCBD5ED-E82D-4C44-BDA1-7194199AD92A GTE VERSION_STR "v2" END' });
  assert.equal(p.fileOffsets.fmpPayloadHeader, p.fileOffsets.dependency! + dep.length);
  assert.deepEqual(p.payload, spec().payload);

  assert.match(scanDependency(Buffer.from([DEP_OPCODES.PUSH_GUID, 1, 2])).problem!, /PUSH_GUID at \+0 runs past the end/);
  assert.match(scanDependency(Buffer.from([DEP_OPCODES.TRUE])).problem!, /no END opcode/);
  assert.match(scanDependency(Buffer.from([DEP_OPCODES.VERSION_STR, 0x41])).problem!, /VERSION_STR at \+0 has no terminating NUL/);
  assert.match(scanDependency(Buffer.from([0x0f])).problem!, /unknown opcode 0x0f/);
  await assert.rejects(buildCapsule({ flags: [], oemFlags: 0, embeddedDrivers: [], payloads: [spec({ dependency: Buffer.from([DEP_OPCODES.TRUE]) })] }), /dependency expression is invalid/);
});

test('capsule image header versions 1 and 2: shorter headers, authentication recognised by its WIN_CERTIFICATE header', async () => {
  const root = pemBlocks(readFileSync(OWN_CERTS.root, 'latin1'))[0]!.der;
  const trust = await loadTrustStore([{ name: 'test-root', der: root }]);
  // signed-sha256-mc.cap with its v3 header cut down: v2 drops ImageCapsuleSupport (bytes 88..96),
  // v1 also UpdateHardwareInstance (80..88). Nothing signed moves, so the signature still verifies.
  for (const [version, cut] of [[2, 8], [1, 16]] as const) {
    const src = signed();
    const b = resized(Buffer.concat([src.subarray(0, 96 - cut), src.subarray(96)]));
    u32(b, 48, version);
    const p = parseCapsule(b).payloads[0]!;
    assert.equal(p.imageHeaderVersion, version);
    assert.equal(p.imageHeaderSize, 48 - cut);
    assert.equal(p.hardwareInstance, 0n);
    assert.equal(p.auth?.monotonicCount, 0x0020000000000001n, `v${version}: authentication found`);
    assert.equal(p.fmpPayloadHeader.fwVersion, 0x310);
    const v = await verifyCapsuleSignature(p.auth!.certData, signedContent(b, p)!, trust);
    assert.equal(v.status, 'valid', `v${version}: ${v.reason}`);
  }
  // An unsigned v2 payload: its MSS1 header is not mistaken for an authentication block.
  const u = unsigned();
  const v2 = resized(Buffer.concat([u.subarray(0, 88), u.subarray(96)]));
  u32(v2, 48, 2);
  const p = parseCapsule(v2).payloads[0]!;
  assert.equal(p.auth, null);
  assert.equal(p.fmpPayloadHeader.fwVersion, 0x20a);
});

test('capsule rules: every valid fixture still parses under the GenerateCapsule decoder checks', () => {
  const m = loadOwnManifest();
  assert.ok(m.capsules.length > 0);
  for (const c of m.capsules) {
    const cap = parseCapsule(Buffer.from(readFileSync(ownPath(c.file))));
    assert.ok(cap.headerSize >= 32, `${c.file}: HeaderSize`);
    for (const p of cap.payloads) assert.ok(p.updateImageIndex >= 1, `${c.file}: payload ${p.index} UpdateImageIndex`);
  }
});
