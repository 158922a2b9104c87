import { FwupError } from '../errors/fwup-error.js';
import {
  CAPSULE_FLAGS,
  CAPSULE_SUPPORT_AUTHENTICATION,
  CAPSULE_SUPPORT_DEPENDENCY,
  FMP_CAPSULE_GUID,
  FMP_CAPSULE_HEADER_VERSION,
  FMP_PAYLOAD_HEADER_SIGNATURE,
  GENERATE_CAPSULE_HEADER_SIZE,
  MONOTONIC_COUNT_SIZE,
  OEM_FLAGS_MASK,
  PKCS7_CERT_TYPE_GUID,
  WIN_CERTIFICATE_UEFI_GUID_HEADER_SIZE,
  WIN_CERT_REVISION,
  WIN_CERT_TYPE_EFI_GUID,
  capsuleHeaderLayout,
  firmwareImageAuthLayout,
  fmpCapsuleHeaderLayout,
  fmpPayloadHeaderLayout,
  imageHeaderV3Layout,
  itemOffsetLayout,
  type CapsuleFlagName,
} from './capsule-layouts.js';
import { scanDependency } from './capsule-dependency.js';

/**
 * Build a UEFI FMP capsule with the bytes edk2's GenerateCapsule (0.12) writes for the same inputs:
 * a 32-byte capsule header, the FMP header and ItemOffsetList, embedded drivers, then per payload a
 * version 3 image header and the update image [authentication][dependency] MSS1 header, payload.
 * Signed capsules differ from GenerateCapsule's only in the PKCS#7 bytes (signing time, signature).
 */

/** Produces CertData: a DER PKCS#7 SignedData, detached, over `content`. */
export interface CapsuleSigner {
  sign(content: Buffer): Promise<Buffer>;
}

export interface CapsulePayloadSpec {
  imageTypeId: string;
  fwVersion: number;
  lowestSupportedVersion: number;
  /** 1-based ImageIndex for SetImage; GenerateCapsule's default is 1. */
  updateImageIndex: number;
  hardwareInstance: bigint;
  /** Written (and signed) only when the payload is signed. */
  monotonicCount: bigint;
  payload: Buffer;
  /** An encoded EFI_FIRMWARE_IMAGE_DEP, END opcode included. */
  dependency?: Buffer | null;
  vendorCode?: Buffer | null;
  signer?: CapsuleSigner | null;
}

export interface CapsuleSpec {
  flags: readonly CapsuleFlagName[];
  oemFlags: number;
  embeddedDrivers: readonly Buffer[];
  payloads: readonly CapsulePayloadSpec[];
}

const U32_MAX = 0xffff_ffff;
const U64_MAX = 0xffff_ffff_ffff_ffffn;

function usage(message: string, hint?: string): FwupError {
  return new FwupError('USAGE', message, hint ? { hint } : {});
}

export function capsuleFlagsValue(flags: readonly CapsuleFlagName[], oemFlags: number): number {
  if (!Number.isInteger(oemFlags) || oemFlags < 0 || oemFlags > OEM_FLAGS_MASK) {
    throw usage(`OEM flags ${oemFlags} do not fit in 16 bits`, 'give --capoemflag between 0x0000 and 0xFFFF');
  }
  if (flags.includes('PopulateSystemTable')) throw usage('PopulateSystemTable is not allowed on an FMP capsule');
  if (flags.includes('InitiateReset') && !flags.includes('PersistAcrossReset')) {
    throw usage('--capflag InitiateReset also requires --capflag PersistAcrossReset');
  }
  return flags.reduce((v, f) => v | CAPSULE_FLAGS[f], oemFlags) >>> 0;
}

function checkPayloadSpec(p: CapsulePayloadSpec, k: number): void {
  const where = `payload ${k}`;
  const u32 = (v: number, what: string) => {
    if (!Number.isInteger(v) || v < 0 || v > U32_MAX) throw usage(`${where}: ${what} ${v} is not an unsigned 32-bit number`);
  };
  u32(p.fwVersion, 'FwVersion');
  u32(p.lowestSupportedVersion, 'LowestSupportedVersion');
  if (!Number.isInteger(p.updateImageIndex) || p.updateImageIndex < 1 || p.updateImageIndex > 0xff) {
    throw usage(`${where}: UpdateImageIndex ${p.updateImageIndex} must be 1 to 255`);
  }
  for (const [v, what] of [[p.hardwareInstance, 'HardwareInstance'], [p.monotonicCount, 'MonotonicCount']] as const) {
    if (v < 0n || v > U64_MAX) throw usage(`${where}: ${what} ${v} is not an unsigned 64-bit number`);
  }
  if (p.payload.length === 0) throw usage(`${where}: the payload is empty`, 'edk2 rejects an FMP payload with no bytes after its FMP_PAYLOAD_HEADER');
  if (p.dependency) {
    const scan = scanDependency(p.dependency);
    if (scan.size !== p.dependency.length) throw usage(`${where}: the dependency expression is invalid: ${scan.problem ?? 'bytes after its END opcode'}`);
  }
}

/** The update image of one payload and its ImageCapsuleSupport bits. */
async function buildUpdateImage(p: CapsulePayloadSpec): Promise<{ image: Buffer; support: bigint }> {
  const mss = fmpPayloadHeaderLayout.serialize({
    Signature: FMP_PAYLOAD_HEADER_SIGNATURE,
    HeaderSize: fmpPayloadHeaderLayout.size,
    FwVersion: p.fwVersion,
    LowestSupportedVersion: p.lowestSupportedVersion,
  });
  let support = 0n;
  const parts = [mss, p.payload];
  if (p.dependency && p.dependency.length > 0) {
    parts.unshift(p.dependency);
    support |= CAPSULE_SUPPORT_DEPENDENCY;
  }
  const signedPart = Buffer.concat(parts);
  if (!p.signer) return { image: signedPart, support };

  const count = Buffer.alloc(MONOTONIC_COUNT_SIZE);
  count.writeBigUInt64LE(p.monotonicCount);
  const certData = await p.signer.sign(Buffer.concat([signedPart, count]));
  const auth = firmwareImageAuthLayout.serialize({
    MonotonicCount: p.monotonicCount,
    dwLength: WIN_CERTIFICATE_UEFI_GUID_HEADER_SIZE + certData.length,
    wRevision: WIN_CERT_REVISION,
    wCertificateType: WIN_CERT_TYPE_EFI_GUID,
    CertType: PKCS7_CERT_TYPE_GUID,
  });
  return { image: Buffer.concat([auth, certData, signedPart]), support: support | CAPSULE_SUPPORT_AUTHENTICATION };
}

export async function buildCapsule(spec: CapsuleSpec): Promise<Buffer> {
  const flags = capsuleFlagsValue(spec.flags, spec.oemFlags);
  const itemNum = spec.embeddedDrivers.length + spec.payloads.length;
  if (spec.payloads.length === 0) throw usage('a capsule needs at least one payload');
  if (spec.payloads.length > 0xffff || spec.embeddedDrivers.length > 0xffff) throw usage('a capsule holds at most 65535 payloads and 65535 drivers');
  spec.payloads.forEach(checkPayloadSpec);
  spec.embeddedDrivers.forEach((d, i) => {
    if (d.length === 0) throw usage(`embedded driver ${i} is empty`, 'edk2 needs ItemOffsetList offsets to strictly increase');
  });

  const items: Buffer[] = [...spec.embeddedDrivers];
  for (const p of spec.payloads) {
    const { image, support } = await buildUpdateImage(p);
    const vendorCode = p.vendorCode ?? Buffer.alloc(0);
    const header = imageHeaderV3Layout.serialize({
      Version: 3,
      UpdateImageTypeId: p.imageTypeId,
      UpdateImageIndex: p.updateImageIndex,
      reserved_bytes: Buffer.alloc(3),
      UpdateImageSize: image.length,
      UpdateVendorCodeSize: vendorCode.length,
      UpdateHardwareInstance: p.hardwareInstance,
      ImageCapsuleSupport: support,
    });
    items.push(Buffer.concat([header, image, vendorCode]));
  }

  const fmpHeaderSize = fmpCapsuleHeaderLayout.size + itemOffsetLayout.size * itemNum;
  const fmp = Buffer.alloc(fmpHeaderSize);
  fmpCapsuleHeaderLayout.serialize(
    { Version: FMP_CAPSULE_HEADER_VERSION, EmbeddedDriverCount: spec.embeddedDrivers.length, PayloadItemCount: spec.payloads.length },
    fmp,
  );
  let offset = fmpHeaderSize;
  items.forEach((item, i) => {
    itemOffsetLayout.serialize({ Offset: BigInt(offset) }, fmp, fmpCapsuleHeaderLayout.size + itemOffsetLayout.size * i);
    offset += item.length;
  });

  const total = GENERATE_CAPSULE_HEADER_SIZE + offset;
  if (total > U32_MAX) throw new FwupError('IMAGE_TOO_LARGE', `the capsule would be ${total} bytes; CapsuleImageSize is a 32-bit field`);
  const header = Buffer.alloc(GENERATE_CAPSULE_HEADER_SIZE); // the last 4 bytes stay zero, as GenerateCapsule writes them
  capsuleHeaderLayout.serialize({ CapsuleGuid: FMP_CAPSULE_GUID, HeaderSize: GENERATE_CAPSULE_HEADER_SIZE, Flags: flags, CapsuleImageSize: total }, header);
  return Buffer.concat([header, fmp, ...items], total);
}
