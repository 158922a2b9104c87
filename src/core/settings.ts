import { FwupError } from '../errors/fwup-error.js';
import { parseFaultPlan, type FaultPlan } from '../storage/fault-flash.js';
import { realExec, type Exec } from '../targets/exec.js';
import type { EmuDeps, TargetDeps } from '../targets/target.js';
import type { RedfishDeps } from '../targets/redfish/redfish-connection.js';
import { resolvePath, type Context } from './context.js';

/** Settings that come from the environment, read in one place from the Context's snapshot. */
export function lockTimeoutMs(ctx: Context): number {
  const raw = ctx.env.FWUP_LOCK_TIMEOUT;
  if (raw === undefined || raw === '') return 30_000;
  const s = Number(raw);
  if (!(s >= 0)) throw new FwupError('USAGE', `FWUP_LOCK_TIMEOUT=${raw} is not a number of seconds`, { hint: 'set it to the seconds to wait for a busy target, e.g. FWUP_LOCK_TIMEOUT=60' });
  return s * 1000;
}

/** FWUP_MACHINE_START_TIMEOUT: seconds `machine start` waits for the machine to come up (default 30). */
export function machineStartTimeoutMs(ctx: Context): number {
  const raw = ctx.env.FWUP_MACHINE_START_TIMEOUT;
  if (raw === undefined || raw === '') return 30_000;
  const s = Number(raw);
  if (!(s > 0)) throw new FwupError('USAGE', `FWUP_MACHINE_START_TIMEOUT=${raw} is not a number of seconds`, { hint: 'e.g. FWUP_MACHINE_START_TIMEOUT=60 on a loaded host' });
  return s * 1000;
}

export function faultPlan(ctx: Context): FaultPlan | null {
  const raw = ctx.env.FWUP_FAULT;
  return raw ? parseFaultPlan(raw) : null;
}

function cpuList(ctx: Context, name: string): number[] {
  const raw = ctx.env[name];
  if (!raw) return [];
  const list = raw.split(',').map((x) => Number(x.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 0)) throw new FwupError('USAGE', `${name}=${raw} is not a list of CPU numbers`, { hint: 'comma-separated CPU numbers, e.g. 0,3' });
  return list;
}

/** Test knobs of the emulated machine (docs/testing.md): idle CPUs, CPUs that never acknowledge, a damaged save slot. */
export function emuKnobs(ctx: Context): EmuDeps['knobs'] {
  const corrupt = cpuList(ctx, 'FWUP_EMU_CORRUPT_SAVE');
  const delay = ctx.env.FWUP_EMU_ERASE_DELAY_MS;
  const eraseDelayMs = delay ? Number(delay) : 0;
  if (!(eraseDelayMs >= 0 && eraseDelayMs <= 10_000)) {
    throw new FwupError('USAGE', `FWUP_EMU_ERASE_DELAY_MS=${delay} is not a number of milliseconds (0 to 10000)`, { hint: 'e.g. FWUP_EMU_ERASE_DELAY_MS=45 (a W25Q128 sector erase)' });
  }
  return {
    idleCpus: cpuList(ctx, 'FWUP_EMU_IDLE_CPUS'), deafCpus: cpuList(ctx, 'FWUP_EMU_DEAF_CPUS'), corruptSaveCpu: corrupt[0] ?? null,
    auditFile: ctx.env.FWUP_EMU_AUDIT ? resolvePath(ctx, ctx.env.FWUP_EMU_AUDIT) : null, eraseDelayMs,
  };
}

/**
 * FWUP_REBOOT_COMMAND: the command that reboots this system, instead of `systemctl reboot` / `reboot`.
 * For tests (a recorder instead of a real reboot) and systems with an unusual reboot. A JSON array of
 * strings, or words separated by spaces (no quoting: use the JSON form for arguments with spaces).
 */
export function rebootCommand(ctx: Context): string[] | null {
  const raw = ctx.env.FWUP_REBOOT_COMMAND?.trim();
  if (!raw) return null;
  if (raw.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      v = null;
    }
    if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string' || x === '')) {
      throw new FwupError('USAGE', `FWUP_REBOOT_COMMAND=${raw} is not a JSON array of non-empty strings`, { hint: 'e.g. FWUP_REBOOT_COMMAND=\'["systemctl","reboot"]\'' });
    }
    return v as string[];
  }
  return raw.split(/\s+/);
}

let sharedExec: Exec | null = null;

export function targetDeps(ctx: Context): TargetDeps {
  return {
    now: ctx.now,
    log: ctx.log,
    stateDir: ctx.stateDir,
    exec: ctx.exec ?? (sharedExec ??= realExec()),
    sysroot: ctx.sysroot,
    cwd: ctx.cwd,
    isRoot: ctx.isRoot,
    rebootCommand: rebootCommand(ctx),
    ...(ctx.afterAction ? { afterAction: ctx.afterAction } : {}),
  };
}

/** What only the redfish target gets: the BMC account from the environment (never from argv). */
export function redfishDeps(ctx: Context): RedfishDeps {
  return { env: { ...(ctx.env.FWUP_REDFISH_USER ? { user: ctx.env.FWUP_REDFISH_USER } : {}), ...(ctx.env.FWUP_REDFISH_PASSWORD ? { password: ctx.env.FWUP_REDFISH_PASSWORD } : {}) } };
}

/** What only the emulated target gets: faults, test knobs, the worker-pool size, how to start fwup again. */
export function emuDeps(ctx: Context): EmuDeps {
  return { faultPlan: faultPlan(ctx), hostCpus: ctx.hostCpus, knobs: emuKnobs(ctx), selfCommand: ctx.selfCommand, env: ctx.env };
}
