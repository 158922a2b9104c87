import { FwupError } from '../errors/fwup-error.js';
import type { CapsuleReport } from './capsule-report.js';
import type { CabinetReport } from './lvfs/cabinet-report.js';

/** What every image format reports, so `inspect`, `stage` and the firmware speak one language. */

export type FormatName = 'fwup' | 'capsule' | 'cabinet' | 'raw';

/**
 * valid: verified with a trusted key. invalid: a trusted key with this id did not verify it.
 * unknown-key: signed by a key that is not among the trusted ones. unsigned: no signature.
 * not-verified: signed, but no keys were given to check it against.
 */
export type SignatureStatus = 'valid' | 'invalid' | 'unknown-key' | 'unsigned' | 'not-verified';

export type CheckVerdict = 'ok' | 'mismatch' | 'n/a';

export interface SignatureReport {
  present: boolean;
  valid: boolean | null;
  keyId: string | null;
  status: SignatureStatus;
  algorithm: string | null;
}

export interface ImageReport {
  format: FormatName;
  version: string;
  versionNumber: number;
  lowestSupportedVersion: number;
  securityVersion: number;
  platform: string | null;
  flags: string[];
  headerSize: number;
  payloadOffset: number;
  payloadSize: number;
  totalSize: number;
  /** SHA-256 and CRC-32 of the payload as computed while reading it. */
  sha256: string;
  crc32: number;
  buildTime: string | null;
  description: string | null;
  checks: { headerCrc: CheckVerdict; payloadCrc: CheckVerdict; sha256: CheckVerdict };
  signature: SignatureReport;
  ok: boolean;
  /** Every field of a UEFI capsule and the verdict per payload (format 'capsule' only). */
  capsule?: CapsuleReport;
  /** The cabinet's files, metadata, checks and the payload's own report (format 'cabinet' only). */
  cabinet?: CabinetReport;
}

export function signatureAcceptable(s: SignatureReport): boolean {
  return s.status !== 'invalid';
}

/** The error an unhealthy report stands for (first failing check wins), or null when it is ok. */
/**
 * The first failed check as an error. `audience` picks the hint: `inspect` (and fetch) take --key and
 * --cert; a target's trust is its own (stage has no --key), so its hint says how the target is told.
 */
export function reportError(r: ImageReport, what = 'image', audience: 'inspect' | 'target' = 'inspect'): FwupError | null {
  if (r.cabinet) return cabinetError(r.cabinet, what) ?? reportError(r.cabinet.inner, `${what}: ${r.cabinet.payload.file}`, audience);
  if (r.checks.headerCrc === 'mismatch') return new FwupError('IMAGE_HEADER_CRC', `${what}: header CRC-32 mismatch`);
  if (r.checks.payloadCrc === 'mismatch') {
    return new FwupError('IMAGE_PAYLOAD_CRC', `${what}: payload CRC-32 mismatch`, {
      hint: 'the payload was changed or damaged after it was packed',
    });
  }
  if (r.checks.sha256 === 'mismatch') {
    return new FwupError('IMAGE_SHA256', `${what}: payload SHA-256 mismatch`, {
      hint: 'the payload was changed or damaged after it was packed',
    });
  }
  if (r.capsule) {
    const e = capsuleSignatureError(r.capsule, what, audience);
    if (e) return e;
  }
  if (r.signature.status === 'invalid') {
    return new FwupError('IMAGE_SIGNATURE_INVALID', `${what}: signature by key ${r.signature.keyId} does not verify`, {
      hint: 'the image was changed after signing, or signed by a different key with the same id',
    });
  }
  if (r.signature.status === 'unknown-key') {
    return new FwupError('IMAGE_SIGNATURE_UNKNOWN_KEY', `${what}: signed by key ${r.signature.keyId}, which is not trusted`, {
      hint: audience === 'inspect'
        ? 'pass the matching public key (--key NAME.pub), or trust it on the target'
        : 'sign it with a key the target trusts (an emulated machine trusts the keys given to fwup machine init --trust)',
    });
  }
  return null;
}

/** The first capsule payload whose signature failed, as an error naming the payload and the reason. */
function capsuleSignatureError(c: CapsuleReport, what: string, audience: 'inspect' | 'target'): FwupError | null {
  const p = c.payloads.find((x) => x.signature.status === 'invalid' || x.signature.status === 'unknown-key');
  if (!p) return null;
  const details = { payload: p.index, reason: p.signature.reason, signer: p.signature.signer };
  if (p.signature.status === 'invalid') {
    return new FwupError('IMAGE_SIGNATURE_INVALID', `${what}: payload ${p.index}: PKCS#7 signature does not verify: ${p.signature.reason}`, {
      hint: 'the signed bytes (update image after the authentication block, and the MonotonicCount) were changed after signing',
      details,
    });
  }
  return new FwupError('IMAGE_SIGNATURE_UNKNOWN_KEY', `${what}: payload ${p.index}: signed by ${p.signature.signer}, which is not trusted: ${p.signature.reason}`, {
    hint: audience === 'inspect'
      ? 'pass the certificate of the root or intermediate CA you trust with --cert'
      : 'sign it with a certificate that chains to one the target trusts (an emulated machine trusts those given to fwup machine init --trust-cert)',
    details,
  });
}

/** A cabinet whose metadata disagrees with its payload, or whose jcat signature does not verify. */
function cabinetError(c: CabinetReport, what: string): FwupError | null {
  const bad = c.checks.find((x) => x.verdict === 'mismatch');
  if (bad) {
    return new FwupError('CAB_MISMATCH', `${what}: cabinet rule ${bad.rule}: ${bad.detail}`, {
      hint: "the cabinet's metadata does not describe the firmware it carries: get the cabinet from its vendor again, or rebuild it with the right metainfo",
      details: { rule: bad.rule },
    });
  }
  if (c.signature.status === 'invalid') {
    return new FwupError('JCAT_SIGNATURE_INVALID', `${what}: the jcat's PKCS#7 signature over ${c.signature.file} does not verify: ${c.signature.reason ?? 'no reason given'}`, {
      hint: 'the file was changed after the cabinet was signed: get the cabinet from its vendor again',
      details: { file: c.signature.file, signer: c.signature.signer },
    });
  }
  return null;
}
