import { NO_DIGEST, PROGRESS, type BootRecord } from '../../storage/boot-record.js';
import type { Region } from '../../storage/flash-map.js';
import type { ImageVerdict } from '../../image/format.js';
import { LAST_ATTEMPT_STATUS, slotName, type SlotId, type UpdateRequest } from '../../storage/variables.js';
import { verOf, type FirmwareLog } from './firmware-log.js';
import { slotRegion, type FirmwareView } from './firmware-view.js';
import { headerVersion, regionHeader } from './firmware-state.js';
import { slotSignatureOk } from './slot-check.js';
import { withSlot, type InstallResult } from './install.js';

/**
 * The slot the OS may have staged an image into, in place: only on a machine provisioned for it, only
 * the inactive slot, and only after the firmware itself released it (the boot record says so and
 * holds no digest for it). Anything else a request points at is not an in-place request.
 */
export function inPlaceSlot(view: FirmwareView, record: BootRecord): Region | null {
  if (view.trust.install !== 'in-place' || record.trial === 1) return null;
  const inactive = (record.active === 0 ? 1 : 0) as SlotId;
  if (record.progress !== PROGRESS.OS_STAGING || record.progressSlot !== inactive || record.slots[inactive] !== NO_DIGEST) return null;
  return slotRegion(view.map, inactive);
}

/**
 * Activate an image the OS wrote into the inactive slot, with nothing copied: the boot has just read
 * every byte of the slot once through the image's verifier (structure, digests, signature against the
 * firmware's own keys, policy) and that same pass hashed them, so its SHA-256 is the slot's
 * measurement — every later boot trusts the slot only while its bytes still hash to it. Before the
 * switch, the header is parsed from the slot again and must describe exactly the verified bytes.
 * Then one atomic boot-record update makes it active, on trial.
 */
export function activateInPlace(view: FirmwareView, record: BootRecord, r: UpdateRequest, v: ImageVerdict, log: FirmwareLog, phase?: (p: 'activate') => void): InstallResult {
  const target = (record.active === 0 ? 1 : 0) as SlotId;
  const region = slotRegion(view.map, target);
  const header = regionHeader(view, region);
  const bad = v.format.name !== 'fwup' ? `a ${v.format.name} image is not a slot image`
    : !header ? 'its header does not parse'
    : header.headerSize + header.payloadLength !== r.imageLength || r.imageLength !== v.fileSize ? 'its size is not the verified image\'s'
    : !slotSignatureOk(header, view.trust.keys) ? 'signature'
    : null;
  if (bad || !header) {
    return { ok: false, record, status: LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL, reason: `slot ${slotName(target)} does not hold the verified image (${bad}): not activated` };
  }
  phase?.('activate');
  const next: BootRecord = {
    ...record, active: target, previous: record.active, trial: 1, trialBoots: 1,
    progress: PROGRESS.NONE, progressSlot: 0, progressVersion: 0, slots: withSlot(record.slots, target, v.fileSha256),
  };
  view.records.write(next);
  log.lastAttempt(LAST_ATTEMPT_STATUS.SUCCESS, header.versionNumber, header.version);
  log.history('install', headerVersion(view, record.active), verOf(header), LAST_ATTEMPT_STATUS.SUCCESS, `slot ${slotName(target)}, staged in place, on trial`);
  log.event(`verified ${header.version} in slot ${slotName(target)} where it was staged in place (SHA-256 of every byte, signature), activated on trial with one boot-record update: nothing copied`);
  const write = { bytes: 0, blocks: 0, unchanged: 0, programmedOnly: 0, erased: 0 };
  return { ok: true, record: next, image: { header, size: r.imageLength, sha256: v.fileSha256 }, installed: { slot: slotName(target), version: header.version, versionNumber: header.versionNumber, write } };
}
