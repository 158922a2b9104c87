import { FwupError } from '../../errors/fwup-error.js';
import type { ImageVerdict, ParallelSha256 } from '../../image/format.js';
import { checkPolicy, type PolicyFacts } from '../../image/policy.js';
import { formatById, verifyImage } from '../../image/registry.js';
import { RegionSource } from '../../storage/region-source.js';
import type { Region } from '../../storage/flash-map.js';
import { LAST_ATTEMPT_STATUS, REQUEST_FLAGS, type LastAttemptStatus, type UpdateRequest } from '../../storage/variables.js';
import { isPowerCut } from '../../storage/fault-flash.js';
import type { FirmwareView } from './firmware-view.js';

export type StagedVerdict = { ok: true; verdict: ImageVerdict } | { ok: false; status: LastAttemptStatus; reason: string };

/** ESRT status for a refusal, by the kind of error. */
export function statusFor(e: FwupError): LastAttemptStatus {
  switch (e.code) {
    case 'IMAGE_SIGNATURE_INVALID':
    case 'IMAGE_SIGNATURE_UNKNOWN_KEY':
    case 'IMAGE_UNSIGNED':
      return LAST_ATTEMPT_STATUS.ERROR_AUTH_ERROR;
    case 'POLICY_DOWNGRADE':
    case 'POLICY_SECURITY_VERSION':
      return LAST_ATTEMPT_STATUS.ERROR_INCORRECT_VERSION;
    case 'POLICY_TOO_LARGE':
    case 'POLICY_EMPTY':
      return LAST_ATTEMPT_STATUS.ERROR_INSUFFICIENT_RESOURCES;
    default:
      return LAST_ATTEMPT_STATUS.ERROR_INVALID_FORMAT;
  }
}

/**
 * The firmware re-verifies the image it is about to install, trusting nothing the OS checked: the bytes
 * in `region` (STAGING, or the inactive slot staged in place) are read once through the same verifier
 * `stage` used (structure, digests, signature against the firmware's own trust anchors), must hash to
 * the request's SHA-256 (the image the OS staged, not another one put there since), and pass the same
 * policy, size rule included. With the machine's hash engine, the file's SHA-256 is computed on it
 * while this CPU hashes the payload. The payload's CRC-32 is left out: its SHA-256, which the signed
 * header holds, is what the firmware trusts, and the CRC would only lengthen the downtime.
 */
export async function verifyStagedImage(view: FirmwareView, r: UpdateRequest, region: Region, hashEngine: ParallelSha256 | undefined, facts: PolicyFacts): Promise<StagedVerdict> {
  try {
    const format = formatById(r.imageFormat);
    if (!format) throw new FwupError('IMAGE_UNKNOWN_FORMAT', `the request names image format ${r.imageFormat}`);
    const src = new RegionSource(view.flash, region, r.imageOffset, r.imageLength);
    const trust = view.trust;
    const verdict = await verifyImage(src, {
      format,
      payloadCrc: false,
      ...(hashEngine ? { fileHash: hashEngine } : {}),
      trust: { keys: trust.keys.length ? trust.keys : null, certs: trust.certs.length ? trust.certs : null },
      raw: { version: r.version, versionNumber: r.versionNumber, platform: null, lowestSupportedVersion: 0, securityVersion: 0 },
    });
    if (verdict.fileSha256 !== r.imageSha256.toString('hex')) {
      throw new FwupError('IMAGE_SHA256', `${region.name} does not hold the image the request names (SHA-256 mismatch): damaged or replaced after staging`);
    }
    const refusal = checkPolicy(verdict.report, facts, {
      allowOlder: (r.flags & REQUEST_FLAGS.ALLOW_OLDER) !== 0,
      allowUnsigned: (r.flags & REQUEST_FLAGS.ALLOW_UNSIGNED) !== 0,
      allowReinstall: true,
    }, 'staged image');
    if (refusal) throw refusal;
    return { ok: true, verdict };
  } catch (e) {
    if (isPowerCut(e) || !(e instanceof FwupError)) throw e;
    return { ok: false, status: statusFor(e), reason: e.message };
  }
}
