import { defineLayout, type StructOf } from '../util/layout.js';

/**
 * The binary structures of a UEFI FMP capsule, declared once (UEFI 2.10 §23.3, edk2 MdePkg and
 * FmpDevicePkg). Byte-by-byte description and the rules applied to them: docs/capsule-format.md.
 */

/** EFI_FIRMWARE_MANAGEMENT_CAPSULE_ID_GUID: the CapsuleGuid of every FMP capsule. */
export const FMP_CAPSULE_GUID = '6DCBD5ED-E82D-4C44-BDA1-7194199AD92A';
/** EFI_CERT_TYPE_PKCS7_GUID: the CertType of a PKCS#7 WIN_CERTIFICATE_UEFI_GUID. */
export const PKCS7_CERT_TYPE_GUID = '4AAFD29D-68DF-49EE-8AA9-347D375665A7';

/** EFI_CAPSULE_HEADER.Flags: bits 16..18 are defined by UEFI, bits 0..15 belong to the OEM. */
export const CAPSULE_FLAGS = {
  PersistAcrossReset: 0x0001_0000,
  PopulateSystemTable: 0x0002_0000,
  InitiateReset: 0x0004_0000,
} as const;
export type CapsuleFlagName = keyof typeof CAPSULE_FLAGS;
export const OEM_FLAGS_MASK = 0xffff;

/** EFI_FIRMWARE_MANAGEMENT_CAPSULE_IMAGE_HEADER.ImageCapsuleSupport bits (version 3). */
export const CAPSULE_SUPPORT_AUTHENTICATION = 0x1n;
export const CAPSULE_SUPPORT_DEPENDENCY = 0x2n;

export const FMP_CAPSULE_HEADER_VERSION = 1;
export const IMAGE_HEADER_VERSION_MAX = 3;
export const WIN_CERT_REVISION = 0x0200;
export const WIN_CERT_TYPE_EFI_GUID = 0x0ef1;
/** 'MSS1' read as a little-endian u32. */
export const FMP_PAYLOAD_HEADER_SIGNATURE = 0x3153534d;

/** The 28-byte UEFI struct. */
export const capsuleHeaderLayout = defineLayout('EFI_CAPSULE_HEADER', [
  { name: 'CapsuleGuid', type: 'guid', doc: 'FMP capsule GUID' },
  { name: 'HeaderSize', type: 'u32', doc: 'where the FMP capsule header starts' },
  { name: 'Flags', type: 'u32', doc: 'bits 0-15 OEM, 16 PersistAcrossReset, 17 PopulateSystemTable, 18 InitiateReset' },
  { name: 'CapsuleImageSize', type: 'u32', doc: 'the whole capsule, headers included' },
] as const);
export type CapsuleHeader = StructOf<typeof capsuleHeaderLayout.fields>;

/**
 * edk2's GenerateCapsule packs the header as '<16sIIII': the UEFI struct then four zero bytes, with
 * HeaderSize = 32. Readers must follow HeaderSize; the builder writes what GenerateCapsule writes.
 */
export const GENERATE_CAPSULE_HEADER_SIZE = 32;

export const fmpCapsuleHeaderLayout = defineLayout('EFI_FIRMWARE_MANAGEMENT_CAPSULE_HEADER', [
  { name: 'Version', type: 'u32', doc: '1' },
  { name: 'EmbeddedDriverCount', type: 'u16' },
  { name: 'PayloadItemCount', type: 'u16' },
] as const);

/** One entry of ItemOffsetList, which follows the FMP capsule header: offsets relative to that header. */
export const itemOffsetLayout = defineLayout('ItemOffsetList[]', [{ name: 'Offset', type: 'u64' }] as const);

const imageHeaderV1Fields = [
  { name: 'Version', type: 'u32', doc: '1, 2 or 3' },
  { name: 'UpdateImageTypeId', type: 'guid', doc: 'matched against the FMP ImageTypeId' },
  { name: 'UpdateImageIndex', type: 'u8', doc: 'ImageIndex passed to SetImage, 1-based' },
  { name: 'reserved_bytes', type: 'bytes', length: 3, doc: 'zero' },
  { name: 'UpdateImageSize', type: 'u32', doc: 'bytes of update image after this header' },
  { name: 'UpdateVendorCodeSize', type: 'u32', doc: 'vendor code bytes after the update image' },
] as const;
const hardwareInstanceField = { name: 'UpdateHardwareInstance', type: 'u64', doc: '0 = every instance' } as const;
const capsuleSupportField = { name: 'ImageCapsuleSupport', type: 'u64', doc: 'bit 0 authentication, bit 1 dependency' } as const;

export const imageHeaderV1Layout = defineLayout('EFI_FIRMWARE_MANAGEMENT_CAPSULE_IMAGE_HEADER v1', imageHeaderV1Fields);
export const imageHeaderV2Layout = defineLayout('EFI_FIRMWARE_MANAGEMENT_CAPSULE_IMAGE_HEADER v2', [
  ...imageHeaderV1Fields,
  hardwareInstanceField,
] as const);
export const imageHeaderV3Layout = defineLayout('EFI_FIRMWARE_MANAGEMENT_CAPSULE_IMAGE_HEADER v3', [
  ...imageHeaderV1Fields,
  hardwareInstanceField,
  capsuleSupportField,
] as const);
export type ImageHeaderV3 = StructOf<typeof imageHeaderV3Layout.fields>;

/** Header size by image header version (v1 = 32, v2 = 40, v3 = 48), as edk2's ValidateFmpCapsule uses it. */
export const IMAGE_HEADER_LAYOUTS = { 1: imageHeaderV1Layout, 2: imageHeaderV2Layout, 3: imageHeaderV3Layout } as const;

/**
 * EFI_FIRMWARE_IMAGE_AUTHENTICATION: MonotonicCount then WIN_CERTIFICATE_UEFI_GUID, whose CertData
 * (dwLength - 24 bytes of DER PKCS#7 SignedData) follows these 32 bytes.
 */
export const firmwareImageAuthLayout = defineLayout('EFI_FIRMWARE_IMAGE_AUTHENTICATION', [
  { name: 'MonotonicCount', type: 'u64', doc: 'signed with the image, appended after it' },
  { name: 'dwLength', type: 'u32', doc: 'WIN_CERTIFICATE_UEFI_GUID length: 24 + CertData' },
  { name: 'wRevision', type: 'u16', doc: '0x0200' },
  { name: 'wCertificateType', type: 'u16', doc: '0x0EF1 (WIN_CERT_TYPE_EFI_GUID)' },
  { name: 'CertType', type: 'guid', doc: 'EFI_CERT_TYPE_PKCS7_GUID' },
] as const);
/** OFFSET_OF (WIN_CERTIFICATE_UEFI_GUID, CertData). */
export const WIN_CERTIFICATE_UEFI_GUID_HEADER_SIZE = 24;
export const MONOTONIC_COUNT_SIZE = 8;

/** edk2 FmpDevicePkg's FMP_PAYLOAD_HEADER (FmpPayloadHeaderLibV1). */
export const fmpPayloadHeaderLayout = defineLayout('FMP_PAYLOAD_HEADER', [
  { name: 'Signature', type: 'u32', doc: "'MSS1'" },
  { name: 'HeaderSize', type: 'u32', doc: '16' },
  { name: 'FwVersion', type: 'u32', doc: 'version of the firmware in this payload' },
  { name: 'LowestSupportedVersion', type: 'u32', doc: 'oldest version this payload may replace' },
] as const);

export function capsuleFlagNames(flags: number): CapsuleFlagName[] {
  return (Object.keys(CAPSULE_FLAGS) as CapsuleFlagName[]).filter((n) => (flags & CAPSULE_FLAGS[n]) !== 0);
}
