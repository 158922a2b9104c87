import { FwupError } from '../../errors/fwup-error.js';
import { Digester } from '../../util/digest.js';
import { checkPolicy, type PolicyFacts } from '../../image/policy.js';
import { rawReport } from '../../image/raw-format.js';
import type { ImageReport } from '../../image/report.js';
import type { PublicKey } from '../../image/keys.js';
import type { Flash } from '../../storage/flash.js';
import type { FlashMap } from '../../storage/flash-map.js';
import { LAST_ATTEMPT_STATUS, REQUEST_FLAGS, type LastAttemptStatus, type UpdateRequest } from '../../storage/variables.js';
import { verifyRegionImage } from '../slot-image.js';
import { parseCapsule, signedContent } from '../../image/capsule-format.js';
import { capsuleImageReport } from '../../image/capsule-report.js';
import { loadTrustStore, verifyCapsuleSignature, type TrustedCertificateInput } from '../../image/capsule-verify.js';

const CHUNK = 1 << 20;

export type StagedVerdict =
  | { ok: true; report: ImageReport }
  | { ok: false; status: LastAttemptStatus; reason: string };

/** ESRT status for a refusal, by the kind of error. */
function statusFor(e: FwupError): LastAttemptStatus {
  switch (e.code) {
    case 'IMAGE_SIGNATURE_INVALID':
    case 'IMAGE_SIGNATURE_UNKNOWN_KEY':
    case 'IMAGE_UNSIGNED':
      return LAST_ATTEMPT_STATUS.ERROR_AUTH_ERROR;
    case 'POLICY_DOWNGRADE':
    case 'POLICY_SECURITY_VERSION':
      return LAST_ATTEMPT_STATUS.ERROR_INCORRECT_VERSION;
    case 'POLICY_TOO_LARGE':
      return LAST_ATTEMPT_STATUS.ERROR_INSUFFICIENT_RESOURCES;
    default:
      return LAST_ATTEMPT_STATUS.ERROR_INVALID_FORMAT;
  }
}

/**
 * The firmware re-verifies the image it is about to write, trusting nothing the OS checked: the bytes in
 * STAGING must hash to the request's SHA-256 and CRC-32, then parse, pass their own integrity checks,
 * the signature against the firmware's keys, and the version and security-version policy.
 */
export async function verifyStagedImage(
  flash: Flash,
  map: FlashMap,
  r: UpdateRequest,
  trust: { keys: readonly PublicKey[]; certs: readonly TrustedCertificateInput[] },
  facts: PolicyFacts,
): Promise<StagedVerdict> {
  const keys = trust.keys;
  try {
    let report: ImageReport;
    if (r.imageFormat === 1) {
      // Header CRC, signature and payload SHA-256/CRC-32 cover every byte of a .fwup: one pass is enough.
      report = verifyRegionImage(flash, map.STAGING, keys.length ? keys : null, r.imageOffset);
      if (report.totalSize !== r.imageLength) throw new FwupError('IMAGE_BAD_FIELD', 'image length differs from the request');
      if (report.checks.sha256 !== 'ok' || report.checks.payloadCrc !== 'ok') {
        throw new FwupError('IMAGE_SHA256', 'the staged payload does not match its SHA-256/CRC-32: damaged after staging');
      }
    } else if (r.imageFormat === 3) {
      // A raw payload has no integrity data of its own: the request's digests are all there is.
      const got = digestStaging(flash, map, r);
      if (got.sha256 !== r.imageSha256.toString('hex') || got.crc32 !== r.imageCrc32) {
        throw new FwupError('IMAGE_SHA256', 'the bytes in STAGING do not match the request (SHA-256/CRC-32): damaged after staging');
      }
      report = rawReport({ version: r.version, versionNumber: r.versionNumber, platform: null, lowestSupportedVersion: 0, securityVersion: 0 }, got);
    } else {
      report = await verifyStagedCapsule(flash, map, r, trust.certs);
    }
    const refusal = checkPolicy(report, facts, {
      allowOlder: (r.flags & REQUEST_FLAGS.ALLOW_OLDER) !== 0,
      allowUnsigned: (r.flags & REQUEST_FLAGS.ALLOW_UNSIGNED) !== 0,
      allowReinstall: true,
    }, 'staged image');
    if (refusal) throw refusal;
    return { ok: true, report };
  } catch (e) {
    if (!(e instanceof FwupError)) throw e;
    return { ok: false, status: statusFor(e), reason: e.message };
  }
}

/**
 * A UEFI capsule: the request's digests first (a capsule has no checksum of its own), then edk2's
 * structure rules, then every signed payload's PKCS#7 signature against the firmware's certificates.
 */
async function verifyStagedCapsule(flash: Flash, map: FlashMap, r: UpdateRequest, certs: readonly TrustedCertificateInput[]): Promise<ImageReport> {
  const bytes = flash.read(map.STAGING.offset + r.imageOffset, r.imageLength);
  const got = new Digester().update(bytes).digest();
  if (got.sha256 !== r.imageSha256.toString('hex') || got.crc32 !== r.imageCrc32) {
    throw new FwupError('IMAGE_SHA256', 'the capsule in STAGING does not match the request (SHA-256/CRC-32): damaged after staging');
  }
  const parsed = parseCapsule(bytes);
  const store = certs.length ? await loadTrustStore(certs) : null;
  const verdicts = [];
  for (const p of parsed.payloads) {
    const content = signedContent(bytes, p);
    verdicts.push(p.auth && content ? await verifyCapsuleSignature(p.auth.certData, content, store) : null);
  }
  return capsuleImageReport(parsed, verdicts);
}

function digestStaging(flash: Flash, map: FlashMap, r: UpdateRequest) {
  const d = new Digester();
  const buf = Buffer.allocUnsafe(CHUNK);
  const start = map.STAGING.offset + r.imageOffset;
  for (let pos = 0; pos < r.imageLength; ) {
    const n = Math.min(CHUNK, r.imageLength - pos);
    d.update(flash.read(start + pos, n, buf));
    pos += n;
  }
  return d.digest();
}
