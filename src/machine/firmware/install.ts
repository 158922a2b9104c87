import { createHash } from 'node:crypto';
import { CHUNK_BYTES } from '../../image/byte-source.js';
import { installedRange, type ImageVerdict } from '../../image/format.js';
import { NO_DIGEST, type BootRecord } from '../../storage/boot-record.js';
import { RegionWriter, type RegionWriteStats } from '../../storage/region-writer.js';
import { LAST_ATTEMPT_STATUS, slotName, type LastAttemptStatus, type SlotId, type UpdateRequest } from '../../storage/variables.js';
import { verOf, type FirmwareLog } from './firmware-log.js';
import { slotRegion, type FirmwareView } from './firmware-view.js';
import { checkSlot, slotSignatureOk, type Measured } from './slot-check.js';
import { effectiveFloor, headerVersion, regionHeader } from './firmware-state.js';

export type InstallResult =
  | { ok: true; record: BootRecord; image: Measured; installed: { slot: 'A' | 'B'; version: string; versionNumber: number; write: RegionWriteStats } }
  | { ok: false; record: BootRecord; status: LastAttemptStatus; reason: string };

/**
 * Write a verified staged image into the inactive slot and activate it (on trial) with one boot-record
 * update. Before anything is written: the slot can hold it (the one size rule). While copying: every
 * byte read from STAGING is hashed and must match what was verified (MCUboot's validate-after-copy;
 * a bit flipped in between is caught). After: the whole destination slot is checked (SHA-256 of what
 * the flash holds, and the header's signature) before it is activated. A failure leaves the active
 * slot as it was.
 */
export function install(view: FirmwareView, record: BootRecord, r: UpdateRequest, v: ImageVerdict, log: FirmwareLog, phase?: (p: 'program' | 'activate') => void): InstallResult {
  const target = (record.active === 0 ? 1 : 0) as SlotId;
  const region = slotRegion(view.map, target);
  const plan = installedRange(v.format, v.report, view.trust.platform);
  const need = (plan.header?.length ?? 0) + plan.length;
  const fail = (rec: BootRecord, status: LastAttemptStatus, reason: string): InstallResult => ({ ok: false, record: rec, status, reason });
  if (need > region.size) {
    return fail(record, LAST_ATTEMPT_STATUS.ERROR_INSUFFICIENT_RESOURCES, `the image needs ${need} bytes in slot ${slotName(target)}, which holds ${region.size}`);
  }
  // The record says the slot is being written before its first byte changes: a cut from here on is undone at the next boot.
  const writing: BootRecord = { ...record, progress: 1, progressSlot: target, progressVersion: r.versionNumber, slots: withSlot(record.slots, target, NO_DIGEST) };
  view.records.write(writing);
  phase?.('program');
  // The writer reads every group back, compares it with what it wrote and hashes what the flash now
  // holds: that hash is the slot's measurement. A .fwup is copied whole, so its measurement must be the
  // verified file's SHA-256; a payload behind a header of ours is hashed as it is read from STAGING and
  // must be the verified payload's. Either way a bit that changed after the verification is caught.
  const writer = new RegionWriter(view.flash, region);
  const sourceHash = plan.header ? createHash('sha256') : null;
  if (plan.header) writer.write(plan.header);
  const from = view.map.STAGING.offset + r.imageOffset + plan.from;
  const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(1, plan.length)));
  for (let pos = 0; pos < plan.length; ) {
    const n = Math.min(buf.length, plan.length - pos);
    const chunk = view.flash.read(from + pos, n, buf);
    sourceHash?.update(chunk);
    writer.write(chunk);
    pos += n;
  }
  const write = writer.finish();
  view.flash.sync();
  const undone: BootRecord = { ...writing, progress: 0, progressSlot: 0, progressVersion: 0 };
  const copied = sourceHash ? sourceHash.digest('hex') === v.report.sha256 : write.readBackSha256 === v.fileSha256;
  if (!copied) {
    view.records.write(undone);
    return fail(undone, LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL, 'the bytes read from STAGING while copying differ from the ones verified (SHA-256): slot not activated');
  }
  // The whole destination slot: its header parses (CRC) within the slot and its signature holds; its
  // bytes are the read-back just hashed.
  const header = regionHeader(view, region);
  const bad = !header ? 'its header does not parse' : header.headerSize + header.payloadLength !== need ? 'its size is not the image\'s' : !slotSignatureOk(header, view.trust.keys) ? 'signature' : null;
  if (bad || !header) {
    view.records.write(undone);
    return fail(undone, LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL, `slot ${slotName(target)} does not verify after the write (${bad}): not activated`);
  }
  const slotSha = write.readBackSha256;
  const check: { ok: true } & Measured = { ok: true, header, size: need, sha256: slotSha };
  phase?.('activate');
  // One atomic record update activates the slot, on trial until the OS confirms it.
  const next: BootRecord = { ...undone, active: target, previous: record.active, trial: 1, trialBoots: 1, slots: withSlot(record.slots, target, slotSha) };
  view.records.write(next);
  const from0 = headerVersion(view, record.active);
  log.lastAttempt(LAST_ATTEMPT_STATUS.SUCCESS, check.header.versionNumber, check.header.version);
  log.history('install', from0, verOf(check.header), LAST_ATTEMPT_STATUS.SUCCESS, `slot ${slotName(target)}, on trial`);
  log.event(`wrote ${check.header.version} into slot ${slotName(target)} (${write.erased} blocks erased, ${write.programmedOnly + write.erased} programmed, ${write.unchanged} unchanged; read back and verified: SHA-256 of every byte), activated on trial`);
  return { ok: true, record: next, image: check, installed: { slot: slotName(target), version: check.header.version, versionNumber: check.header.versionNumber, write } };
}

export type SwitchResult = { ok: true; record: BootRecord } | { ok: false; record: BootRecord; status: LastAttemptStatus; reason: string };

/** Rollback: the other slot becomes active on trial, if it still verifies and is not below the security-version floor. */
export function switchSlot(view: FirmwareView, record: BootRecord, log: FirmwareLog): SwitchResult {
  const target = (record.active === 0 ? 1 : 0) as SlotId;
  const check = checkSlot(view.flash, slotRegion(view.map, target), record.slots[target]);
  if (!check.ok) return { ok: false, record, status: LAST_ATTEMPT_STATUS.ERROR_INVALID_FORMAT, reason: `slot ${slotName(target)} ${check.why}` };
  const floor = effectiveFloor(view, record);
  if (check.header.securityVersion < floor) {
    return { ok: false, record, status: LAST_ATTEMPT_STATUS.ERROR_INCORRECT_VERSION, reason: `slot ${slotName(target)} has security version ${check.header.securityVersion}, below ${floor}` };
  }
  const next: BootRecord = { ...record, active: target, previous: record.active, trial: 1, trialBoots: 1 };
  view.records.write(next);
  log.lastAttempt(LAST_ATTEMPT_STATUS.SUCCESS, check.header.versionNumber, check.header.version);
  log.history('rollback', headerVersion(view, record.active), verOf(check.header), LAST_ATTEMPT_STATUS.SUCCESS, `slot ${slotName(target)}, on trial`);
  log.event(`rolled back to ${check.header.version} in slot ${slotName(target)}, on trial`);
  return { ok: true, record: next };
}

export function withSlot(slots: [string, string], slot: SlotId, digest: string): [string, string] {
  const out: [string, string] = [slots[0], slots[1]];
  out[slot] = digest;
  return out;
}
