import { FwupError } from '../errors/fwup-error.js';
import {
  CAPSULE_FLAGS,
  CAPSULE_SUPPORT_AUTHENTICATION,
  CAPSULE_SUPPORT_DEPENDENCY,
  FMP_CAPSULE_GUID,
  FMP_CAPSULE_HEADER_VERSION,
  FMP_PAYLOAD_HEADER_SIGNATURE,
  GENERATE_CAPSULE_HEADER_SIZE,
  IMAGE_HEADER_LAYOUTS,
  IMAGE_HEADER_VERSION_MAX,
  MONOTONIC_COUNT_SIZE,
  PKCS7_CERT_TYPE_GUID,
  WIN_CERTIFICATE_UEFI_GUID_HEADER_SIZE,
  WIN_CERT_REVISION,
  WIN_CERT_TYPE_EFI_GUID,
  capsuleHeaderLayout,
  type CapsuleHeader,
  firmwareImageAuthLayout,
  fmpCapsuleHeaderLayout,
  fmpPayloadHeaderLayout,
  itemOffsetLayout,
} from './capsule-layouts.js';
import { scanDependency } from './capsule-dependency.js';

/**
 * Parse a UEFI FMP capsule held in memory and apply the checks edk2 applies before it trusts one
 * (CapsuleRuntimeDxe UpdateCapsule, DxeCapsuleLibFmp IsValidCapsuleHeader / ValidateFmpCapsule,
 * FmpAuthenticationLibPkcs7, FmpDependencyLib, FmpPayloadHeaderLibV1), plus the stricter field checks of
 * the GenerateCapsule decoder (BaseTools Common/Uefi/Capsule/*.py Decode). Every rule has its own message,
 * and no byte outside the buffer is ever read: bounds are checked before each struct is parsed.
 * The signature is not checked here (see capsule-verify.ts): this is the structure only.
 */

export interface CapsuleAuth {
  monotonicCount: bigint;
  dwLength: number;
  wRevision: number;
  wCertificateType: number;
  certType: string;
  /** The DER PKCS#7 SignedData (a view into the capsule bytes). */
  certData: Buffer;
}

export interface CapsuleDependency {
  size: number;
  text: string;
}

export interface CapsuleFileOffsets {
  imageHeader: number;
  image: number;
  auth?: number;
  certData?: number;
  signedContentStart?: number;
  dependency?: number;
  fmpPayloadHeader: number;
  payload: number;
  end: number;
  vendorCode?: number;
}

export interface CapsulePayloadItem {
  /** Position among the payloads (0-based; ItemOffsetList index minus EmbeddedDriverCount). */
  index: number;
  itemOffset: bigint;
  imageHeaderVersion: number;
  imageHeaderSize: number;
  updateImageTypeId: string;
  updateImageIndex: number;
  updateImageSize: number;
  updateVendorCodeSize: number;
  /** Absent before image header version 2: reported as 0 ("every instance"), as edk2 treats it. */
  hardwareInstance: bigint;
  /** Absent before version 3: reported as 0. */
  imageCapsuleSupport: bigint;
  auth: CapsuleAuth | null;
  dependency: CapsuleDependency | null;
  fmpPayloadHeader: { signature: string; headerSize: number; fwVersion: number; lowestSupportedVersion: number };
  /** The firmware bytes after the FMP payload header (a view into the capsule bytes). */
  payload: Buffer;
  fileOffsets: CapsuleFileOffsets;
}

export interface EmbeddedDriverItem {
  itemOffset: bigint;
  fileOffset: number;
  length: number;
  bytes: Buffer;
}

export interface ParsedCapsule {
  capsuleGuid: string;
  headerSize: number;
  flags: number;
  capsuleImageSize: number;
  fmpVersion: number;
  embeddedDriverCount: number;
  payloadItemCount: number;
  itemOffsets: bigint[];
  embeddedDrivers: EmbeddedDriverItem[];
  payloads: CapsulePayloadItem[];
}

const FMP_HEADER_SIZE = fmpCapsuleHeaderLayout.size;
const OFFSET_SIZE = itemOffsetLayout.size;

function invalid(rule: string, hint?: string): FwupError {
  return new FwupError('CAPSULE_INVALID', `invalid capsule: ${rule}`, {
    hint: hint ?? 'the capsule is damaged, truncated, or was not made by a conforming tool; docs/capsule-format.md lists the rules',
    details: { rule },
  });
}

const hex = (n: number | bigint, width = 8) => `0x${n.toString(16).toUpperCase().padStart(width, '0')}`;

/**
 * The checks on EFI_CAPSULE_HEADER alone, given the size of the whole file: a reader calls this on the
 * first 28 bytes before it reads (or allocates) the rest, so a wrong CapsuleImageSize costs nothing.
 */
export function checkCapsuleHeader(head: Buffer, fileSize: number): CapsuleHeader {
  if (head.length < capsuleHeaderLayout.size) {
    throw invalid(`file is ${fileSize} bytes, shorter than the ${capsuleHeaderLayout.size}-byte EFI_CAPSULE_HEADER`);
  }
  const h = capsuleHeaderLayout.parse(head, 0);
  if (h.CapsuleGuid !== FMP_CAPSULE_GUID) {
    throw invalid(`CapsuleGuid ${h.CapsuleGuid} is not the FMP capsule GUID ${FMP_CAPSULE_GUID}`);
  }
  if (h.CapsuleImageSize !== fileSize) {
    throw invalid(`CapsuleImageSize (${h.CapsuleImageSize}) != file size (${fileSize})`, 'the file was truncated or extended, or the header was changed');
  }
  if (h.HeaderSize < capsuleHeaderLayout.size) {
    throw invalid(`HeaderSize (${h.HeaderSize}) < ${capsuleHeaderLayout.size}: smaller than EFI_CAPSULE_HEADER`);
  }
  // edk2 BaseTools UefiCapsuleHeader.py Decode reads a 32-byte header (the UEFI struct and 4 reserved
  // bytes) and refuses a HeaderSize below that size, so 28..31 is refused too.
  if (h.HeaderSize < GENERATE_CAPSULE_HEADER_SIZE) {
    throw invalid(`HeaderSize (${h.HeaderSize}) < ${GENERATE_CAPSULE_HEADER_SIZE}: smaller than the header GenerateCapsule's decoder requires (EFI_CAPSULE_HEADER + 4 reserved bytes)`);
  }
  if (h.HeaderSize >= h.CapsuleImageSize) {
    throw invalid(`HeaderSize (${h.HeaderSize}) >= CapsuleImageSize (${h.CapsuleImageSize}): no room for the FMP capsule`);
  }
  if ((h.Flags & (CAPSULE_FLAGS.PersistAcrossReset | CAPSULE_FLAGS.InitiateReset)) === CAPSULE_FLAGS.InitiateReset) {
    throw invalid(`Flags ${hex(h.Flags)}: InitiateReset requires PersistAcrossReset`);
  }
  if ((h.Flags & CAPSULE_FLAGS.PopulateSystemTable) !== 0) {
    throw invalid(`Flags ${hex(h.Flags)}: PopulateSystemTable is not allowed on an FMP capsule`);
  }
  return h;
}

export function parseCapsule(bytes: Buffer): ParsedCapsule {
  const h = checkCapsuleHeader(bytes.subarray(0, capsuleHeaderLayout.size), bytes.length);
  const fmpAt = h.HeaderSize;
  const fmpSize = h.CapsuleImageSize - fmpAt;
  if (fmpSize < FMP_HEADER_SIZE) {
    throw invalid(`FMP capsule size (${fmpSize}) < ${FMP_HEADER_SIZE}: too small for EFI_FIRMWARE_MANAGEMENT_CAPSULE_HEADER`);
  }
  const fmp = fmpCapsuleHeaderLayout.parse(bytes, fmpAt);
  if (fmp.Version !== FMP_CAPSULE_HEADER_VERSION) {
    throw invalid(`EFI_FIRMWARE_MANAGEMENT_CAPSULE_HEADER.Version (${fmp.Version}) != ${FMP_CAPSULE_HEADER_VERSION}`);
  }
  const itemNum = fmp.EmbeddedDriverCount + fmp.PayloadItemCount;
  if (itemNum === 0) {
    throw invalid('EmbeddedDriverCount + PayloadItemCount is 0: the capsule carries nothing');
  }
  if (Math.floor((fmpSize - FMP_HEADER_SIZE) / OFFSET_SIZE) < itemNum) {
    throw invalid(
      `item count ${itemNum} (EmbeddedDriverCount ${fmp.EmbeddedDriverCount} + PayloadItemCount ${fmp.PayloadItemCount}) too big: ` +
        `ItemOffsetList would not fit in the ${fmpSize}-byte FMP capsule`,
    );
  }
  const fmpHeaderSize = FMP_HEADER_SIZE + OFFSET_SIZE * itemNum;
  const offsets: bigint[] = [];
  for (let i = 0; i < itemNum; i++) {
    const o = itemOffsetLayout.parse(bytes, fmpAt + FMP_HEADER_SIZE + OFFSET_SIZE * i).Offset;
    if (o >= BigInt(fmpSize)) {
      throw invalid(`ItemOffsetList[${i}] (${hex(o)}) >= FMP capsule size (${hex(fmpSize)}): the item starts outside the capsule`);
    }
    if (o < BigInt(fmpHeaderSize)) {
      throw invalid(`ItemOffsetList[${i}] (${hex(o)}) < ${fmpHeaderSize} (8 + 8 x ${itemNum}): the item starts inside the FMP header`);
    }
    if (i > 0 && o <= offsets[i - 1]!) {
      throw invalid(`ItemOffsetList[${i}] <= ItemOffsetList[${i - 1}]: offsets must strictly increase (${hex(o)} <= ${hex(offsets[i - 1]!)})`);
    }
    offsets.push(o);
  }
  // Offsets are now known to be below fmpSize (< 2^32), so Number() is exact.
  const itemStart = (i: number) => fmpAt + Number(offsets[i]!);
  const itemEnd = (i: number) => (i + 1 < itemNum ? itemStart(i + 1) : h.CapsuleImageSize);

  const embeddedDrivers: EmbeddedDriverItem[] = [];
  for (let i = 0; i < fmp.EmbeddedDriverCount; i++) {
    const start = itemStart(i);
    const end = itemEnd(i);
    embeddedDrivers.push({ itemOffset: offsets[i]!, fileOffset: start, length: end - start, bytes: bytes.subarray(start, end) });
  }
  const payloads: CapsulePayloadItem[] = [];
  for (let i = fmp.EmbeddedDriverCount; i < itemNum; i++) {
    payloads.push(parsePayloadItem(bytes, i - fmp.EmbeddedDriverCount, offsets[i]!, itemStart(i), itemEnd(i)));
  }
  return {
    capsuleGuid: h.CapsuleGuid,
    headerSize: h.HeaderSize,
    flags: h.Flags,
    capsuleImageSize: h.CapsuleImageSize,
    fmpVersion: fmp.Version,
    embeddedDriverCount: fmp.EmbeddedDriverCount,
    payloadItemCount: fmp.PayloadItemCount,
    itemOffsets: offsets,
    embeddedDrivers,
    payloads,
  };
}

function parsePayloadItem(bytes: Buffer, k: number, itemOffset: bigint, start: number, end: number): CapsulePayloadItem {
  const where = `payload ${k}`;
  const itemSize = end - start;
  if (itemSize < 4) throw invalid(`${where}: item is ${itemSize} bytes, too small for an image header`);
  const version = bytes.readUInt32LE(start);
  if (version < 1 || version > IMAGE_HEADER_VERSION_MAX) {
    throw invalid(`${where}: image header Version ${version} is unknown (must be 1 to ${IMAGE_HEADER_VERSION_MAX})`);
  }
  const layout = IMAGE_HEADER_LAYOUTS[version as 1 | 2 | 3];
  if (itemSize < layout.size) {
    throw invalid(`${where}: item size ${itemSize} < image header size ${layout.size} (version ${version})`);
  }
  const ih = layout.parse(bytes, start) as Partial<ReturnType<typeof IMAGE_HEADER_LAYOUTS[3]['parse']>> &
    ReturnType<typeof IMAGE_HEADER_LAYOUTS[1]['parse']>;
  // edk2 BaseTools FmpCapsuleHeader.py (FmpCapsuleImageHeaderClass.Decode): an UpdateImageIndex below 1
  // is refused; SetImage indexes are 1-based.
  if (ih.UpdateImageIndex < 1) {
    throw invalid(`${where}: UpdateImageIndex ${ih.UpdateImageIndex} < 1: image indexes are 1-based`);
  }
  if (itemSize !== layout.size + ih.UpdateImageSize + ih.UpdateVendorCodeSize) {
    throw invalid(
      `${where}: item size ${itemSize} != image header ${layout.size} + UpdateImageSize ${ih.UpdateImageSize} + UpdateVendorCodeSize ${ih.UpdateVendorCodeSize}`,
    );
  }
  const imageAt = start + layout.size;
  const imageEnd = imageAt + ih.UpdateImageSize;
  const support = ih.ImageCapsuleSupport ?? 0n;
  // Version 3 says whether an authentication block is there; earlier versions cannot, so a reader
  // recognises one by its WIN_CERTIFICATE_UEFI_GUID header, as GenerateCapsule's decoder does.
  const authenticated = version >= 3 ? (support & CAPSULE_SUPPORT_AUTHENTICATION) !== 0n : looksAuthenticated(bytes, imageAt, imageEnd);
  const offsets: CapsuleFileOffsets = { imageHeader: start, image: imageAt, fmpPayloadHeader: 0, payload: 0, end: imageEnd };

  let at = imageAt;
  let auth: CapsuleAuth | null = null;
  if (authenticated) {
    auth = parseAuth(bytes, where, imageAt, ih.UpdateImageSize);
    offsets.auth = imageAt;
    offsets.certData = imageAt + firmwareImageAuthLayout.size;
    at = imageAt + MONOTONIC_COUNT_SIZE + auth.dwLength;
    offsets.signedContentStart = at;
  }
  let dependency: CapsuleDependency | null = null;
  if ((support & CAPSULE_SUPPORT_DEPENDENCY) !== 0n) {
    if (at >= imageEnd) throw invalid(`${where}: ImageCapsuleSupport announces a dependency but the update image ends before it`);
    const scan = scanDependency(bytes.subarray(at, imageEnd));
    if (scan.size === null) throw invalid(`${where}: dependency expression invalid: ${scan.problem}`);
    dependency = { size: scan.size, text: scan.text };
    offsets.dependency = at;
    at += scan.size;
  }

  const payloadSpace = imageEnd - at;
  const mssSize = fmpPayloadHeaderLayout.size;
  if (payloadSpace <= mssSize) {
    throw invalid(`${where}: ${payloadSpace} bytes left for the FMP payload, not more than the ${mssSize}-byte FMP_PAYLOAD_HEADER`);
  }
  const mss = fmpPayloadHeaderLayout.parse(bytes, at);
  if (mss.Signature !== FMP_PAYLOAD_HEADER_SIGNATURE) {
    throw invalid(
      `${where}: FMP_PAYLOAD_HEADER.Signature ${hex(mss.Signature)} (${JSON.stringify(bytes.subarray(at, at + 4).toString('latin1'))}) != 'MSS1'`,
    );
  }
  if (mss.HeaderSize < mssSize) throw invalid(`${where}: FMP_PAYLOAD_HEADER.HeaderSize (${mss.HeaderSize}) < ${mssSize}`);
  if (mss.HeaderSize >= payloadSpace) {
    throw invalid(`${where}: FMP_PAYLOAD_HEADER.HeaderSize (${mss.HeaderSize}) leaves no payload in the ${payloadSpace} bytes that remain`);
  }
  offsets.fmpPayloadHeader = at;
  offsets.payload = at + mss.HeaderSize;
  if (ih.UpdateVendorCodeSize > 0) offsets.vendorCode = imageEnd;

  return {
    index: k,
    itemOffset,
    imageHeaderVersion: version,
    imageHeaderSize: layout.size,
    updateImageTypeId: ih.UpdateImageTypeId,
    updateImageIndex: ih.UpdateImageIndex,
    updateImageSize: ih.UpdateImageSize,
    updateVendorCodeSize: ih.UpdateVendorCodeSize,
    hardwareInstance: ih.UpdateHardwareInstance ?? 0n,
    imageCapsuleSupport: support,
    auth,
    dependency,
    fmpPayloadHeader: { signature: 'MSS1', headerSize: mss.HeaderSize, fwVersion: mss.FwVersion, lowestSupportedVersion: mss.LowestSupportedVersion },
    payload: bytes.subarray(offsets.payload, imageEnd),
    fileOffsets: offsets,
  };
}

/** FmpAuthenticationLibPkcs7's checks, in its order, over the update image at `at`. */
function parseAuth(bytes: Buffer, where: string, at: number, imageSize: number): CapsuleAuth {
  if (imageSize < firmwareImageAuthLayout.size) {
    throw invalid(`${where}: UpdateImageSize ${imageSize} is too small for EFI_FIRMWARE_IMAGE_AUTHENTICATION (${firmwareImageAuthLayout.size} bytes)`);
  }
  const a = firmwareImageAuthLayout.parse(bytes, at);
  if (a.dwLength <= WIN_CERTIFICATE_UEFI_GUID_HEADER_SIZE) {
    throw invalid(`${where}: AuthInfo.Hdr.dwLength (${a.dwLength}) <= ${WIN_CERTIFICATE_UEFI_GUID_HEADER_SIZE}: no CertData`);
  }
  if (MONOTONIC_COUNT_SIZE + a.dwLength >= imageSize) {
    throw invalid(
      `${where}: MonotonicCount + AuthInfo.Hdr.dwLength (8 + ${a.dwLength}) >= UpdateImageSize (${imageSize}): the authentication runs to or past the end of the update image`,
    );
  }
  if (a.wRevision !== WIN_CERT_REVISION) {
    throw invalid(`${where}: AuthInfo.Hdr.wRevision ${hex(a.wRevision, 4)} != 0x0200`);
  }
  if (a.wCertificateType !== WIN_CERT_TYPE_EFI_GUID) {
    throw invalid(`${where}: AuthInfo.Hdr.wCertificateType ${hex(a.wCertificateType, 4)} != 0x0EF1 (WIN_CERT_TYPE_EFI_GUID)`);
  }
  if (a.CertType !== PKCS7_CERT_TYPE_GUID) {
    throw invalid(`${where}: AuthInfo.CertType ${a.CertType} != EFI_CERT_TYPE_PKCS7_GUID ${PKCS7_CERT_TYPE_GUID}`);
  }
  const certAt = at + firmwareImageAuthLayout.size;
  return {
    monotonicCount: a.MonotonicCount,
    dwLength: a.dwLength,
    wRevision: a.wRevision,
    wCertificateType: a.wCertificateType,
    certType: a.CertType,
    certData: bytes.subarray(certAt, at + MONOTONIC_COUNT_SIZE + a.dwLength),
  };
}

function looksAuthenticated(bytes: Buffer, at: number, end: number): boolean {
  if (end - at < firmwareImageAuthLayout.size) return false;
  const a = firmwareImageAuthLayout.parse(bytes, at);
  return a.wRevision === WIN_CERT_REVISION && a.wCertificateType === WIN_CERT_TYPE_EFI_GUID && a.CertType === PKCS7_CERT_TYPE_GUID;
}

/**
 * The bytes a PKCS#7 signature covers (FmpAuthenticationLibPkcs7): the update image after the
 * authentication block (dependency, FMP payload header, payload), then the 8 MonotonicCount bytes.
 * The capsule, FMP and image headers are not signed.
 */
export function signedContent(bytes: Buffer, p: CapsulePayloadItem): Buffer | null {
  if (!p.auth || p.fileOffsets.signedContentStart === undefined) return null;
  const count = Buffer.alloc(MONOTONIC_COUNT_SIZE);
  count.writeBigUInt64LE(p.auth.monotonicCount);
  return Buffer.concat([bytes.subarray(p.fileOffsets.signedContentStart, p.fileOffsets.end), count]);
}
