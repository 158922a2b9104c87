import type { CapsuleFlagName } from '../../src/image/capsule-layouts.js';

/**
 * fwup's own UEFI FMP capsule fixtures (fixtures/capsules/), described once: scripts/make-capsule-fixtures.mjs
 * builds them from this with fwup's capsule builder and signer, derives the expected fields with its
 * own layout arithmetic (not with fwup's parser), checks fwup's parser and openssl against them, and
 * writes fixtures/capsules/manifest.json. Tests read the manifest, never this file.
 *
 * The valid set mirrors the edk2 corpus (../shared/fixtures/edk2-capsules): same names, image type
 * GUIDs, versions, flags and payload sizes, different payload bytes (labels) and certificates.
 */

/** Who signs a payload. `test` carries the intermediate CA; `test-no-intermediate` carries the signer only. */
export type SignerName = 'test' | 'test-no-intermediate' | 'untrusted';
/** What is done to the CertData the signer made (verifier rejection paths). */
export type CertDataTamper = 'not-der' | 'not-signed-data' | 'attached-content' | 'no-signer-info';

export interface FixturePayloadSpec {
  label: string;
  size: number;
  guid: string;
  fwVersion: number;
  lsv: number;
  updateImageIndex?: number;
  hardwareInstance?: bigint;
  monotonicCount?: bigint;
  signer?: SignerName;
  tamper?: CertDataTamper;
  /** An EFI_FIRMWARE_IMAGE_DEP (END included) and the text fwup must render it as. */
  dependency?: { hex: string; expression: string };
  vendorCode?: { label: string; size: number };
}

export interface FixtureCapsuleSpec {
  file: string;
  description: string;
  flags: CapsuleFlagName[];
  oemFlags: number;
  drivers: Array<{ label: string; size: number }>;
  payloads: FixturePayloadSpec[];
}

/**
 * A number, or one taken from the source capsule's expected model: `size`, `fmpSize` (size - HeaderSize),
 * `item<i>` (ItemOffsetList[i]), `p<k>.<fileOffsets field>`, `p<k>.updateImageSize`, `p<k>.certDataLength`.
 */
export type Num = number | bigint | { ref: string; delta?: number };

export type PatchOp =
  | { op: 'truncate'; length: Num; what: string }
  | { op: 'u8' | 'u16' | 'u32' | 'u64'; at: Num; value: Num; what: string }
  | { op: 'xor'; at: Num; mask: number; what: string }
  /** CapsuleImageSize := the (new) file length, so the rule under test is the one that fails. */
  | { op: 'fix-capsule-size'; what: string };

export interface InvalidFixtureSpec {
  file: string;
  /** format: the structure is rejected; auth: it parses and the signature check fails. */
  category: 'format' | 'auth';
  reason: string;
  /** A valid fixture's file name, or a capsule built for this purpose. */
  from: string | FixtureCapsuleSpec;
  patch: PatchOp[];
  /** FwupError code of capsuleFormat.verify (format) or of the report (auth). */
  error: 'CAPSULE_INVALID' | 'IMAGE_SIGNATURE_INVALID' | 'IMAGE_SIGNATURE_UNKNOWN_KEY';
  /** A regular expression the message must match; `{ref}` or `{ref+n}` is replaced by that number (refs as in Num). */
  message: string;
  /** When `fwup inspect` fails differently (it detects formats by the capsule GUID). */
  cliError?: string;
  /**
   * What `openssl smime -verify` (edk2's Pkcs7Verify flags) says when it is not "failed": fwup is
   * stricter than OpenSSL there, and `divergence` says why.
   */
  openssl?: { verdict: 'ok'; divergence: string };
}

export const SIGNING_TIME = '2026-01-01T00:00:00Z';
const L = (name: string) => `fwup-capsule-fixture/${name}`;

const SYS_FW = '050B1160-7519-4C47-A2DE-1C97EA5F5406';
const DEV_FW = 'B9013687-CD7C-4981-AFD7-255F0F32FE17';
const SIGNED_FW = '969DFDB3-EEDA-47C5-899E-698081F8189F';

export const VALID_CAPSULES: FixtureCapsuleSpec[] = [
  {
    file: 'unsigned-4k.cap',
    description: 'unsigned, one 4 KiB payload, no capsule flags, UpdateImageIndex 1 and HardwareInstance 0 (defaults)',
    flags: [], oemFlags: 0, drivers: [],
    payloads: [{ label: L('pay4096'), size: 4096, guid: SYS_FW, fwVersion: 0x20a, lsv: 0x200 }],
  },
  {
    file: 'unsigned-persist.cap',
    description: 'unsigned, 3000-byte payload, PersistAcrossReset, UpdateImageIndex 3',
    flags: ['PersistAcrossReset'], oemFlags: 0, drivers: [],
    payloads: [{ label: L('pay3000'), size: 3000, guid: SYS_FW, fwVersion: 0x20b, lsv: 0x200, updateImageIndex: 3 }],
  },
  {
    file: 'unsigned-persist-reset.cap',
    description: 'unsigned, 5555-byte payload, PersistAcrossReset+InitiateReset, OEM flags 0x00A5, HardwareInstance 0x00A0000000000005 (above 2^53)',
    flags: ['PersistAcrossReset', 'InitiateReset'], oemFlags: 0xa5, drivers: [],
    payloads: [{ label: L('pay5555'), size: 5555, guid: DEV_FW, fwVersion: 0x30001, lsv: 0x20000, hardwareInstance: 0x00a0000000000005n }],
  },
  {
    file: 'signed-sha256-mc.cap',
    description: 'signed (PKCS#7, SHA-256), 6144-byte payload, MonotonicCount 0x0020000000000001 = 2^53+1',
    flags: [], oemFlags: 0, drivers: [],
    payloads: [{ label: L('pay6144'), size: 6144, guid: SIGNED_FW, fwVersion: 0x310, lsv: 0x300, monotonicCount: 0x0020000000000001n, signer: 'test' }],
  },
  {
    file: 'signed-large-version.cap',
    description: 'signed, 2560-byte payload, FwVersion 0xFEDCBA98 / LowestSupportedVersion 0x80000001 (>= 2^31), MonotonicCount 0x00000001FFFFFFFF',
    flags: [], oemFlags: 0, drivers: [],
    payloads: [{ label: L('pay2560'), size: 2560, guid: '950333EF-610F-40D6-97FF-C2AE71BD92D8', fwVersion: 0xfedcba98, lsv: 0x80000001, monotonicCount: 0x1ffffffffn, signer: 'test' }],
  },
  {
    file: '2payload-mixed.cap',
    description: 'two payloads: payload 0 signed (MonotonicCount 0x11, HardwareInstance 0xF0), payload 1 unsigned (UpdateImageIndex 2)',
    flags: [], oemFlags: 0, drivers: [],
    payloads: [
      { label: L('pay1234'), size: 1234, guid: '0777B0AD-7BA9-4122-BA99-C7669D5A1587', fwVersion: 0x42, lsv: 0x40, monotonicCount: 0x11n, hardwareInstance: 0xf0n, signer: 'test' },
      { label: L('pay4321'), size: 4321, guid: SYS_FW, fwVersion: 0x20c, lsv: 0x201, updateImageIndex: 2 },
    ],
  },
  {
    file: 'embedded-driver.cap',
    description: "one embedded driver (1203 bytes starting 'MZ', not a real PE image) before one unsigned 3333-byte payload (image header at an odd offset)",
    flags: [], oemFlags: 0,
    drivers: [{ label: L('drv1203'), size: 1203 }],
    payloads: [{ label: L('pay3333'), size: 3333, guid: DEV_FW, fwVersion: 0x30002, lsv: 0x30000 }],
  },
  {
    file: 'signed-64k.cap',
    description: 'signed, 64 KiB payload, MonotonicCount 0x10000, PersistAcrossReset',
    flags: ['PersistAcrossReset'], oemFlags: 0, drivers: [],
    payloads: [{ label: L('pay65536'), size: 65536, guid: '0777B0AD-7BA9-4122-BA99-C7669D5A1587', fwVersion: 0x01000000, lsv: 0x00ff0000, monotonicCount: 0x10000n, signer: 'test' }],
  },
  {
    file: 'signed-dependency.cap',
    description: 'signed, with a dependency expression (ImageCapsuleSupport 0x3) between the authentication and the MSS1 header: it is signed too',
    flags: [], oemFlags: 0, drivers: [],
    payloads: [{
      label: L('pay1500'), size: 1500, guid: SIGNED_FW, fwVersion: 0x311, lsv: 0x300, monotonicCount: 2n, signer: 'test',
      // PUSH_GUID 969DFDB3-EEDA-47C5-899E-698081F8189F, PUSH_VERSION 0x300, GTE, END
      dependency: {
        hex: '00b3fd9d96daeec547899e698081f8189f' + '0100030000' + '0a' + '0d',
        expression: 'PUSH_GUID 969DFDB3-EEDA-47C5-899E-698081F8189F PUSH_VERSION 0x00000300 GTE END',
      },
    }],
  },
  {
    file: 'unsigned-vendor-code.cap',
    description: 'unsigned, 2000-byte payload followed by 77 bytes of vendor code (UpdateVendorCodeSize 77, not part of the payload)',
    flags: [], oemFlags: 0, drivers: [],
    payloads: [{ label: L('pay2000'), size: 2000, guid: SYS_FW, fwVersion: 0x20d, lsv: 0x200, vendorCode: { label: L('vendor77'), size: 77 } }],
  },
];

const u = (op: 'u8' | 'u16' | 'u32' | 'u64', at: Num, value: Num, what: string): PatchOp => ({ op, at, value, what });
const ref = (r: string, delta = 0) => ({ ref: r, delta });
const fix: PatchOp = { op: 'fix-capsule-size', what: 'EFI_CAPSULE_HEADER.CapsuleImageSize := new file length' };
const signedAs = (file: string, signer: SignerName, tamper?: CertDataTamper): FixtureCapsuleSpec => ({
  ...VALID_CAPSULES.find((c) => c.file === 'signed-sha256-mc.cap')!,
  file,
  description: `signed-sha256-mc.cap made with signer ${signer}${tamper ? `, CertData ${tamper}` : ''}`,
  payloads: [{ ...VALID_CAPSULES.find((c) => c.file === 'signed-sha256-mc.cap')!.payloads[0]!, signer, ...(tamper ? { tamper } : {}) }],
});
const tinyPayload: FixtureCapsuleSpec = {
  file: '(built)', description: 'unsigned, 5-byte payload', flags: [], oemFlags: 0, drivers: [],
  payloads: [{ label: L('pay5'), size: 5, guid: SYS_FW, fwVersion: 2, lsv: 1 }],
};

/** One file per rejection path of capsule-format.ts and capsule-verify.ts. Offsets: see docs/capsule-format.md. */
export const INVALID_CAPSULES: InvalidFixtureSpec[] = [
  { file: 'trunc-in-capsule-header.cap', category: 'format', reason: 'file ends inside the 28-byte EFI_CAPSULE_HEADER', from: 'unsigned-persist.cap',
    patch: [{ op: 'truncate', length: 26, what: 'inside CapsuleImageSize' }], error: 'CAPSULE_INVALID', message: 'file is 26 bytes, shorter than the 28-byte EFI_CAPSULE_HEADER' },
  { file: 'not-fmp-guid.cap', category: 'format', reason: 'CapsuleGuid is not the FMP capsule GUID', from: 'unsigned-4k.cap',
    patch: [{ op: 'xor', at: 0, mask: 0xff, what: 'CapsuleGuid first byte' }], error: 'CAPSULE_INVALID', message: 'CapsuleGuid 6DCBD512-.* is not the FMP capsule GUID',
    cliError: 'IMAGE_UNKNOWN_FORMAT' },
  { file: 'capsule-image-size-mismatch.cap', category: 'format', reason: 'CapsuleImageSize claims 512 bytes more than the file', from: 'unsigned-4k.cap',
    patch: [u('u32', 24, ref('size', 512), 'CapsuleImageSize')], error: 'CAPSULE_INVALID', message: 'CapsuleImageSize \\(4720\\) != file size \\(4208\\)' },
  { file: 'trunc-in-image-header.cap', category: 'format', reason: "file ends 33 bytes into the payload's image header, after the embedded driver", from: 'embedded-driver.cap',
    patch: [{ op: 'truncate', length: ref('p0.imageHeader', 33), what: 'inside UpdateHardwareInstance' }], error: 'CAPSULE_INVALID', message: 'CapsuleImageSize \\({size}\\) != file size \\(1292\\)' },
  { file: 'trunc-in-pkcs7.cap', category: 'format', reason: 'signed capsule cut inside the PKCS#7 CertData', from: 'signed-sha256-mc.cap',
    patch: [{ op: 'truncate', length: ref('p0.certData', 700), what: '700 bytes into CertData' }], error: 'CAPSULE_INVALID', message: 'CapsuleImageSize \\({size}\\) != file size \\({p0.certData+700}\\)' },
  { file: 'header-size-too-small.cap', category: 'format', reason: 'HeaderSize 16 < 28', from: 'unsigned-4k.cap',
    patch: [u('u32', 16, 16, 'HeaderSize')], error: 'CAPSULE_INVALID', message: 'HeaderSize \\(16\\) < 28: smaller than EFI_CAPSULE_HEADER' },
  { file: 'header-size-too-large.cap', category: 'format', reason: 'HeaderSize == CapsuleImageSize', from: 'unsigned-4k.cap',
    patch: [u('u32', 16, ref('size'), 'HeaderSize')], error: 'CAPSULE_INVALID', message: 'HeaderSize \\(4208\\) >= CapsuleImageSize \\(4208\\)' },
  { file: 'initiate-reset-without-persist.cap', category: 'format', reason: 'InitiateReset without PersistAcrossReset', from: 'unsigned-persist-reset.cap',
    patch: [u('u32', 20, 0x000400a5, 'Flags')], error: 'CAPSULE_INVALID', message: 'Flags 0x000400A5: InitiateReset requires PersistAcrossReset' },
  { file: 'populate-system-table.cap', category: 'format', reason: 'PopulateSystemTable on an FMP capsule', from: 'unsigned-4k.cap',
    patch: [u('u32', 20, 0x00020000, 'Flags')], error: 'CAPSULE_INVALID', message: 'Flags 0x00020000: PopulateSystemTable is not allowed on an FMP capsule' },
  { file: 'fmp-header-truncated.cap', category: 'format', reason: '4 bytes left for the 8-byte FMP capsule header', from: 'unsigned-4k.cap',
    patch: [{ op: 'truncate', length: 36, what: 'inside the FMP capsule header' }, fix], error: 'CAPSULE_INVALID', message: 'FMP capsule size \\(4\\) < 8' },
  { file: 'fmp-version-2.cap', category: 'format', reason: 'EFI_FIRMWARE_MANAGEMENT_CAPSULE_HEADER.Version 2', from: 'unsigned-4k.cap',
    patch: [u('u32', 32, 2, 'FMP Version')], error: 'CAPSULE_INVALID', message: 'EFI_FIRMWARE_MANAGEMENT_CAPSULE_HEADER\\.Version \\(2\\) != 1' },
  { file: 'no-items.cap', category: 'format', reason: 'no embedded driver and no payload', from: 'unsigned-4k.cap',
    patch: [u('u16', 38, 0, 'PayloadItemCount')], error: 'CAPSULE_INVALID', message: 'EmbeddedDriverCount \\+ PayloadItemCount is 0' },
  { file: 'item-count-too-big.cap', category: 'format', reason: 'ItemOffsetList of 65536 entries cannot fit', from: 'unsigned-4k.cap',
    patch: [u('u16', 36, 0xffff, 'EmbeddedDriverCount')], error: 'CAPSULE_INVALID', message: 'item count 65536 .* too big: ItemOffsetList would not fit in the 4176-byte FMP capsule' },
  { file: 'item-offset-outside.cap', category: 'format', reason: 'ItemOffsetList[0] at the end of the capsule', from: 'unsigned-4k.cap',
    patch: [u('u64', 40, ref('fmpSize'), 'ItemOffsetList[0]')], error: 'CAPSULE_INVALID', message: 'ItemOffsetList\\[0\\] \\(0x00001050\\) >= FMP capsule size \\(0x00001050\\)' },
  { file: 'item-offset-in-header.cap', category: 'format', reason: 'ItemOffsetList[0] inside the FMP header', from: 'unsigned-4k.cap',
    patch: [u('u64', 40, 8, 'ItemOffsetList[0]')], error: 'CAPSULE_INVALID', message: 'ItemOffsetList\\[0\\] \\(0x00000008\\) < 16 \\(8 \\+ 8 x 1\\)' },
  { file: 'item-offsets-decreasing.cap', category: 'format', reason: 'ItemOffsetList[0] and [1] swapped (each still points at an image header)', from: '2payload-mixed.cap',
    patch: [u('u64', 40, ref('item1'), 'ItemOffsetList[0]'), u('u64', 48, ref('item0'), 'ItemOffsetList[1]')],
    error: 'CAPSULE_INVALID', message: 'ItemOffsetList\\[1\\] <= ItemOffsetList\\[0\\]: offsets must strictly increase' },
  { file: 'item-too-small.cap', category: 'format', reason: 'payload 0 is 2 bytes long', from: '2payload-mixed.cap',
    patch: [u('u64', 48, ref('item0', 2), 'ItemOffsetList[1]')], error: 'CAPSULE_INVALID', message: 'payload 0: item is 2 bytes, too small for an image header' },
  { file: 'image-header-version-4.cap', category: 'format', reason: 'image header Version 4', from: 'unsigned-4k.cap',
    patch: [u('u32', 48, 4, 'image header Version')], error: 'CAPSULE_INVALID', message: 'payload 0: image header Version 4 is unknown' },
  { file: 'item-shorter-than-image-header.cap', category: 'format', reason: 'payload 0 is 40 bytes, its v3 header 48', from: '2payload-mixed.cap',
    patch: [u('u64', 48, ref('item0', 40), 'ItemOffsetList[1]')], error: 'CAPSULE_INVALID', message: 'payload 0: item size 40 < image header size 48 \\(version 3\\)' },
  { file: 'update-image-size-inconsistent.cap', category: 'format', reason: 'UpdateImageSize claims 8 bytes more than the item holds', from: 'unsigned-persist-reset.cap',
    patch: [u('u32', 72, ref('p0.updateImageSize', 8), 'UpdateImageSize')], error: 'CAPSULE_INVALID',
    message: 'payload 0: item size 5619 != image header 48 \\+ UpdateImageSize 5579 \\+ UpdateVendorCodeSize 0' },
  { file: 'auth-too-small.cap', category: 'format', reason: 'authentication announced in a 21-byte update image', from: tinyPayload,
    patch: [u('u64', 88, 1, 'ImageCapsuleSupport')], error: 'CAPSULE_INVALID', message: 'payload 0: UpdateImageSize 21 is too small for EFI_FIRMWARE_IMAGE_AUTHENTICATION \\(32 bytes\\)' },
  { file: 'auth-no-certdata.cap', category: 'format', reason: 'AuthInfo.Hdr.dwLength 24: no CertData', from: 'signed-sha256-mc.cap',
    patch: [u('u32', 104, 24, 'dwLength')], error: 'CAPSULE_INVALID', message: 'payload 0: AuthInfo\\.Hdr\\.dwLength \\(24\\) <= 24: no CertData' },
  { file: 'auth-length-past-end.cap', category: 'format', reason: 'dwLength runs past the update image', from: 'signed-sha256-mc.cap',
    patch: [u('u32', 104, 0xffffff00, 'dwLength')], error: 'CAPSULE_INVALID',
    message: 'payload 0: MonotonicCount \\+ AuthInfo\\.Hdr\\.dwLength \\(8 \\+ 4294967040\\) >= UpdateImageSize \\({p0.updateImageSize}\\)' },
  { file: 'auth-bad-revision.cap', category: 'format', reason: 'wRevision 0x0100', from: 'signed-sha256-mc.cap',
    patch: [u('u16', 108, 0x0100, 'wRevision')], error: 'CAPSULE_INVALID', message: 'payload 0: AuthInfo\\.Hdr\\.wRevision 0x0100 != 0x0200' },
  { file: 'auth-bad-cert-type.cap', category: 'format', reason: 'wCertificateType 0x0002 (PKCS_SIGNED_DATA) instead of 0x0EF1', from: 'signed-sha256-mc.cap',
    patch: [u('u16', 110, 0x0002, 'wCertificateType')], error: 'CAPSULE_INVALID', message: 'payload 0: AuthInfo\\.Hdr\\.wCertificateType 0x0002 != 0x0EF1' },
  { file: 'auth-not-pkcs7-guid.cap', category: 'format', reason: 'CertType is not EFI_CERT_TYPE_PKCS7_GUID', from: 'signed-sha256-mc.cap',
    patch: [u('u32', 112, 0, 'CertType first field')], error: 'CAPSULE_INVALID',
    message: 'payload 0: AuthInfo\\.CertType 00000000-68DF-49EE-8AA9-347D375665A7 != EFI_CERT_TYPE_PKCS7_GUID' },
  { file: 'dependency-no-room.cap', category: 'format', reason: 'a dependency announced in an empty update image', from: 'unsigned-4k.cap',
    patch: [{ op: 'truncate', length: 96, what: 'after the image header' }, fix, u('u32', 72, 0, 'UpdateImageSize'), u('u64', 88, 2, 'ImageCapsuleSupport')],
    error: 'CAPSULE_INVALID', message: 'payload 0: ImageCapsuleSupport announces a dependency but the update image ends before it' },
  { file: 'dependency-invalid.cap', category: 'format', reason: "a dependency announced where the MSS1 header is ('M' is no opcode)", from: 'unsigned-4k.cap',
    patch: [u('u64', 88, 2, 'ImageCapsuleSupport')], error: 'CAPSULE_INVALID', message: 'payload 0: dependency expression invalid: unknown opcode 0x4d at \\+0' },
  { file: 'payload-empty.cap', category: 'format', reason: 'the update image is only an MSS1 header', from: 'unsigned-4k.cap',
    patch: [{ op: 'truncate', length: 112, what: 'after the MSS1 header' }, fix, u('u32', 72, 16, 'UpdateImageSize')],
    error: 'CAPSULE_INVALID', message: 'payload 0: 16 bytes left for the FMP payload, not more than the 16-byte FMP_PAYLOAD_HEADER' },
  { file: 'mss1-signature-altered.cap', category: 'format', reason: "FMP_PAYLOAD_HEADER signature '1SSM'", from: 'unsigned-4k.cap',
    patch: [u('u32', 96, 0x4d535331, 'MSS1 Signature')], error: 'CAPSULE_INVALID', message: "payload 0: FMP_PAYLOAD_HEADER\\.Signature 0x4D535331 \\(\"1SSM\"\\) != 'MSS1'" },
  { file: 'mss1-header-size-small.cap', category: 'format', reason: 'FMP_PAYLOAD_HEADER.HeaderSize 8', from: 'unsigned-4k.cap',
    patch: [u('u32', 100, 8, 'MSS1 HeaderSize')], error: 'CAPSULE_INVALID', message: 'payload 0: FMP_PAYLOAD_HEADER\\.HeaderSize \\(8\\) < 16' },
  { file: 'mss1-header-size-large.cap', category: 'format', reason: 'FMP_PAYLOAD_HEADER.HeaderSize covers the whole payload', from: 'unsigned-4k.cap',
    patch: [u('u32', 100, 4112, 'MSS1 HeaderSize')], error: 'CAPSULE_INVALID', message: 'payload 0: FMP_PAYLOAD_HEADER\\.HeaderSize \\(4112\\) leaves no payload in the 4112 bytes that remain' },
  // The signature paths: the structure is intact, the PKCS#7 check fails.
  { file: 'signed-payload-byte-flipped.cap', category: 'auth', reason: 'top bit of the last payload byte flipped', from: 'signed-sha256-mc.cap',
    patch: [{ op: 'xor', at: ref('p0.end', -1), mask: 0x80, what: 'last payload byte' }], error: 'IMAGE_SIGNATURE_INVALID',
    message: 'payload 0: PKCS#7 signature does not verify: .*[Mm]essage digest' },
  { file: 'monotonic-count-altered.cap', category: 'auth', reason: 'MonotonicCount high dword 1 -> 2 (the count is signed)', from: 'signed-large-version.cap',
    patch: [u('u32', ref('p0.auth', 4), 2, 'MonotonicCount high dword')], error: 'IMAGE_SIGNATURE_INVALID',
    message: 'payload 0: PKCS#7 signature does not verify: .*[Mm]essage digest' },
  { file: 'signature-value-flipped.cap', category: 'auth', reason: 'a bit of the RSA signature value (the end of CertData) flipped', from: 'signed-sha256-mc.cap',
    patch: [{ op: 'xor', at: ref('p0.signedContentStart', -10), mask: 0x01, what: 'RSA signature value' }], error: 'IMAGE_SIGNATURE_INVALID',
    message: 'payload 0: PKCS#7 signature does not verify: SignerInfo 0: the signature does not verify over the signed content' },
  { file: 'untrusted-signer.cap', category: 'auth', reason: 'a good signature by a certificate of another root CA (wrong certificate)', from: signedAs('(built)', 'untrusted'),
    patch: [], error: 'IMAGE_SIGNATURE_UNKNOWN_KEY', message: 'payload 0: signed by .*CN=fwup TEST ONLY untrusted signer, which is not trusted: the chain .* ends at .*untrusted root' },
  { file: 'missing-intermediate.cap', category: 'auth', reason: 'good signature, but CertData does not carry the intermediate CA the chain needs', from: signedAs('(built)', 'test-no-intermediate'),
    patch: [], error: 'IMAGE_SIGNATURE_UNKNOWN_KEY', message: 'payload 0: signed by .*CN=fwup TEST ONLY signer, which is not trusted: .*issuer \\(.*CN=fwup TEST ONLY intermediate CA\\) is neither carried nor trusted' },
  { file: 'certdata-not-der.cap', category: 'auth', reason: 'CertData is not DER', from: signedAs('(built)', 'test', 'not-der'),
    patch: [], error: 'IMAGE_SIGNATURE_INVALID', message: 'payload 0: PKCS#7 signature does not verify: CertData is not a DER PKCS#7 SignedData' },
  { file: 'certdata-not-signed-data.cap', category: 'auth', reason: 'CertData is a PKCS#7 ContentInfo of type data', from: signedAs('(built)', 'test', 'not-signed-data'),
    patch: [], error: 'IMAGE_SIGNATURE_INVALID', message: 'payload 0: PKCS#7 signature does not verify: CertData is a PKCS#7 1\\.2\\.840\\.113549\\.1\\.7\\.1, not signedData' },
  { file: 'certdata-attached-content.cap', category: 'auth', reason: 'the SignedData carries the content (not detached)', from: signedAs('(built)', 'test', 'attached-content'),
    patch: [], error: 'IMAGE_SIGNATURE_INVALID', message: 'payload 0: PKCS#7 signature does not verify: the SignedData carries its own content',
    openssl: { verdict: 'ok', divergence: 'OpenSSL PKCS7_verify (and so edk2 Pkcs7Verify) uses the detached content it is given and ignores the attached copy; fwup refuses a SignedData that carries content' } },
  { file: 'certdata-no-signer-info.cap', category: 'auth', reason: 'the SignedData has no SignerInfo', from: signedAs('(built)', 'test', 'no-signer-info'),
    patch: [], error: 'IMAGE_SIGNATURE_INVALID', message: 'payload 0: PKCS#7 signature does not verify: the SignedData has no SignerInfo' },
];

/** The test CA openssl makes (once; the keys are committed and public: TEST ONLY). */
export const TEST_CERTS: Array<{ name: string; cn: string; issuer: string | null; ca: boolean; serial: number }> = [
  { name: 'test-root', cn: 'fwup TEST ONLY root CA', issuer: null, ca: true, serial: 1 },
  { name: 'test-intermediate', cn: 'fwup TEST ONLY intermediate CA', issuer: 'test-root', ca: true, serial: 2 },
  { name: 'test-signer', cn: 'fwup TEST ONLY signer', issuer: 'test-intermediate', ca: false, serial: 3 },
  { name: 'untrusted-root', cn: 'fwup TEST ONLY untrusted root CA', issuer: null, ca: true, serial: 4 },
  { name: 'untrusted-signer', cn: 'fwup TEST ONLY untrusted signer', issuer: 'untrusted-root', ca: false, serial: 5 },
];
export const CERT_ORG = 'fwup test fixtures - TEST ONLY - private keys are public';
