import { NO_DIGEST, PROGRESS, type BootRecord } from '../../storage/boot-record.js';
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
  /** Whether `rollback` has an image to go back to, and in words why (not). */
  rollback: RollbackState;
  /** One line per thing that is not as it should be; the next boot repairs what it can. */
  warnings: string[];
}

export interface RollbackState {
  available: boolean;
  /** The slot a rollback would activate (the inactive one); null without a boot record. */
  slot: 'A' | 'B' | null;
  /** Staging in place gave the rollback slot to the OS: its image is gone until the next update is confirmed. */
  consumed: boolean;
  reason: string;
}

export const CONSUMED = 'staging in place has consumed the rollback slot';

function rollbackState(record: BootRecord | null, slots: { A: SlotStatus; B: SlotStatus }, floor: number | null): RollbackState {
  if (!record) return { available: false, slot: null, consumed: false, reason: 'the boot record is missing' };
  const slot = record.active === 0 ? 'B' : 'A';
  const other = slots[slot];
  if (record.progress === PROGRESS.OS_STAGING && record.progressSlot !== record.active) {
    return {
      available: false, slot, consumed: true,
      reason: `${CONSUMED}: slot ${slot} was given to the OS for an image staged in place${other.version ? ` (it now holds ${other.version}, not yet verified by the firmware)` : ''}; there is no rollback image`,
    };
  }
  if (other.state !== 'verified') return { available: false, slot, consumed: false, reason: `slot ${slot} is ${other.state}${other.problem ? ` (${other.problem})` : ''}: there is no rollback image` };
  if (floor !== null && (other.securityVersion ?? 0) < floor) {
    return { available: false, slot, consumed: false, reason: `slot ${slot} holds ${other.version} with security version ${other.securityVersion}, below the floor ${floor}` };
  }
  return { available: true, slot, consumed: false, reason: `slot ${slot} holds ${other.version}` };
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
  const released = (s: SlotStatus, i: number): SlotStatus =>
    record && record.progress === PROGRESS.OS_STAGING && record.progressSlot === i && record.active !== i
      ? { ...s, problem: `${CONSUMED}: the OS writes this slot; the firmware verifies it in full at apply and boots it only then` }
      : s;
  const slots = {
    A: released(slot(view.map.SLOT_A, record ? record.slots[0] : null), 0),
    B: released(slot(view.map.SLOT_B, record ? record.slots[1] : null), 1),
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
  const securityVersion = record ? effectiveFloor(view, record) : null;
  return {
    record, recordProblems, securityVersion, slots, keyStoreProblems, mapProblems, nvram, rollback: rollbackState(record, slots, securityVersion), warnings,
  };
}

