import { crc32 } from '../util/crc32.js';
import { hex32, sha256Hex } from '../util/digest.js';
import { capsuleFlagNames, OEM_FLAGS_MASK } from './capsule-layouts.js';
import type { CapsuleFileOffsets, ParsedCapsule } from './capsule-format.js';
import type { CapsuleSignatureVerdict } from './capsule-verify.js';
import type { ImageReport, SignatureReport, SignatureStatus } from './report.js';

/**
 * What `inspect` reports about a capsule: every field, named as in the fixtures' manifest.json, plus a
 * signature verdict per payload. 64-bit fields stay bigint (the CLI prints them as "0x%016X").
 */
export interface CapsuleReport {
  capsuleGuid: string;
  headerSize: number;
  flags: number;
  flagNames: string[];
  oemFlags: number;
  capsuleImageSize: number;
  fmpVersion: number;
  embeddedDriverCount: number;
  payloadItemCount: number;
  itemOffsets: bigint[];
  embeddedDrivers: Array<{ itemOffset: bigint; fileOffset: number; length: number; sha256: string }>;
  payloads: CapsulePayloadReport[];
}

export interface CapsulePayloadReport {
  index: number;
  itemOffset: bigint;
  imageHeaderVersion: number;
  updateImageTypeId: string;
  updateImageIndex: number;
  updateImageSize: number;
  updateVendorCodeSize: number;
  hardwareInstance: bigint;
  imageCapsuleSupport: bigint;
  authenticated: boolean;
  monotonicCount: bigint | null;
  auth: {
    dwLength: number;
    wRevision: number;
    wCertificateType: number;
    certType: string;
    certDataLength: number;
    certDataSha256: string;
    digestAlgorithm: string | null;
  } | null;
  dependency: { size: number; expression: string } | null;
  fmpPayloadHeader: { signature: string; headerSize: number; fwVersion: number; lowestSupportedVersion: number };
  payloadLength: number;
  payloadSha256: string;
  fileOffsets: CapsuleFileOffsets;
  signature: CapsulePayloadSignature;
}

export interface CapsulePayloadSignature {
  /** valid / invalid / unknown-key (good signature, untrusted chain) / unsigned / not-verified (no --cert). */
  status: SignatureStatus;
  signer: string | null;
  keyId: string | null;
  trustAnchor: string | null;
  reason: string | null;
}

/** `verdicts[k]` is the verdict for payload k, null for an unsigned payload. */
export function capsuleReport(parsed: ParsedCapsule, verdicts: ReadonlyArray<CapsuleSignatureVerdict | null>): CapsuleReport {
  return {
    capsuleGuid: parsed.capsuleGuid,
    headerSize: parsed.headerSize,
    flags: parsed.flags,
    flagNames: capsuleFlagNames(parsed.flags),
    oemFlags: parsed.flags & OEM_FLAGS_MASK,
    capsuleImageSize: parsed.capsuleImageSize,
    fmpVersion: parsed.fmpVersion,
    embeddedDriverCount: parsed.embeddedDriverCount,
    payloadItemCount: parsed.payloadItemCount,
    itemOffsets: parsed.itemOffsets,
    embeddedDrivers: parsed.embeddedDrivers.map((d) => ({
      itemOffset: d.itemOffset,
      fileOffset: d.fileOffset,
      length: d.length,
      sha256: sha256Hex(d.bytes),
    })),
    payloads: parsed.payloads.map((p, k): CapsulePayloadReport => {
      const v = verdicts[k] ?? null;
      return {
        index: p.index,
        itemOffset: p.itemOffset,
        imageHeaderVersion: p.imageHeaderVersion,
        updateImageTypeId: p.updateImageTypeId,
        updateImageIndex: p.updateImageIndex,
        updateImageSize: p.updateImageSize,
        updateVendorCodeSize: p.updateVendorCodeSize,
        hardwareInstance: p.hardwareInstance,
        imageCapsuleSupport: p.imageCapsuleSupport,
        authenticated: p.auth !== null,
        monotonicCount: p.auth?.monotonicCount ?? null,
        auth: p.auth && {
          dwLength: p.auth.dwLength,
          wRevision: p.auth.wRevision,
          wCertificateType: p.auth.wCertificateType,
          certType: p.auth.certType,
          certDataLength: p.auth.certData.length,
          certDataSha256: sha256Hex(p.auth.certData),
          digestAlgorithm: v?.digestAlgorithm ?? null,
        },
        dependency: p.dependency && { size: p.dependency.size, expression: p.dependency.text },
        fmpPayloadHeader: { ...p.fmpPayloadHeader },
        payloadLength: p.payload.length,
        payloadSha256: sha256Hex(p.payload),
        fileOffsets: { ...p.fileOffsets },
        signature: v
          ? { status: v.status, signer: v.signer, keyId: v.keyId, trustAnchor: v.trustAnchor, reason: v.reason }
          : { status: 'unsigned', signer: null, keyId: null, trustAnchor: null, reason: null },
      };
    }),
  };
}

/** Worst first: the capsule's overall verdict is that of its worst signed payload. */
const SEVERITY: readonly SignatureStatus[] = ['invalid', 'unknown-key', 'not-verified', 'valid'];

/**
 * The format-independent report. The common fields describe the first payload, the one a
 * single-payload capsule is about: version = its FwVersion, platform = its UpdateImageTypeId (what
 * firmware matches against its own), payload = its firmware bytes after the FMP payload header.
 */
export function capsuleImageReport(parsed: ParsedCapsule, verdicts: ReadonlyArray<CapsuleSignatureVerdict | null>): ImageReport {
  const capsule = capsuleReport(parsed, verdicts);
  const first = parsed.payloads[0];
  const firstReport = capsule.payloads[0];
  const signed = capsule.payloads.filter((p) => p.authenticated);
  const status: SignatureStatus = signed.length === 0 ? 'unsigned' : SEVERITY.find((s) => signed.some((p) => p.signature.status === s)) ?? 'valid';
  const firstSigned = signed[0];
  const signature: SignatureReport = {
    present: signed.length > 0,
    valid: status === 'valid' ? true : status === 'invalid' || status === 'unknown-key' ? false : null,
    keyId: firstSigned?.signature.keyId ?? null,
    status,
    algorithm: firstSigned ? `pkcs7-${firstSigned.auth?.digestAlgorithm ?? 'unknown'}` : null,
  };
  return {
    format: 'capsule',
    version: first ? hex32(first.fmpPayloadHeader.fwVersion) : 'none',
    versionNumber: first?.fmpPayloadHeader.fwVersion ?? 0,
    lowestSupportedVersion: first?.fmpPayloadHeader.lowestSupportedVersion ?? 0,
    securityVersion: 0,
    platform: first?.updateImageTypeId ?? null,
    flags: capsule.flagNames,
    headerSize: parsed.headerSize,
    payloadOffset: first?.fileOffsets.payload ?? 0,
    payloadSize: first?.payload.length ?? 0,
    totalSize: parsed.capsuleImageSize,
    sha256: firstReport?.payloadSha256 ?? sha256Hex(Buffer.alloc(0)),
    crc32: first ? crc32(first.payload) : 0,
    buildTime: null,
    description: null,
    checks: { headerCrc: 'n/a', payloadCrc: 'n/a', sha256: 'n/a' },
    signature,
    ok: status !== 'invalid' && status !== 'unknown-key',
    capsule,
  };
}
