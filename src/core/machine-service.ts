import { FwupError } from '../errors/fwup-error.js';
import { EmuTarget } from '../targets/emu/emu-target.js';
import { serveMachine } from '../targets/emu/machine-service.js';
import { launchService, serviceStatus, stopService, type LiveMachineStatus } from '../targets/emu/service-launch.js';
import { runningServicePid } from '../targets/emu/service-files.js';
import { readMachineConfig } from '../machine/platform.js';
import type { Context } from './context.js';
import { emuDeps, lockTimeoutMs, targetDeps } from './settings.js';
import { resolveTarget, withTargetLock } from './target-session.js';
import { acquireLock } from '../targets/lock-file.js';
import { join } from 'node:path';

/** Set for the background machine by `machine start`, which holds the machine lock while it powers on. */
const INHERITED_LOCK = 'FWUP_MACHINE_LOCK_INHERITED';

async function emuTarget(ctx: Context, spec: string | undefined): Promise<EmuTarget> {
  const t = await resolveTarget(ctx, spec);
  if (!(t instanceof EmuTarget)) throw new FwupError('TARGET_UNSUPPORTED', 'only emulated machines run in the background', { hint: 'give --target emu:DIR' });
  readMachineConfig(t.dir); // "no emulated machine here" rather than "not running"
  return t;
}

export async function machineStart(ctx: Context, spec: string | undefined): Promise<{ target: string; pid: number; log: string }> {
  const t = await emuTarget(ctx, spec);
  const pid = runningServicePid(t.dir);
  if (pid !== null) throw new FwupError('NOTHING_TO_DO', `the machine is already running (pid ${pid})`, { hint: 'fwup machine status' });
  // Power-on writes the flash: under the machine lock, which the starting machine inherits from us.
  const started = await withTargetLock(ctx, t, () => launchService(t.dir, ctx.selfCommand, { ...ctx.env, [INHERITED_LOCK]: '1' }));
  return { target: t.spec, pid: started, log: `${t.dir}/machine.log` };
}

/** The foreground form of a running machine (what `machine start` launches). */
export async function machineRun(ctx: Context, spec: string | undefined): Promise<{ target: string; stopped: true }> {
  const t = await emuTarget(ctx, spec);
  const pid = runningServicePid(t.dir);
  if (pid !== null) throw new FwupError('TARGET_BUSY', `the machine is already running (pid ${pid})`, { hint: 'fwup machine status shows it; fwup machine stop stops it' });
  const inherited = ctx.env[INHERITED_LOCK] === '1';
  const lock = inherited
    ? async () => async () => {}
    : () => acquireLock(join(t.dir, 'lock'), lockTimeoutMs(ctx), `machine ${t.dir}`, (m) => ctx.log.info(m));
  const { [INHERITED_LOCK]: _inherited, ...env } = ctx.env;
  await serveMachine(t.dir, targetDeps(ctx), { ...emuDeps(ctx), env }, lock);
  return { target: t.spec, stopped: true };
}

export async function machineStop(ctx: Context, spec: string | undefined): Promise<{ target: string; pid: number }> {
  const t = await emuTarget(ctx, spec);
  const pid = await stopService(t.dir);
  if (pid === null) throw new FwupError('NOTHING_TO_DO', 'the machine is not running', { hint: 'start it with fwup machine start' });
  return { target: t.spec, pid };
}

export type MachineStatusResult = { target: string; running: false } | ({ target: string; running: true } & LiveMachineStatus);

export async function machineStatus(ctx: Context, spec: string | undefined): Promise<MachineStatusResult> {
  const t = await emuTarget(ctx, spec);
  const s = await serviceStatus(t.dir);
  return s ? { target: t.spec, running: true, ...s } : { target: t.spec, running: false };
}
