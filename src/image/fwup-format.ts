import { FwupError } from '../errors/fwup-error.js';
import { defineLayout, type StructOf } from '../util/layout.js';
import { crc32 } from '../util/crc32.js';
import { KEY_ID_BYTES, SIGNATURE_BYTES, signMessage, verifyMessage, type PrivateKey, type PublicKey } from './keys.js';
import type { ImageReport, SignatureReport } from './report.js';

/**
 * The native `.fwup` update image: a fixed header, a TLV area, then the payload.
 * Byte-by-byte description: docs/image-format.md.
 */

/** "FWUP\r\n\x1a\n": the CR/LF/^Z bytes catch text-mode mangling, as PNG's signature does. */
export const FWUP_MAGIC = 0x0a1a0a0d50555746n;
export const FWUP_FORMAT_VERSION = 1;

export const fwupHeaderLayout = defineLayout('FwupHeader', [
  { name: 'magic', type: 'u64', equals: FWUP_MAGIC, doc: '"FWUP\\r\\n\\x1a\\n"' },
  { name: 'formatVersion', type: 'u16', equals: FWUP_FORMAT_VERSION, doc: 'format version, 1' },
  { name: 'reserved0', type: 'u16', equals: 0, doc: 'reserved, zero' },
  { name: 'headerSize', type: 'u32', min: 144, max: 65536, doc: 'fixed header + TLV area; the payload starts here' },
  { name: 'flags', type: 'u32', doc: 'bit 0: COLD_ONLY; other bits reserved, zero' },
  { name: 'headerCrc32', type: 'u32', doc: 'CRC-32 over the whole header with this field zero' },
  { name: 'platform', type: 'text', length: 32, doc: 'platform id, NUL-padded UTF-8' },
  { name: 'versionNumber', type: 'u32', doc: 'firmware version for comparisons' },
  { name: 'lowestSupportedVersion', type: 'u32', doc: 'once installed, updates below this version are refused' },
  { name: 'securityVersion', type: 'u32', doc: 'anti-rollback counter' },
  { name: 'payloadCrc32', type: 'u32', doc: 'CRC-32 of the payload' },
  { name: 'version', type: 'text', length: 32, doc: 'version for display, NUL-padded UTF-8' },
  { name: 'payloadLength', type: 'u64', doc: 'payload bytes after the header' },
  { name: 'payloadSha256', type: 'bytes', length: 32, doc: 'SHA-256 of the payload' },
] as const);

export type FwupFixedHeader = StructOf<typeof fwupHeaderLayout.fields>;

export const tlvLayout = defineLayout('FwupTlv', [
  { name: 'type', type: 'u16' },
  { name: 'length', type: 'u16' },
] as const);

export const TLV_TYPE = { BUILD_TIME: 0x0001, DESCRIPTION: 0x0002, SIGNATURE: 0x0003 } as const;
/** A TLV with this bit set must be understood; unknown non-critical TLVs are skipped. */
export const TLV_CRITICAL = 0x8000;

export const FWUP_FLAGS = { COLD_ONLY: 0x1 } as const;
const KNOWN_FLAGS = FWUP_FLAGS.COLD_ONLY;

export const LIMITS = {
  maxDescriptionBytes: 1024,
  /** Payloads above this are refused: a firmware slot is never this large. */
  maxPayloadBytes: 2 ** 32 - 1,
} as const;

const SIGNATURE_VALUE_BYTES = KEY_ID_BYTES + SIGNATURE_BYTES;
const SIGNATURE_DOMAIN = Buffer.from('fwup-image-signature-v1\0', 'latin1');

export interface FwupMetadata {
  platform: string;
  versionNumber: number;
  version: string;
  lowestSupportedVersion: number;
  securityVersion: number;
  flags: number;
  buildTime: Date | null;
  description: string | null;
}

export interface FwupHeader extends FwupMetadata {
  headerSize: number;
  headerCrc32: number;
  payloadLength: number;
  payloadCrc32: number;
  payloadSha256: string;
  signature: { keyId: string; value: Buffer; message: Buffer } | null;
}

export function isFwupImage(head: Uint8Array): boolean {
  return head.length >= 8 && Buffer.from(head.buffer, head.byteOffset, 8).readBigUInt64LE(0) === FWUP_MAGIC;
}

/** The header size announced by the fixed header (so a reader knows how much to read). */
export function fwupHeaderSize(head: Buffer): number {
  return fwupHeaderLayout.parse(head).headerSize;
}

export function flagNames(flags: number): string[] {
  return Object.entries(FWUP_FLAGS)
    .filter(([, bit]) => (flags & bit) !== 0)
    .map(([name]) => name);
}

/** Parse and check a complete header (fixed part + TLV area). Throws on any structural or CRC fault. */
export function parseFwupHeader(header: Buffer): FwupHeader {
  const fixed = fwupHeaderLayout.parse(header);
  if (header.length < fixed.headerSize) {
    throw new FwupError(
      'IMAGE_TRUNCATED',
      `header announces ${fixed.headerSize} bytes but the file holds only ${header.length}`,
    );
  }
  const bytes = header.subarray(0, fixed.headerSize);
  const crc = headerCrc(bytes);
  if (crc !== fixed.headerCrc32) {
    throw new FwupError('IMAGE_HEADER_CRC', `header CRC-32 mismatch: stored ${hex(fixed.headerCrc32)}, computed ${hex(crc)}`, {
      hint: 'the header was changed or damaged after it was packed',
      details: { stored: fixed.headerCrc32, computed: crc },
    });
  }
  if ((fixed.flags & ~KNOWN_FLAGS) !== 0) {
    throw new FwupError('IMAGE_BAD_FIELD', `FwupHeader.flags has unknown bits ${hex(fixed.flags & ~KNOWN_FLAGS)}`, {
      hint: 'the image was made by a newer fwup; upgrade fwup',
    });
  }
  if (fixed.payloadLength > BigInt(LIMITS.maxPayloadBytes)) {
    throw new FwupError('IMAGE_BAD_FIELD', `FwupHeader.payloadLength ${fixed.payloadLength} is larger than ${LIMITS.maxPayloadBytes}`);
  }
  if (fixed.lowestSupportedVersion > fixed.versionNumber) {
    throw new FwupError('IMAGE_BAD_FIELD', `lowest supported version ${fixed.lowestSupportedVersion} is above the image's own version ${fixed.versionNumber}`);
  }
  const tlvs = parseTlvs(bytes, fwupHeaderLayout.size);
  return {
    platform: fixed.platform,
    versionNumber: fixed.versionNumber,
    version: fixed.version,
    lowestSupportedVersion: fixed.lowestSupportedVersion,
    securityVersion: fixed.securityVersion,
    flags: fixed.flags,
    headerSize: fixed.headerSize,
    headerCrc32: fixed.headerCrc32,
    payloadLength: Number(fixed.payloadLength),
    payloadCrc32: fixed.payloadCrc32,
    payloadSha256: fixed.payloadSha256.toString('hex'),
    ...tlvs,
  };
}

function parseTlvs(header: Buffer, start: number): Pick<FwupHeader, 'buildTime' | 'description' | 'signature'> {
  let buildTime: Date | null = null;
  let description: string | null = null;
  let signature: FwupHeader['signature'] = null;
  const seen = new Set<number>();
  let at = start;
  while (at < header.length) {
    const tlv = tlvLayout.parse(header, at);
    const valueAt = at + tlvLayout.size;
    const end = valueAt + tlv.length;
    if (end > header.length) {
      throw new FwupError('IMAGE_BAD_FIELD', `TLV 0x${tlv.type.toString(16)} at offset ${at} runs ${end - header.length} bytes past the header`);
    }
    if (signature) throw new FwupError('IMAGE_BAD_FIELD', `TLV 0x${tlv.type.toString(16)} follows the signature; the signature must be last`);
    if (seen.has(tlv.type)) throw new FwupError('IMAGE_BAD_FIELD', `TLV 0x${tlv.type.toString(16)} appears twice`);
    seen.add(tlv.type);
    const value = header.subarray(valueAt, end);
    switch (tlv.type) {
      case TLV_TYPE.BUILD_TIME: {
        if (tlv.length !== 8) throw new FwupError('IMAGE_BAD_FIELD', `build-time TLV is ${tlv.length} bytes, expected 8`);
        const secs = value.readBigUInt64LE(0);
        if (secs > 253402300799n) throw new FwupError('IMAGE_BAD_FIELD', `build time ${secs} is beyond the year 9999`);
        buildTime = new Date(Number(secs) * 1000);
        break;
      }
      case TLV_TYPE.DESCRIPTION: {
        if (tlv.length > LIMITS.maxDescriptionBytes) {
          throw new FwupError('IMAGE_BAD_FIELD', `description TLV is ${tlv.length} bytes, the limit is ${LIMITS.maxDescriptionBytes}`);
        }
        const s = value.toString('utf8');
        if (!Buffer.from(s, 'utf8').equals(value) || s.includes('\0')) {
          throw new FwupError('IMAGE_BAD_FIELD', 'description TLV is not valid UTF-8 text');
        }
        description = s;
        break;
      }
      case TLV_TYPE.SIGNATURE: {
        if (tlv.length !== SIGNATURE_VALUE_BYTES) {
          throw new FwupError('IMAGE_BAD_FIELD', `signature TLV is ${tlv.length} bytes, expected ${SIGNATURE_VALUE_BYTES}`);
        }
        signature = {
          keyId: value.subarray(0, KEY_ID_BYTES).toString('hex'),
          value: Buffer.from(value.subarray(KEY_ID_BYTES)),
          message: signedMessage(header, valueAt + KEY_ID_BYTES),
        };
        break;
      }
      default:
        if (tlv.type & TLV_CRITICAL) {
          throw new FwupError('IMAGE_BAD_FIELD', `unknown critical TLV 0x${tlv.type.toString(16)}`, {
            hint: 'the image needs a newer fwup',
          });
        }
    }
    at = end;
  }
  return { buildTime, description, signature };
}

/** What an Ed25519 signature covers: a domain tag, then the header up to the signature bytes, CRC zeroed. */
function signedMessage(header: Buffer, signatureValueAt: number): Buffer {
  const msg = Buffer.concat([SIGNATURE_DOMAIN, header.subarray(0, signatureValueAt)]);
  msg.writeUInt32LE(0, SIGNATURE_DOMAIN.length + fwupHeaderLayout.offsetOf('headerCrc32'));
  return msg;
}

function headerCrc(header: Buffer): number {
  const at = fwupHeaderLayout.offsetOf('headerCrc32');
  const zero = Buffer.alloc(4);
  let crc = crc32(header.subarray(0, at));
  crc = crc32(zero, crc);
  return crc32(header.subarray(at + 4), crc);
}

export interface PayloadDigest {
  length: number;
  crc32: number;
  sha256: string;
}

/** Build a complete header for a payload whose digest is known; signs it when a key is given. */
export function buildFwupHeader(meta: FwupMetadata, payload: PayloadDigest, signer?: PrivateKey): Buffer {
  if (payload.length > LIMITS.maxPayloadBytes) {
    throw new FwupError('IMAGE_TOO_LARGE', `payload is ${payload.length} bytes, the limit is ${LIMITS.maxPayloadBytes}`);
  }
  if ((meta.flags & ~KNOWN_FLAGS) !== 0) throw new FwupError('USAGE', `unknown image flags ${hex(meta.flags)}`);
  if (meta.lowestSupportedVersion > meta.versionNumber) {
    throw new FwupError('USAGE', `lowest supported version ${meta.lowestSupportedVersion} is above the version ${meta.versionNumber}`);
  }
  const tlvs: Buffer[] = [];
  const tlv = (type: number, value: Buffer) => {
    const head = tlvLayout.serialize({ type, length: value.length });
    tlvs.push(head, value);
  };
  if (meta.buildTime) {
    const v = Buffer.alloc(8);
    v.writeBigUInt64LE(BigInt(Math.floor(meta.buildTime.getTime() / 1000)));
    tlv(TLV_TYPE.BUILD_TIME, v);
  }
  if (meta.description !== null && meta.description !== '') {
    const v = Buffer.from(meta.description, 'utf8');
    if (v.length > LIMITS.maxDescriptionBytes || meta.description.includes('\0')) {
      throw new FwupError('USAGE', `description is ${v.length} bytes, the limit is ${LIMITS.maxDescriptionBytes}`);
    }
    tlv(TLV_TYPE.DESCRIPTION, v);
  }
  if (signer) tlv(TLV_TYPE.SIGNATURE, Buffer.alloc(SIGNATURE_VALUE_BYTES));
  const tlvArea = Buffer.concat(tlvs);
  const headerSize = fwupHeaderLayout.size + tlvArea.length;
  const header = Buffer.alloc(headerSize);
  fwupHeaderLayout.serialize(
    {
      magic: FWUP_MAGIC,
      formatVersion: FWUP_FORMAT_VERSION,
      reserved0: 0,
      headerSize,
      flags: meta.flags,
      headerCrc32: 0,
      platform: meta.platform,
      versionNumber: meta.versionNumber,
      lowestSupportedVersion: meta.lowestSupportedVersion,
      securityVersion: meta.securityVersion,
      payloadCrc32: payload.crc32,
      version: meta.version,
      payloadLength: BigInt(payload.length),
      payloadSha256: Buffer.from(payload.sha256, 'hex'),
    },
    header,
  );
  tlvArea.copy(header, fwupHeaderLayout.size);
  if (signer) {
    const keyIdAt = headerSize - SIGNATURE_VALUE_BYTES;
    Buffer.from(signer.keyId, 'hex').copy(header, keyIdAt);
    const sig = signMessage(signer, signedMessage(header, keyIdAt + KEY_ID_BYTES));
    sig.copy(header, keyIdAt + KEY_ID_BYTES);
  }
  header.writeUInt32LE(headerCrc(header), fwupHeaderLayout.offsetOf('headerCrc32'));
  return header;
}

export function verifyFwupSignature(header: FwupHeader, keys: readonly PublicKey[] | null): SignatureReport {
  const sig = header.signature;
  if (!sig) return { present: false, valid: null, keyId: null, status: 'unsigned', algorithm: null };
  const base = { present: true, keyId: sig.keyId, algorithm: 'ed25519' };
  if (keys === null || keys.length === 0) return { ...base, valid: null, status: 'not-verified' };
  const candidates = keys.filter((k) => k.keyId === sig.keyId);
  if (candidates.length === 0) return { ...base, valid: false, status: 'unknown-key' };
  const valid = candidates.some((k) => verifyMessage(k, sig.message, sig.value));
  return { ...base, valid, status: valid ? 'valid' : 'invalid' };
}

/** Combine a parsed header, the digest of the payload actually read, and a signature check. */
/** `actual.crc32` null: the CRC was not computed (VerifyOptions.payloadCrc false), reported as n/a. */
export function fwupReport(header: FwupHeader, actual: Omit<PayloadDigest, 'crc32'> & { crc32: number | null }, keys: readonly PublicKey[] | null): ImageReport {
  const payloadCrc = actual.crc32 === null ? 'n/a' : actual.crc32 === header.payloadCrc32 ? 'ok' : 'mismatch';
  const sha = actual.sha256 === header.payloadSha256 ? 'ok' : 'mismatch';
  const signature = verifyFwupSignature(header, keys);
  return {
    format: 'fwup',
    version: header.version,
    versionNumber: header.versionNumber,
    lowestSupportedVersion: header.lowestSupportedVersion,
    securityVersion: header.securityVersion,
    platform: header.platform,
    flags: flagNames(header.flags),
    headerSize: header.headerSize,
    payloadOffset: header.headerSize,
    payloadSize: header.payloadLength,
    totalSize: header.headerSize + header.payloadLength,
    sha256: header.payloadSha256,
    crc32: header.payloadCrc32,
    buildTime: header.buildTime ? header.buildTime.toISOString() : null,
    description: header.description,
    checks: { headerCrc: 'ok', payloadCrc, sha256: sha },
    signature,
    ok: payloadCrc !== 'mismatch' && sha === 'ok' && signature.status !== 'invalid' && signature.status !== 'unknown-key',
  };
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}
