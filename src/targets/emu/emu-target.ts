import { open } from 'node:fs/promises';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';
import { Digester } from '../../util/digest.js';
import { trustedCerts, trustedKeys } from '../../machine/config.js';
import { openPlatform, readMachineConfig, type Platform } from '../../machine/platform.js';
import { readRegionHeader } from '../../machine/slot-image.js';
import { RegionWriter } from '../../storage/region-writer.js';
import { isPowerCut } from '../../storage/fault-flash.js';
import { applyUpdate } from '../../machine/apply.js';
import { powerOn, recoveryBoot } from '../../machine/power.js';
import type { BootReport } from '../../machine/firmware/firmware.js';
import { POWER_LATCH } from './power-latch.js';
import { damageSaveSlot } from './save-slot-damage.js';
import { runningServicePid, serviceFiles } from './service-files.js';
import { callService } from './service-protocol.js';
import {
  IMAGE_FORMAT_ID, lastAttemptStatusName, REQUEST_FLAGS, slotName, type UpdateRequest,
} from '../../storage/variables.js';
import type { FlashMap } from '../../storage/flash-map.js';
import { acquireLock } from '../lock-file.js';
import { ActionLog } from '../plan.js';
import type {
  ApplyOutcome, ApplyRequest, HistoryItem, StagedSummary, StageOptions, StageResult, Target, TargetDeps, TargetFacts, TargetStatus,
  VerifiedImage,
} from '../target.js';

export { POWER_LATCH };

const READ_CHUNK = 1 << 20;

/** The emulated machine as a target: a directory with machine.json and flash.img. */
export class EmuTarget implements Target {
  readonly kind = 'emu' as const;
  readonly spec: string;

  constructor(readonly dir: string, private readonly deps: TargetDeps) {
    this.spec = `emu:${dir}`;
  }

  lock(timeoutMs: number): Promise<() => Promise<void>> {
    readMachineConfig(this.dir); // a clear "no machine here" before waiting on a lock
    return acquireLock(join(this.dir, 'lock'), timeoutMs, `machine ${this.dir}`);
  }

  /**
   * Open the machine's storage. After a power cut (the latch is set) the machine is off: the first
   * command to touch it performs the cold boot, whose firmware finishes or undoes what was interrupted.
   */
  private async open(writable: boolean): Promise<Platform> {
    const latched = existsSync(join(this.dir, POWER_LATCH));
    const p = openPlatform(this.dir, { writable: writable || latched, faultPlan: writable || latched ? this.deps.faultPlan : null });
    if (latched) {
      try {
        const boot = await this.guardAsync(() => recoveryBoot(p, this.deps.now));
        rmSync(join(this.dir, POWER_LATCH), { force: true });
        this.lastRecovery = boot;
        this.deps.log.info(`recovery boot after a power cut: ${boot.events.slice(1).join('; ')}`);
      } catch (e) {
        p.close();
        throw e;
      }
    }
    return p;
  }

  /** The boot that the last open performed, if it had to recover from a power cut. */
  lastRecovery: BootReport | null = null;

  /** An injected power cut leaves the machine off: record it, then let the error through (exit 11). */
  private async guardAsync<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (isPowerCut(e)) writeFileSync(join(this.dir, POWER_LATCH), `${this.deps.now().toISOString()}\n`);
      throw e;
    }
  }

  async facts(): Promise<TargetFacts> {
    const p = await this.open(false);
    try {
      const boot = p.vars.bootState();
      const active = readRegionHeader(p.flash, boot.active === 0 ? p.map.SLOT_A : p.map.SLOT_B);
      const keys = trustedKeys(p.config);
      const certs = trustedCerts(p.config);
      return {
        kind: 'emu',
        spec: this.spec,
        platform: p.config.platform,
        activeVersion: active.version,
        activeVersionNumber: active.versionNumber,
        lowestSupportedVersion: active.lowestSupportedVersion,
        securityVersion: p.vars.securityVersion(),
        hasTrustedKeys: keys.length > 0,
        hasTrustedCerts: certs.length > 0,
        imageTypeId: p.config.imageTypeId ?? null,
        development: p.config.development,
        capacity: Math.min(p.map.STAGING.size, p.map.SLOT_A.size, p.map.SLOT_B.size),
        trustedKeys: keys,
        trustedCerts: certs,
      };
    } finally {
      p.close();
    }
  }

  stage(image: VerifiedImage, opts: StageOptions): Promise<StageResult> {
    return this.guardAsync(() => this.stageOnce(image, opts));
  }

  private async stageOnce(image: VerifiedImage, opts: StageOptions): Promise<StageResult> {
    // A dry run opens the flash read-only, and so never runs the recovery boot a power cut left pending.
    const p = opts.dryRun ? openPlatform(this.dir, { writable: false, faultPlan: null }) : await this.open(true);
    try {
      const flags = (opts.allowOlder ? REQUEST_FLAGS.ALLOW_OLDER : 0) | (opts.allowUnsigned ? REQUEST_FLAGS.ALLOW_UNSIGNED : 0);
      const existing = p.vars.request();
      if (existing && sameImage(existing, image, flags) && stagingHolds(p, existing)) {
        throw new FwupError('NOTHING_TO_DO', `this image (${image.report.version}, sha256 ${image.report.sha256.slice(0, 16)}…) is already staged`, {
          hint: 'apply it with `fwup apply --warm`',
        });
      }
      if (!p.vars.canStoreRequest()) {
        throw new FwupError('NVRAM_FULL', 'NVRAM has no room for the update request', {
          hint: 'the machine NVRAM is full of other variables; re-create the machine or free variables',
        });
      }
      if (opts.dryRun) return this.stagePlan(p, image, existing !== null, flags);
      // Invalidate the old request before STAGING is touched: a cut from here on leaves no request at all.
      if (existing) p.vars.clearRequest();

      const writer = new RegionWriter(p.flash, p.map.STAGING);
      const digest = new Digester();
      const fh = await open(image.path, 'r');
      try {
        const buf = Buffer.allocUnsafe(READ_CHUNK);
        for (let pos = 0; pos < image.size; ) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, image.size - pos), pos);
          if (bytesRead === 0) break;
          const chunk = buf.subarray(0, bytesRead);
          digest.update(chunk);
          writer.write(chunk);
          pos += bytesRead;
          opts.onProgress?.(pos, image.size);
        }
      } finally {
        await fh.close();
      }
      const write = writer.finish();
      const d = digest.digest();
      if (d.length !== image.size || d.crc32 !== image.fileCrc32) {
        throw new FwupError('FILE_IO', `${image.path} changed while it was being staged`, {
          hint: 'nothing was staged; run stage again once the file is stable',
        });
      }
      p.flash.sync();
      const now = this.deps.now();
      const request: UpdateRequest = {
        recordVersion: 1,
        flags,
        regionOffset: p.map.STAGING.offset,
        imageOffset: 0,
        imageLength: image.size,
        imageCrc32: d.crc32,
        imageSha256: Buffer.from(d.sha256, 'hex'),
        imageFormat: IMAGE_FORMAT_ID[image.format],
        reserved0: 0,
        cpuCount: 0,
        versionNumber: image.report.versionNumber,
        version: image.report.version,
        stateSaveAddress: 0n,
        stateSaveLength: 0,
        stateSaveCrc32: 0,
        stagedAt: BigInt(now.getTime()),
      };
      p.vars.setRequest(request);
      const plan = new ActionLog(false);
      describeStage(plan, p, image.size, existing !== null);
      return { staged: summarize(request), replaced: existing !== null, write, plan: plan.actions, dryRun: false };
    } finally {
      p.close();
    }
  }

  /** --dry-run: the regions a stage would write, after the same checks, with nothing written. */
  private stagePlan(p: Platform, image: VerifiedImage, replaces: boolean, flags: number): StageResult {
    const plan = new ActionLog(true);
    describeStage(plan, p, image.size, replaces);
    const staged: StagedSummary = {
      version: image.report.version,
      versionNumber: image.report.versionNumber,
      format: image.format,
      size: image.size,
      sha256: '',
      crc32: image.fileCrc32,
      stagedAt: this.deps.now().toISOString(),
      flags: Object.entries(REQUEST_FLAGS).filter(([, b]) => flags & b).map(([n]) => n),
    };
    return { staged, replaced: replaces, write: null, plan: plan.actions, dryRun: true };
  }

  async unstage(): Promise<boolean> {
    return this.guardAsync(async () => {
      const p = await this.open(true);
      try {
        return p.vars.clearRequest();
      } finally {
        p.close();
      }
    });
  }

  apply(req: ApplyRequest): Promise<ApplyOutcome> {
    return req.dryRun ? this.applyPlan(req, 'install') : this.run(req, 'install');
  }

  rollback(req: ApplyRequest): Promise<ApplyOutcome> {
    return req.dryRun ? this.applyPlan({ ...req, mode: 'warm' }, 'rollback') : this.run({ ...req, mode: 'warm' }, 'rollback');
  }

  /** --dry-run of apply/rollback: what the method would write, after checking there is something to do. */
  private async applyPlan(req: ApplyRequest, kind: 'install' | 'rollback'): Promise<ApplyOutcome> {
    const p = openPlatform(this.dir, { writable: false, faultPlan: null });
    try {
      const boot = p.vars.bootState();
      const request = p.vars.request();
      if (kind === 'install' && !request) throw new FwupError('NOT_STAGED', 'no update is staged', { hint: 'stage one first: fwup stage IMAGE' });
      const inactive = boot.active === 0 ? 'SLOT_B' : 'SLOT_A';
      const plan = new ActionLog(true);
      plan.note({ kind: 'check', purpose: req.mode === 'warm' ? `IPI to all ${p.config.cpus} CPUs, save every register file, processor-only reset` : 'full reset: RAM and the running OS are lost' });
      if (kind === 'install') {
        plan.note({ kind: 'check', purpose: `firmware verifies the staged image (${request!.imageLength} bytes, SHA-256, signature, version policy)` });
        plan.note({ kind: 'flash', region: inactive, offset: p.map[inactive].offset, length: request!.imageLength, purpose: `erase and program the image into the inactive slot ${inactive === 'SLOT_A' ? 'A' : 'B'}, read-back verify` });
      }
      plan.note({ kind: 'flash', region: 'NVRAM', offset: p.map.NVRAM.offset, length: p.map.NVRAM.size, purpose: `boot state (${kind === 'install' ? 'new slot on trial' : 'previous slot'}), last attempt, history; the request is cleared` });
      plan.note({ kind: 'check', purpose: 'restore every CPU, compare with the reference run, then confirm (or revert) the trial' });
      return { target: this.spec, kind: 'emu', ok: true, report: { mode: req.mode, kind, cpus: p.config.cpus }, plan: plan.actions, dryRun: true };
    } finally {
      p.close();
    }
  }

  /**
   * On a running machine (`fwup machine start`) the method runs there and the OS keeps running after;
   * otherwise a machine is booted for the duration of the command and powered off at the end.
   */
  private async run(req: ApplyRequest, kind: 'install' | 'rollback'): Promise<ApplyOutcome> {
    if (runningServicePid(this.dir) !== null) {
      const report = (await callService(serviceFiles(this.dir).socket, {
        op: kind === 'install' ? 'apply' : 'rollback',
        args: { ...req, faultPlan: this.deps.faultPlan, corruptSaveCpu: this.deps.emuKnobs.corruptSaveCpu },
      }, req.timeoutMs + 60_000)) as { ok: boolean };
      return { target: this.spec, kind: 'emu', ok: report.ok, report: { ...report, live: true } as unknown as Record<string, unknown>, plan: [], dryRun: false };
    }
    return this.guardAsync(async () => {
      const p = await this.open(true);
      let machine: Awaited<ReturnType<typeof powerOn>>['machine'] | null = null;
      try {
        const on = await powerOn(p, { hostCpus: this.deps.hostCpus, knobs: this.deps.emuKnobs, now: this.deps.now });
        machine = on.machine;
        if (on.boot.rejected && kind === 'install') {
          // Every boot validates the request: a hostile or damaged one is discarded before the OS runs.
          throw new FwupError('FIRMWARE_REJECTED', `the firmware refused the update at power-on: ${on.boot.rejected.reason}`, {
            hint: 'the request was discarded and the status recorded (fwup status); stage the image again',
            details: { events: on.boot.events },
          });
        }
        const corrupt = this.deps.emuKnobs.corruptSaveCpu;
        const report = await applyUpdate(machine, p, {
          mode: req.mode,
          kind,
          timeoutMs: req.timeoutMs,
          confirm: req.confirm,
          checkSteps: 100_000,
          now: this.deps.now,
          ...(corrupt !== null ? { tamper: (ram: Uint8Array) => damageSaveSlot(ram, corrupt) } : {}),
        });
        return { target: this.spec, kind: 'emu', ok: report.ok, report: { ...report, powerOn: on.boot.events }, plan: [], dryRun: false };
      } finally {
        if (machine) await machine.stop();
        p.close();
      }
    });
  }

  /** `fwup machine boot`: a cold boot of the firmware alone (the recovery boot, on demand). */
  async boot(): Promise<BootReport> {
    return this.guardAsync(async () => {
      const p = await this.open(true);
      try {
        return this.lastRecovery ?? (await this.guardAsync(() => recoveryBoot(p, this.deps.now)));
      } finally {
        p.close();
      }
    });
  }

  async history(): Promise<HistoryItem[]> {
    const p = await this.open(false);
    try {
      return p.vars.history().map((h) => ({
        time: new Date(Number(h.time)).toISOString(),
        action: h.action,
        fromVersion: h.fromVersion,
        toVersion: h.toVersion,
        status: h.status,
        statusName: lastAttemptStatusName(h.status),
        detail: h.detail,
      }));
    } finally {
      p.close();
    }
  }

  async status(): Promise<TargetStatus> {
    const p = await this.open(false);
    try {
      const boot = p.vars.bootState();
      const slots = Object.fromEntries(
        (['SLOT_A', 'SLOT_B'] as const).map((name) => [slotName(name === 'SLOT_A' ? 0 : 1), slotInfo(p, p.map, name)]),
      );
      const req = p.vars.request();
      const last = p.vars.lastAttempt();
      const nv = p.vars.store.usage();
      const active = slots[slotName(boot.active)] as ReturnType<typeof slotInfo>;
      return {
        target: this.spec,
        kind: 'emu',
        machine: {
          dir: this.dir,
          platform: p.config.platform,
          cpus: p.config.cpus,
          flashBytes: p.config.flash.size,
          development: p.config.development,
          trustedKeys: p.config.trustedKeys.map((k) => ({ name: k.name, keyId: k.keyId })),
        },
        firmware: {
          activeSlot: slotName(boot.active),
          version: active.version,
          versionNumber: active.versionNumber,
          trial: boot.trial === 1,
          previousSlot: slotName(boot.previous),
          slots,
        },
        staged: req ? summarize(req) : null,
        lastAttempt: last
          ? { status: last.status, statusName: lastAttemptStatusName(last.status), version: last.version, versionNumber: last.versionNumber, time: new Date(Number(last.time)).toISOString() }
          : null,
        securityVersion: p.vars.securityVersion(),
        nvram: { size: nv.size, used: nv.used, free: nv.free, live: nv.live, variables: nv.variables, generation: nv.generation },
      };
    } finally {
      p.close();
    }
  }
}

function sameImage(r: UpdateRequest, image: VerifiedImage, flags: number): boolean {
  return r.imageLength === image.size && r.imageCrc32 === image.fileCrc32 && r.flags === flags && r.imageOffset === 0;
}

/** The bytes in STAGING still hash to what the request says (they may have been damaged since). */
function stagingHolds(p: Platform, r: UpdateRequest): boolean {
  if (r.imageOffset + r.imageLength > p.map.STAGING.size) return false;
  const d = new Digester();
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  for (let pos = 0; pos < r.imageLength; ) {
    const n = Math.min(buf.length, r.imageLength - pos);
    d.update(p.flash.read(p.map.STAGING.offset + r.imageOffset + pos, n, buf));
    pos += n;
  }
  return d.digest().sha256 === r.imageSha256.toString('hex');
}

function slotInfo(p: Platform, map: FlashMap, name: 'SLOT_A' | 'SLOT_B') {
  try {
    const h = readRegionHeader(p.flash, map[name]);
    return { version: h.version, versionNumber: h.versionNumber, securityVersion: h.securityVersion, size: h.headerSize + h.payloadLength };
  } catch {
    return { version: null, versionNumber: null, securityVersion: null, size: null };
  }
}

function summarize(r: UpdateRequest): StagedSummary {
  const fmt = (Object.entries(IMAGE_FORMAT_ID).find(([, v]) => v === r.imageFormat)?.[0] ?? 'raw') as StagedSummary['format'];
  return {
    version: r.version,
    versionNumber: r.versionNumber,
    format: fmt,
    size: r.imageLength,
    sha256: r.imageSha256.toString('hex'),
    crc32: r.imageCrc32,
    stagedAt: new Date(Number(r.stagedAt)).toISOString(),
    flags: Object.entries(REQUEST_FLAGS).filter(([, b]) => r.flags & b).map(([n]) => n),
  };
}

/** The flash regions a stage writes: STAGING (erase, program, read back), then the request in NVRAM. */
function describeStage(plan: ActionLog, p: Platform, size: number, replaces: boolean): void {
  if (replaces) plan.note({ kind: 'flash', region: 'NVRAM', offset: p.map.NVRAM.offset, length: p.map.NVRAM.size, purpose: 'invalidate the update request staged before' });
  plan.note({ kind: 'flash', region: 'STAGING', offset: p.map.STAGING.offset, length: size, purpose: 'erase and program the image, read-back verify (unchanged blocks skipped)' });
  plan.note({ kind: 'flash', region: 'NVRAM', offset: p.map.NVRAM.offset, length: p.map.NVRAM.size, purpose: 'the update request record (offset, length, SHA-256, CRC-32, version, flags)' });
}
