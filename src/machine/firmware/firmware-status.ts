import { NO_DIGEST, type BootRecord } from '../../storage/boot-record.js';
import type { Region } from '../../storage/flash-map.js';
import type { StoreUsage } from '../../storage/nvram/variable-store.js';
import type { FirmwareView } from './firmware-view.js';
import { confirmedSlot, effectiveFloor } from './firmware-state.js';
import { checkSlot, measureRegion } from './slot-check.js';

/**
 * What `status` shows of the firmware's state, with every damage named instead of shown as normal: a
 * slot is "verified" only when its bytes hash to what the firmware wrote there; a half-written or
 * altered slot says so, with the version its header claims beside the verdict.
 */
export type SlotState = 'verified' | 'empty' | 'unused' | 'damaged';

export interface SlotStatus {
  state: SlotState;
  /** The header's claim (present even for a damaged slot whose header still parses). */
  version: string | null;
  versionNumber: number | null;
  securityVersion: number | null;
  size: number | null;
  problem: string | null;
}

export interface FirmwareStatus {
  record: BootRecord | null;
  /** Copies of the boot record and what is wrong with them (empty: both hold the newest record). */
  recordProblems: string[];
  securityVersion: number | null;
  slots: { A: SlotStatus; B: SlotStatus; recovery: SlotStatus };
  keyStoreProblems: string[];
  mapProblems: string[];
  nvram: StoreUsage;
  /** One line per thing that is not as it should be; the next boot repairs what it can. */
  warnings: string[];
}

export function firmwareStatus(view: FirmwareView): FirmwareStatus {
  const rec = view.records.read();
  const record = rec.value;
  const recordProblems = rec.copies.flatMap((c, i) => {
    const out: string[] = [];
    if (c.newest === null) out.push(`boot record copy ${i + 1} holds no valid record`);
    else if (c.newest !== rec.sequence) out.push(`boot record copy ${i + 1} is behind (record ${c.newest} of ${rec.sequence})`);
    if (c.damagedSlots) out.push(`boot record copy ${i + 1} has ${c.damagedSlots} damaged entr${c.damagedSlots > 1 ? 'ies' : 'y'}`);
    return out;
  });
  const slot = (region: Region, expected: string | null): SlotStatus => {
    if (expected && expected !== NO_DIGEST) {
      const c = checkSlot(view.flash, region, expected);
      const h = c.header;
      const base = { version: h?.version ?? null, versionNumber: h?.versionNumber ?? null, securityVersion: h?.securityVersion ?? null };
      return c.ok ? { state: 'verified', ...base, size: c.size, problem: null } : { state: 'damaged', ...base, size: null, problem: c.why };
    }
    const m = measureRegion(view.flash, region);
    const h = m.header;
    return h
      ? { state: 'unused', version: h.version, versionNumber: h.versionNumber, securityVersion: h.securityVersion, size: null, problem: 'not an image the firmware installed (an interrupted write, or never used): not bootable' }
      : { state: 'empty', version: null, versionNumber: null, securityVersion: null, size: null, problem: null };
  };
  const slots = {
    A: slot(view.map.SLOT_A, record ? record.slots[0] : null),
    B: slot(view.map.SLOT_B, record ? record.slots[1] : null),
    recovery: slot(view.map.RECOVERY, record ? record.recovery : null),
  };
  const keyStoreProblems = view.keystore.problems.flatMap((p, i) => (p ? [`key store copy ${i + 1}: ${p}`] : []));
  const mapProblems = view.chip.mapProblems.flatMap((p, i) => (p ? [`flash map copy ${i + 1}: ${p}`] : []));
  const nvram = view.vars.store.usage();
  const warnings = [...recordProblems, ...keyStoreProblems, ...mapProblems];
  if (!record) warnings.push('the boot record is missing in both copies: the next boot rebuilds it');
  if (view.trustProblem) warnings.push(view.trustProblem);
  for (const [name, s] of Object.entries(slots)) {
    if (s.state === 'damaged') warnings.push(`${name === 'recovery' ? 'the recovery copy' : `slot ${name}`} is damaged (${s.version ? `its header says ${s.version}; ` : ''}${s.problem})`);
  }
  if (record && record.recovery !== record.slots[confirmedSlot(record)]) warnings.push('the recovery copy is not the confirmed firmware: the next boot refreshes it');
  if (nvram.damage.header || nvram.damage.skippedBytes || nvram.damage.badRecords) {
    warnings.push(`NVRAM is damaged (${nvram.damage.header ? 'store header; ' : ''}${nvram.damage.skippedBytes} bytes unreadable, ${nvram.damage.badRecords} records failed their CRC): the next boot rebuilds it`);
  }
  if (view.chip.hardware.ignored.length) warnings.push(`machine.json has fields fwup does not read (${view.chip.hardware.ignored.join(', ')}): they change nothing; trust lives in the key store`);
  if (warnings.some((w) => w.includes('next boot'))) warnings.push('boot the machine to repair it now: fwup machine boot');
  return {
    record, recordProblems, securityVersion: record ? effectiveFloor(view, record) : null, slots, keyStoreProblems, mapProblems, nvram, warnings,
  };
}

