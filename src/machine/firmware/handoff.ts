import { FwupError } from '../../errors/fwup-error.js';
import type { BootRecord } from '../../storage/boot-record.js';
import { LAST_ATTEMPT_STATUS, slotName, type SlotId } from '../../storage/variables.js';
import { isPowerCut } from '../../storage/fault-flash.js';
import { NO_VERSION, verOf, type FirmwareLog } from './firmware-log.js';
import { slotRegion, type FirmwareView } from './firmware-view.js';
import { confirmedSlot, effectiveFloor } from './firmware-state.js';
import { checkSlot, type Measured } from './slot-check.js';
import { copyImage } from './slot-copy.js';
import { withSlot } from './install.js';

export interface HandOff {
  record: BootRecord;
  image: Measured;
}

/**
 * The last step of every boot: the slot the OS will run must verify (its bytes hash to what the
 * firmware wrote there) — every boot that trusts a slot has checked it. When it does not (SP 800-193
 * recovery): a trial slot reverts to the confirmed one; the confirmed slot is restored from the
 * protected recovery copy; failing that, the other slot boots if it verifies and is not below the
 * security-version floor. Then the recovery copy is brought back to the confirmed firmware when it is
 * not (checked in full at cold boots; warm boots keep the downtime short and compare the records).
 */
export function handOff(view: FirmwareView, start: BootRecord, log: FirmwareLog, opts: { full: boolean; verified?: Map<number, Measured> }): HandOff {
  let record = start;
  for (let attempt = 0; attempt < 4; attempt++) {
    const slot = record.active as SlotId;
    const known = opts.verified?.get(slot);
    const check = known ? ({ ok: true, ...known } as const) : checkSlot(view.flash, slotRegion(view.map, slot), record.slots[slot]);
    if (check.ok) {
      record = maintainRecoveryCopy(view, record, log, opts.full);
      return { record, image: check };
    }
    log.event(`slot ${slotName(slot)} does not verify: ${check.why}`);
    record = recover(view, record, slot, check.why, log);
  }
  throw bricked(view);
}

function recover(view: FirmwareView, record: BootRecord, slot: SlotId, why: string, log: FirmwareLog): BootRecord {
  const floor = effectiveFloor(view, record);
  if (record.trial === 1) {
    const next: BootRecord = { ...record, active: record.previous, trial: 0, trialBoots: 0 };
    view.records.write(next);
    log.lastAttempt(LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL, 0, '');
    log.history('revert', NO_VERSION, NO_VERSION, LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL, `trial slot ${slotName(slot)} damaged: ${why}`);
    log.event(`the trial slot ${slotName(slot)} is damaged: reverted to slot ${slotName(next.active)}`);
    return next;
  }
  const rec = checkSlot(view.flash, view.map.RECOVERY, record.recovery);
  if (rec.ok && rec.header.securityVersion >= floor) {
    try {
      copyImage(view.flash, view.map.RECOVERY, slotRegion(view.map, slot), rec.size, rec.sha256);
      const next: BootRecord = { ...record, slots: withSlot(record.slots, slot, rec.sha256) };
      view.records.write(next);
      log.history('recover', NO_VERSION, verOf(rec.header), LAST_ATTEMPT_STATUS.SUCCESS, `slot ${slotName(slot)} restored from the recovery copy`);
      log.event(`restored slot ${slotName(slot)} from the recovery copy (${rec.header.version})`);
      return next;
    } catch (e) {
      if (isPowerCut(e)) throw e;
      log.event(`restoring slot ${slotName(slot)} from the recovery copy failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  } else {
    log.event(`the recovery copy cannot be used: ${rec.ok ? `security version ${rec.header.securityVersion} is below ${floor}` : rec.why}`);
  }
  const other = (slot === 0 ? 1 : 0) as SlotId;
  const oc = checkSlot(view.flash, slotRegion(view.map, other), record.slots[other]);
  if (oc.ok && oc.header.securityVersion >= floor) {
    const next: BootRecord = { ...record, active: other, previous: other, trial: 0, trialBoots: 0 };
    view.records.write(next);
    log.history('recover', NO_VERSION, verOf(oc.header), LAST_ATTEMPT_STATUS.SUCCESS, `slot ${slotName(slot)} damaged: booting slot ${slotName(other)}`);
    log.event(`booting slot ${slotName(other)} (${oc.header.version}) instead`);
    return next;
  }
  throw bricked(view);
}

/** The recovery copy holds the confirmed firmware; refresh it from the confirmed slot when it does not. */
function maintainRecoveryCopy(view: FirmwareView, record: BootRecord, log: FirmwareLog, full: boolean): BootRecord {
  const confirmed = confirmedSlot(record) as SlotId;
  const want = record.slots[confirmed];
  const copyOk = record.recovery === want && (!full || checkSlot(view.flash, view.map.RECOVERY, want).ok);
  if (copyOk) return record;
  const src = checkSlot(view.flash, slotRegion(view.map, confirmed), want);
  if (!src.ok) return record; // nothing good to copy from; the active slot booted, so the OS runs
  try {
    copyImage(view.flash, slotRegion(view.map, confirmed), view.map.RECOVERY, src.size, src.sha256);
  } catch (e) {
    if (isPowerCut(e)) throw e;
    log.event(`refreshing the recovery copy failed: ${e instanceof Error ? e.message : String(e)}`);
    return record;
  }
  const next: BootRecord = { ...record, recovery: want };
  view.records.write(next);
  log.history('repair', NO_VERSION, verOf(src.header), LAST_ATTEMPT_STATUS.SUCCESS, `recovery copy refreshed from slot ${slotName(confirmed)}`);
  log.event(`refreshed the recovery copy from slot ${slotName(confirmed)} (${src.header.version})`);
  return next;
}

function bricked(view: FirmwareView): FwupError {
  return new FwupError('TARGET_CORRUPT', `no firmware verifies on ${view.chip.dir}: neither slot nor the recovery copy`, {
    hint: 'the machine cannot boot; re-create it with `fwup machine init --force` (this takes more than one fault)',
  });
}
