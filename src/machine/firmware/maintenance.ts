import { LAST_ATTEMPT_STATUS, slotName, type SlotId } from '../../storage/variables.js';
import { NO_DIGEST, type BootRecord } from '../../storage/boot-record.js';
import { writeFlashMapCopy } from '../../storage/flash-map.js';
import { writeKeyStoreCopy } from '../../storage/key-store.js';
import { fwupFormat } from '../../image/formats/fwup.js';
import { RegionSource } from '../../storage/region-source.js';
import { FwupError } from '../../errors/fwup-error.js';
import { NO_VERSION, verOf, type FirmwareLog } from './firmware-log.js';
import { slotRegion, type FirmwareView } from './firmware-view.js';
import { measureRegion } from './slot-check.js';
import { copyImage } from './slot-copy.js';

/**
 * SP 800-193 recovery of the firmware's own records, first thing at every boot: every critical record
 * is kept twice (the flash map, the key store, the boot record), so a copy that fails its check is
 * rewritten from the good one; a damaged NVRAM store is rebuilt around its intact records. Each repair
 * is recorded, so `status` and `history` say what happened.
 */
export function repairRecords(view: FirmwareView, log: FirmwareLog): void {
  const { chip } = view;
  chip.mapProblems.forEach((problem, i) => {
    if (!problem) return;
    writeFlashMapCopy(view.flash, chip.map, i as 0 | 1);
    repaired(log, `flash map copy ${i + 1}`, problem);
  });
  const ks = view.keystore;
  if (ks.good) {
    ks.problems.forEach((problem, i) => {
      if (!problem) return;
      writeKeyStoreCopy(view.flash, view.map.KEYSTORE, i as 0 | 1, ks.good!);
      repaired(log, `key store copy ${i + 1}`, problem);
    });
  }
  const rec = view.records.read();
  if (rec.value && !rec.healthy) {
    view.records.repair();
    const bad = rec.copies.map((c, i) => (c.newest !== rec.sequence || c.damagedSlots ? `copy ${i + 1}` : null)).filter(Boolean);
    repaired(log, `boot record ${bad.join(' and ')}`, 'a copy was damaged or behind the other');
  }
  const nv = view.vars.store.usage();
  if (nv.damage.header || nv.damage.skippedBytes || nv.damage.badRecords) {
    view.vars.store.reclaim();
    repaired(log, 'NVRAM', `${nv.damage.header ? 'store header damaged; ' : ''}${nv.damage.skippedBytes} bytes skipped, ${nv.damage.badRecords} records failed their CRC`);
  }
}

function repaired(log: FirmwareLog, what: string, why: string): void {
  log.event(`repaired ${what} (${why})`);
  log.history('repair', NO_VERSION, NO_VERSION, LAST_ATTEMPT_STATUS.SUCCESS, `${what}: ${why}`);
}

/**
 * Both copies of the boot record are gone (two faults, or a deliberate erase): rebuild it from what
 * the slots and the recovery copy hold, never lowering the security version below the image booted.
 * The recovery copy is the last confirmed firmware, so it is preferred; else the best slot that
 * verifies by its own digests and signature.
 */
export async function rebuildRecord(view: FirmwareView, log: FirmwareLog): Promise<BootRecord> {
  const keys = view.trust.keys;
  const verified = async (region: typeof view.map.SLOT_A) => {
    const m = measureRegion(view.flash, region);
    if (!('sha256' in m)) return null;
    const v = await fwupFormat.verify(new RegionSource(view.flash, region, 0, m.size), { trust: { keys: keys.length ? keys : null, certs: null } });
    const sig = v.report.signature.status;
    return v.report.checks.sha256 === 'ok' && v.report.checks.payloadCrc === 'ok' && sig !== 'invalid' && sig !== 'unknown-key' ? m : null;
  };
  const slots = [await verified(view.map.SLOT_A), await verified(view.map.SLOT_B)];
  const recovery = await verified(view.map.RECOVERY);
  let active: SlotId;
  if (recovery) {
    const same = slots.findIndex((s) => s?.sha256 === recovery.sha256);
    if (same >= 0) active = same as SlotId;
    else {
      active = slots[0] ? 1 : 0;
      copyImage(view.flash, view.map.RECOVERY, slotRegion(view.map, active), recovery.size, recovery.sha256);
      slots[active] = recovery;
    }
  } else {
    const order = [0, 1].filter((s) => slots[s]).sort((a, b) => {
      const x = slots[a]!.header;
      const y = slots[b]!.header;
      return y.securityVersion - x.securityVersion || y.versionNumber - x.versionNumber;
    });
    if (order.length === 0) {
      throw new FwupError('TARGET_CORRUPT', 'the boot record is lost and no slot nor the recovery copy holds an image that verifies', {
        hint: 'this machine cannot boot: re-create it with `fwup machine init --force`',
      });
    }
    active = order[0] as SlotId;
  }
  const chosen = slots[active]!;
  // On a machine that stages in place the OS may have written the other slot: a rebuild cannot tell
  // whether the firmware ever verified it at an apply, so it is not trusted (no rollback image).
  if (view.trust.install === 'in-place') slots[active === 0 ? 1 : 0] = null;
  const record: BootRecord = {
    active, previous: active, trial: 0, trialBoots: 0, securityVersion: chosen.header.securityVersion,
    progress: 0, progressSlot: 0, progressVersion: 0,
    slots: [slots[0]?.sha256 ?? NO_DIGEST, slots[1]?.sha256 ?? NO_DIGEST],
    recovery: recovery?.sha256 ?? NO_DIGEST,
  };
  view.records.write(record);
  const what = `boot record rebuilt: slot ${slotName(active)} (${chosen.header.version}, security version ${chosen.header.securityVersion})`;
  log.event(what);
  log.history('rebuild', NO_VERSION, verOf(chosen.header), LAST_ATTEMPT_STATUS.SUCCESS, what);
  return record;
}
