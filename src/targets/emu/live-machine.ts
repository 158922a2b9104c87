import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';
import { isPowerCut, type FaultPlan } from '../../storage/fault-flash.js';
import { applyUpdate, type ApplyReport } from '../../machine/apply.js';
import type { EmulatedMachine } from '../../machine/machine.js';
import { openPlatform, type Platform } from '../../machine/platform.js';
import { powerOn } from '../../machine/power.js';
import type { EmuDeps, TargetDeps } from '../target.js';
import { damageSaveSlot } from './save-slot-damage.js';
import { POWER_LATCH } from './power-latch.js';
import { serviceFiles } from './service-files.js';

export type LivePowerState = 'On' | 'Off' | 'PoweringOn' | 'PoweringOff';

export interface LiveApplyArgs {
  mode: 'warm' | 'cold';
  kind: 'install' | 'rollback';
  timeoutMs: number;
  confirm: boolean;
  faultPlan: FaultPlan | null;
  corruptSaveCpu: number | null;
}

/**
 * The CPUs and RAM of a machine that keeps running between commands, and the one queue every
 * operation on it goes through (the control socket and the Redfish BMC alike): one at a time, in
 * arrival order. The flash is opened afresh for each operation, so `stage` from other processes writes
 * beside it as an OS would.
 */
export class LiveMachine {
  private machine: EmulatedMachine | null = null;
  private state: LivePowerState = 'Off';
  private queue: Promise<unknown> = Promise.resolve();
  /** Set when an injected power cut took the machine down: the service stops. */
  lostPower = false;

  constructor(readonly dir: string, private readonly deps: TargetDeps, private readonly emu: EmuDeps) {}

  log(m: string): void {
    try {
      appendFileSync(serviceFiles(this.dir).log, `${new Date().toISOString()} ${m}\n`);
    } catch {
      // The directory may be gone (removed right after a stop): a log line must never stop a shutdown.
    }
  }

  open(plan: FaultPlan | null): Platform {
    return openPlatform(this.dir, { writable: true, faultPlan: plan, now: this.deps.now, auditFile: this.emu.knobs.auditFile, eraseDelayMs: this.emu.knobs.eraseDelayMs });
  }

  powerState(): LivePowerState {
    return this.state;
  }

  get running(): EmulatedMachine | null {
    return this.machine;
  }

  /** Run `fn` when every operation queued before it has finished. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  /** Power on: the firmware's boot (repairs, reverts an unconfirmed trial), then the OS on every CPU. */
  async powerOn(plan: FaultPlan | null = this.emu.faultPlan): Promise<string[]> {
    if (this.machine) return [];
    this.state = 'PoweringOn';
    const p = this.open(plan);
    try {
      const on = await this.guard(() => powerOn(p, { hostCpus: this.emu.hostCpus, knobs: this.emu.knobs, now: this.deps.now }));
      this.machine = on.machine;
      this.state = 'On';
      for (const e of on.boot.events) this.log(`firmware: ${e}`);
      return on.boot.events;
    } catch (e) {
      this.state = 'Off';
      throw e;
    } finally {
      p.close();
    }
  }

  /** Power off: every CPU stops, RAM is lost. */
  async powerOff(): Promise<void> {
    if (!this.machine) return;
    this.state = 'PoweringOff';
    const m = this.machine;
    this.machine = null;
    await m.stop();
    this.state = 'Off';
  }

  /** A full reset without an update: power off, then on (the OS starts over). */
  async restart(): Promise<string[]> {
    await this.powerOff();
    return this.powerOn(null);
  }

  /** The method on the running machine (warm: the OS keeps running; cold: it starts over). */
  async apply(a: LiveApplyArgs): Promise<ApplyReport> {
    const machine = this.machine;
    if (!machine) {
      throw new FwupError('TARGET_UNSUPPORTED', 'the machine is powered off: there is no OS to keep running', { hint: 'power it on first (Redfish ComputerSystem.Reset with ResetType On)' });
    }
    const p = this.open(a.faultPlan);
    try {
      const report = await this.guard(() =>
        applyUpdate(machine, p, {
          mode: a.mode,
          kind: a.kind,
          timeoutMs: a.timeoutMs,
          confirm: a.confirm,
          checkSteps: 100_000,
          now: this.deps.now,
          ...(a.corruptSaveCpu !== null ? { tamper: (ram: Uint8Array) => damageSaveSlot(ram, a.corruptSaveCpu!) } : {}),
        }),
      );
      this.log(`${a.kind} ${report.mode}: ${report.before.version} -> ${report.after.version}, ${report.ok ? 'ok' : 'FAILED'}, downtime ${report.downtimeMs.toFixed(1)} ms`);
      return report;
    } finally {
      p.close();
    }
  }

  /** A snapshot of the flash as the OS sees it, for status (no lock, nothing written). */
  read<T>(fn: (p: Platform) => T): T {
    const p = openPlatform(this.dir, { writable: false, snapshot: true });
    try {
      return fn(p);
    } finally {
      p.close();
    }
  }

  async stop(): Promise<void> {
    await this.powerOff();
  }

  /** An injected power cut leaves the machine off: latch it, so the next command recovers. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (isPowerCut(e)) {
        writeFileSync(join(this.dir, POWER_LATCH), `${this.deps.now().toISOString()}\n`);
        this.log('power cut: the machine is off');
        this.lostPower = true;
        this.state = 'Off';
      }
      throw e;
    }
  }
}
