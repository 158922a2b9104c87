import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';
import { openPlatform, readMachineConfig, type Platform } from '../../machine/platform.js';
import { isPowerCut } from '../../storage/fault-flash.js';
import { applyUpdate } from '../../machine/apply.js';
import { powerOn, recoveryBoot } from '../../machine/power.js';
import type { BootReport } from '../../machine/firmware/firmware.js';
import { POWER_LATCH } from './power-latch.js';
import { damageSaveSlot } from './save-slot-damage.js';
import { runningServicePid, serviceFiles } from './service-files.js';
import { callService } from './service-protocol.js';
import { acquireLock } from '../lock-file.js';
import type {
  ApplyOutcome, ApplyRequest, EmuDeps, HistoryItem, StageInput, StageOptions, StageSession, Target, TargetDeps, TargetFacts,
} from '../target.js';
import type { PlannedAction } from '../plan.js';
import type { EmuApplyReport, EmuStatus } from './emu-results.js';
import { emuStageSession } from './emu-stage.js';
import { emuHistory, emuStatus } from './emu-status.js';
import { flashPlan } from './flash-plan.js';

export { POWER_LATCH };

type OpenMode = 'write' | 'read' | 'dry-run';

/** The emulated machine as a target: a directory with machine.json and flash.img. */
export class EmuTarget implements Target {
  readonly kind = 'emu' as const;
  readonly spec: string;
  /** The boot that the last open performed, if it had to recover from a power cut. */
  lastRecovery: BootReport | null = null;

  constructor(readonly dir: string, private readonly deps: TargetDeps, private readonly emu: EmuDeps) {
    this.spec = `emu:${dir}`;
  }

  lock(timeoutMs: number): Promise<() => Promise<void>> {
    readMachineConfig(this.dir); // a clear "no machine here" before waiting on a lock
    return acquireLock(join(this.dir, 'lock'), timeoutMs, `machine ${this.dir}`, (m) => this.deps.log.info(m));
  }

  /**
   * Open the machine as the OS sees it. After a power cut (the latch is set) the machine is off: the
   * first command that writes performs the cold boot, whose firmware finishes or undoes what was
   * interrupted. Read-only commands read a snapshot and take no lock; a dry run writes into memory.
   */
  private async open(mode: OpenMode): Promise<Platform> {
    const latched = existsSync(join(this.dir, POWER_LATCH));
    const p = openPlatform(this.dir, {
      writable: mode === 'write',
      snapshot: mode === 'read',
      overlay: mode === 'dry-run',
      faultPlan: mode === 'write' ? this.emu.faultPlan : null,
      now: this.deps.now,
      auditFile: this.emu.knobs.auditFile,
      eraseDelayMs: this.emu.knobs.eraseDelayMs,
    });
    if (latched && mode !== 'read') {
      try {
        const boot = await this.guard(() => recoveryBoot(p, this.deps.now));
        if (mode === 'write') rmSync(join(this.dir, POWER_LATCH), { force: true });
        this.lastRecovery = boot;
        this.deps.log.info(`recovery boot after a power cut: ${boot.events.slice(1).join('; ')}`);
      } catch (e) {
        p.close();
        throw e;
      }
    }
    return p;
  }

  /** An injected power cut leaves the machine off: record it, then let the error through (exit 11). */
  private guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      if (isPowerCut(e)) writeFileSync(join(this.dir, POWER_LATCH), `${this.deps.now().toISOString()}\n`);
      throw e;
    }
  };

  async facts(): Promise<TargetFacts> {
    // After a power cut, what a command will find is the machine after its recovery boot: run that boot
    // over a copy-on-write view (nothing written) and answer from it.
    const p = await this.open(existsSync(join(this.dir, POWER_LATCH)) ? 'dry-run' : 'read');
    try {
      const s = p.services;
      const active = s.activeFirmware();
      const trust = s.trust();
      return {
        kind: 'emu',
        spec: this.spec,
        platform: trust.platform,
        activeVersion: active.version,
        activeVersionNumber: active.versionNumber,
        lowestSupportedVersion: active.lowestSupportedVersion,
        securityVersion: s.securityFloor(),
        hasTrustedKeys: trust.keys.length > 0,
        hasTrustedCerts: trust.certs.length > 0,
        imageTypeId: trust.imageTypeId || null,
        development: trust.development,
        capacity: { image: p.map.STAGING.size, slot: Math.min(p.map.SLOT_A.size, p.map.SLOT_B.size) },
        trustedKeys: trust.keys,
        trustedCerts: trust.certs,
      };
    } finally {
      p.close();
    }
  }

  async beginStage(input: StageInput, opts: StageOptions): Promise<StageSession> {
    const p = await this.open(opts.dryRun ? 'dry-run' : 'write');
    try {
      return emuStageSession(p, input, opts, this.deps.now, this.guard);
    } catch (e) {
      p.close();
      throw e;
    }
  }

  async unstage(opts: { dryRun: boolean }): Promise<{ removed: boolean; plan: PlannedAction[] }> {
    return this.guard(async () => {
      const p = await this.open(opts.dryRun ? 'dry-run' : 'write');
      try {
        const removed = p.services.clearRequest();
        return { removed, plan: flashPlan(p.map, p.ops) };
      } finally {
        p.close();
      }
    });
  }

  apply(req: ApplyRequest): Promise<ApplyOutcome> {
    return this.run(req, 'install');
  }

  rollback(req: ApplyRequest): Promise<ApplyOutcome> {
    return this.run({ ...req, mode: 'warm' }, 'rollback');
  }

  /**
   * On a running machine (`fwup machine start`) the method runs there and the OS keeps running after;
   * otherwise a machine is booted for the duration of the command and powered off at the end. A dry
   * run boots a machine over a copy-on-write view of the flash and runs the method for real on it:
   * its plan is what that run wrote.
   */
  private async run(req: ApplyRequest, kind: 'install' | 'rollback'): Promise<ApplyOutcome> {
    if (!req.dryRun && runningServicePid(this.dir) !== null) {
      const report = (await callService(serviceFiles(this.dir).socket, {
        op: kind === 'install' ? 'apply' : 'rollback',
        args: { ...req, onProgress: undefined, faultPlan: this.emu.faultPlan, corruptSaveCpu: this.emu.knobs.corruptSaveCpu },
      }, req.timeoutMs + 60_000)) as EmuApplyReport;
      return { target: this.spec, kind: 'emu', ok: report.ok, report: { ...report, live: true }, plan: [], dryRun: false };
    }
    return this.guard(async () => {
      const p = await this.open(req.dryRun ? 'dry-run' : 'write');
      let machine: Awaited<ReturnType<typeof powerOn>>['machine'] | null = null;
      try {
        const on = await powerOn(p, { hostCpus: this.emu.hostCpus, knobs: this.emu.knobs, now: this.deps.now });
        machine = on.machine;
        if (on.boot.rejected && kind === 'install') {
          // Every boot validates the request: a hostile or damaged one is discarded before the OS runs.
          throw new FwupError('FIRMWARE_REJECTED', `the firmware discarded the staged update when the machine was powered on: ${on.boot.rejected.reason}`, {
            hint: 'the request was discarded and the status recorded (fwup status); stage the image again',
            details: { events: on.boot.events },
          });
        }
        const corrupt = this.emu.knobs.corruptSaveCpu;
        const report = await applyUpdate(machine, p, {
          mode: req.mode,
          kind,
          timeoutMs: req.timeoutMs,
          confirm: req.confirm,
          checkSteps: 100_000,
          now: this.deps.now,
          ...(corrupt !== null ? { tamper: (ram: Uint8Array) => damageSaveSlot(ram, corrupt) } : {}),
        });
        return {
          target: this.spec, kind: 'emu', ok: report.ok, report: { ...report, powerOn: on.boot.events, live: false },
          plan: flashPlan(p.map, p.ops), dryRun: req.dryRun,
        };
      } finally {
        if (machine) await machine.stop();
        p.close();
      }
    });
  }

  /** `fwup machine boot`: a cold boot of the firmware alone (the recovery boot, on demand). */
  async boot(): Promise<BootReport> {
    const pid = runningServicePid(this.dir);
    if (pid !== null) {
      throw new FwupError('TARGET_BUSY', `the machine at ${this.dir} is running (pid ${pid}): it cannot be booted again underneath its OS`, {
        hint: 'stop it first (fwup machine stop); it boots when started again',
      });
    }
    return this.guard(async () => {
      const p = await this.open('write');
      try {
        return this.lastRecovery ?? (await recoveryBoot(p, this.deps.now));
      } finally {
        p.close();
      }
    });
  }

  async history(): Promise<HistoryItem[]> {
    const p = await this.open('read');
    try {
      return emuHistory(p);
    } finally {
      p.close();
    }
  }

  async status(): Promise<EmuStatus> {
    const p = await this.open('read');
    try {
      return emuStatus(p, this.spec);
    } finally {
      p.close();
    }
  }
}
