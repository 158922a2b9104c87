import { FwupError } from '../errors/fwup-error.js';
import { REQUEST_FLAGS, lastAttemptStatusName, type UpdateRequest } from '../storage/variables.js';
import { FWUP_FLAGS } from '../image/fwup-format.js';
import { chipOf } from './chip.js';
import { firmwareBoot, type BootReport } from './firmware/firmware.js';
import type { CpuSnapshot, EmulatedMachine } from './machine.js';
import { PhaseClock, type FlashPhase } from './phase-clock.js';
import type { Platform } from './platform.js';
import { RAM_SAVE_AREA_BASE } from './ram-layout.js';
import { readHeader } from '../image/formats/fwup.js';
import { parseFwupHeader } from '../image/fwup-format.js';
import { RegionSource } from '../storage/region-source.js';
import { areaCrc, initSaveArea, saveAreaBytes } from './state-save.js';
import { referenceRun } from './workload.js';
import { CPU_STATE } from './shared-state.js';

export interface ApplyOptions {
  mode: 'warm' | 'cold';
  /** install the staged image, or roll back to the previous slot (warm only). */
  kind: 'install' | 'rollback';
  /** Test hook between the state save and the reset (e.g. to damage a saved slot). */
  tamper?: (ram: Uint8Array) => void;
  timeoutMs: number;
  /** Confirm the trial after a good outcome (default); --no-confirm leaves it on trial. */
  confirm: boolean;
  /** Steps every CPU runs after the resume before the workload is compared with the reference. */
  checkSteps: number;
  now: () => Date;
}

export interface OutcomeCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ApplyReport {
  mode: 'warm' | 'cold';
  kind: 'install' | 'rollback';
  cpus: number;
  workers: number;
  before: { slot: string; version: string; versionNumber: number };
  after: { slot: string; version: string; versionNumber: number; trial: boolean };
  ok: boolean;
  confirmed: boolean;
  reverted: boolean;
  checks: OutcomeCheck[];
  ackLatencyMs: number[];
  downtimeMs: number;
  phases: Array<{ name: string; ms: number }>;
  /**
   * With a flash timing model (`machine init --flash-timing`): the simulated time the chip would spend on
   * this window's flash operations (the firmware's reads, erases and programs while every CPU is held),
   * typical and worst case, per phase and in all. Null without a model.
   */
  flashTiming: { chip: string; typicalMs: number; worstMs: number; phases: FlashPhase[] } | null;
  firmware: { decision: string; events: string[]; lastAttempt: { status: number; statusName: string; version: string } | null };
  /** Cold apply: instructions the OS had executed, lost with RAM. */
  workLostSteps: number;
  securityVersion: number;
}

/**
 * The method, steps 4 to 7, on a running machine: IPI rendezvous and per-CPU state save, the request
 * pointing at the save area, a processor-only reset into the firmware, restore and resume; then the
 * outcome check, and confirmation (or revert) of the trial. `--cold` is the baseline.
 */
export async function applyUpdate(machine: EmulatedMachine, p: Platform, opts: ApplyOptions): Promise<ApplyReport> {
  const services = p.services;
  const before = services.activeFirmware();
  const { request, expected } = opts.kind === 'rollback' ? rollbackRequest(p) : installRequest(p, opts.mode);
  const timing = chipOf(p).timing;
  const clock = new PhaseClock(timing ? () => timing.elapsed() : null);
  const cpus = machine.cpus;
  let snapshots: CpuSnapshot[] = [];
  let ackLatencyMs: number[] = [];
  let workLost = 0;
  let boot: BootReport;

  if (opts.mode === 'warm') {
    initSaveArea(machine.ram, RAM_SAVE_AREA_BASE, cpus);
    clock.start('rendezvous');
    const r = machine.rendezvous(RAM_SAVE_AREA_BASE, opts.timeoutMs);
    ackLatencyMs = r.ackLatencyMs;
    clock.start('save');
    opts.tamper?.(machine.ram);
    snapshots = Array.from({ length: cpus }, (_, c) => machine.snapshot(c));
    const saved: UpdateRequest = {
      ...request,
      flags: request.flags | REQUEST_FLAGS.APPLY | REQUEST_FLAGS.WARM,
      cpuCount: cpus,
      stateSaveAddress: BigInt(RAM_SAVE_AREA_BASE),
      stateSaveLength: saveAreaBytes(cpus),
      stateSaveCrc32: areaCrc(machine.ram, RAM_SAVE_AREA_BASE, cpus),
    };
    services.setRequest(saved);
    clock.start('reset');
    machine.warmReset();
    boot = await firmwareBoot({ chip: chipOf(p), ram: machine.ram, cpus, cause: 'warm', now: opts.now, phase: (ph) => clock.start(ph), hashEngine: machine.hashEngine });
  } else {
    // The baseline: everything stops, RAM is lost, the OS starts over.
    clock.start('rendezvous');
    ackLatencyMs = machine.rendezvous(RAM_SAVE_AREA_BASE, opts.timeoutMs).ackLatencyMs;
    workLost = machine.steps().reduce((a, b) => a + b, 0);
    clock.start('save');
    services.setRequest({ ...request, flags: (request.flags | REQUEST_FLAGS.APPLY) & ~REQUEST_FLAGS.WARM });
    clock.start('reset');
    machine.coldReset();
    boot = await firmwareBoot({ chip: chipOf(p), ram: machine.ram, cpus, cause: 'cold', now: opts.now, phase: (ph) => clock.start(ph), hashEngine: machine.hashEngine });
  }

  clock.start('restore');
  const checks: OutcomeCheck[] = [];
  if (boot.handoff === 'resume') {
    // Park every CPU at the step it was saved at: restored and not yet moved, so it can be compared.
    machine.parkAt(snapshots.map((s) => s.step), opts.timeoutMs);
    machine.start('resume', opts.timeoutMs);
    machine.waitParked(opts.timeoutMs);
    checks.push(compareRestored(machine, snapshots));
    // Run on, but stop at the check point so the workload can be compared with the reference.
    machine.unpark(snapshots.map((s) => s.step + opts.checkSteps));
  } else {
    machine.start('cold', opts.timeoutMs);
  }
  clock.start('resume');
  machine.waitProgress(boot.handoff === 'resume' ? snapshots.map((s) => s.step) : new Array(cpus).fill(0), opts.timeoutMs);
  clock.end();

  const switched = boot.activeSlot !== before.slot && boot.activeVersionNumber === expected;
  checks.unshift({
    name: opts.kind === 'rollback' ? 'previous version active' : 'new version active',
    ok: switched,
    detail: switched
      ? `${before.version} -> ${boot.activeVersion} in slot ${boot.activeSlot} (on trial)`
      : `still ${boot.activeVersion}: ${boot.rejected?.reason ?? boot.stateProblem ?? boot.decision}`,
  });
  if (opts.mode === 'warm') {
    checks.push(boot.handoff === 'resume' ? compareWithReference(machine, snapshots, opts.checkSteps, opts.timeoutMs) : { name: 'workload continues', ok: false, detail: 'the OS was cold booted: its work is lost' });
  } else {
    checks.push({ name: 'OS restarted', ok: true, detail: `${workLost} instructions of work lost (RAM cleared)` });
  }

  const ok = checks.every((c) => c.ok);
  let confirmed = false;
  let reverted = false;
  const trial = services.activeFirmware().trial;
  if (ok && opts.confirm && trial) {
    services.confirmTrial();
    confirmed = true;
  } else if (!ok && trial) {
    services.revertTrial(`outcome check failed: ${checks.find((c) => !c.ok)!.name}`);
    reverted = true;
  }
  const after = services.activeFirmware();
  const last = services.lastAttempt();
  return {
    mode: opts.mode,
    kind: opts.kind,
    cpus,
    workers: machine.workers,
    before: { slot: before.slot, version: before.version, versionNumber: before.versionNumber },
    after: { slot: after.slot, version: after.version, versionNumber: after.versionNumber, trial: after.trial },
    ok,
    confirmed,
    reverted,
    checks,
    ackLatencyMs,
    downtimeMs: clock.total(),
    phases: clock.phases(),
    flashTiming: modelledFlashTime(timing?.spec.chip ?? null, clock),
    firmware: {
      decision: boot.decision,
      events: boot.events,
      lastAttempt: last ? { status: last.status, statusName: lastAttemptStatusName(last.status), version: last.version } : null,
    },
    workLostSteps: workLost,
    securityVersion: services.securityFloor(),
  };
}

function modelledFlashTime(chip: string | null, clock: PhaseClock): ApplyReport['flashTiming'] {
  const phases = clock.flashPhases();
  if (chip === null || !phases) return null;
  const sum = (k: 'typicalMs' | 'worstMs') => phases.reduce((a, ph) => a + ph[k], 0);
  return { chip, typicalMs: sum('typicalMs'), worstMs: sum('worstMs'), phases };
}

function installRequest(p: Platform, mode: 'warm' | 'cold'): { request: UpdateRequest; expected: number } {
  const request = p.services.request();
  if (!request || (request.flags & REQUEST_FLAGS.ROLLBACK) !== 0) {
    throw new FwupError('NOT_STAGED', 'no update is staged', { hint: 'stage one first: fwup stage IMAGE' });
  }
  if (mode === 'warm') refuseColdOnly(p, request);
  return { request, expected: request.versionNumber };
}

/** The OS checks what the firmware will check again: the previous slot verifies and is not below the security-version floor. */
function rollbackRequest(p: Platform): { request: UpdateRequest; expected: number } {
  const s = p.services;
  const st = s.status();
  if (st.rollback.consumed) {
    throw new FwupError('NOT_STAGED', `there is no previous firmware to roll back to: ${st.rollback.reason}`, {
      hint: s.request() ? 'apply the staged update (fwup apply), or unstage it: either way the old image is gone; the firmware running now stays until an update is applied' : 'the firmware running now is the only one; apply an update (a rollback to the running firmware is possible again after the next confirmed update)',
    });
  }
  if (s.request()) throw new FwupError('USAGE', 'an update is staged: unstage it before rolling back', { hint: 'fwup unstage' });
  const record = st.record!;
  const other = record.active === 0 ? st.slots.B : st.slots.A;
  if (other.state !== 'verified') {
    throw new FwupError('NOT_STAGED', `there is no previous firmware to roll back to: the other slot is ${other.state}${other.problem ? ` (${other.problem})` : ''}`, {
      hint: other.state === 'unused' ? 'an interrupted update left it unusable; install an update instead' : 'nothing has been installed there yet',
    });
  }
  const floor = st.securityVersion ?? 0;
  if ((other.securityVersion ?? 0) < floor) {
    throw new FwupError('POLICY_SECURITY_VERSION', `the previous firmware ${other.version} has security version ${other.securityVersion}; the machine requires at least ${floor}`, {
      hint: 'the security version never goes down: rolling back would reopen fixed vulnerabilities',
    });
  }
  const request: UpdateRequest = {
    recordVersion: 2, flags: REQUEST_FLAGS.ROLLBACK, regionOffset: p.map.STAGING.offset, imageOffset: 0, imageLength: 0,
    imageSha256: Buffer.alloc(32), imageFormat: 1, reserved0: 0, cpuCount: 0,
    versionNumber: other.versionNumber ?? 0, version: other.version ?? '', stateSaveAddress: 0n, stateSaveLength: 0, stateSaveCrc32: 0, stagedAt: 0n,
  };
  return { request, expected: other.versionNumber ?? 0 };
}

function refuseColdOnly(p: Platform, r: UpdateRequest): void {
  if (r.imageFormat !== 1) return;
  let flags = 0;
  let version = '';
  try {
    const region = r.regionOffset === p.map.STAGING.offset ? p.map.STAGING : r.regionOffset === p.map.SLOT_A.offset ? p.map.SLOT_A : p.map.SLOT_B;
    const h = parseFwupHeader(readHeader(new RegionSource(p.flash, region, r.imageOffset, r.imageLength)));
    flags = h.flags;
    version = h.version;
  } catch {
    return; // a damaged staged image is the firmware's to refuse, with a recorded status
  }
  if (flags & FWUP_FLAGS.COLD_ONLY) {
    throw new FwupError('POLICY_DOWNGRADE', `the staged image ${version} is marked COLD_ONLY: it cannot be applied warm`, { hint: 'use fwup apply --cold' });
  }
}

function compareRestored(machine: EmulatedMachine, snaps: CpuSnapshot[]): OutcomeCheck {
  const bad: string[] = [];
  for (const s of snaps) {
    const now = machine.snapshot(s.cpu);
    if (machine.state(s.cpu) === CPU_STATE.FAULT) bad.push(`CPU ${s.cpu} refused its saved state`);
    else if (!equal(now.regs, s.regs) || !equal(now.page, s.page)) bad.push(`CPU ${s.cpu} differs`);
  }
  return {
    name: 'every CPU restored exactly',
    ok: bad.length === 0,
    detail: bad.length ? bad.join(', ') : `${snaps.length} register files and pages equal their snapshots at the IPI`,
  };
}

function compareWithReference(machine: EmulatedMachine, snaps: CpuSnapshot[], steps: number, timeoutMs: number): OutcomeCheck {
  machine.waitParked(timeoutMs);
  const bad: string[] = [];
  const seed = machine.options.seed;
  const idle = new Set(machine.options.idleCpus ?? []);
  for (const s of snaps) {
    const actual = machine.snapshot(s.cpu);
    const expected = idle.has(s.cpu) ? { regs: s.regs, page: s.page } : referenceRun(s.cpu, seed, s, s.step + steps);
    if (!equal(actual.regs, expected.regs) || !equal(actual.page, expected.page)) bad.push(`CPU ${s.cpu}`);
  }
  machine.unpark();
  return {
    name: 'workload matches the reference run',
    ok: bad.length === 0,
    detail: bad.length ? `diverged: ${bad.join(', ')}` : `${snaps.length} CPUs ran ${steps} more instructions each and match an uninterrupted reference`,
  };
}

function equal(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
