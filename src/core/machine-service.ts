import { FwupError } from '../errors/fwup-error.js';
import { EmuTarget } from '../targets/emu/emu-target.js';
import { serveMachine } from '../targets/emu/machine-service.js';
import { launchService, serviceStatus, stopService } from '../targets/emu/service-launch.js';
import { runningServicePid } from '../targets/emu/service-files.js';
import { readMachineConfig } from '../machine/platform.js';
import type { Context } from './context.js';
import { targetDeps } from './settings.js';
import { resolveTarget } from './target-session.js';

async function emuTarget(ctx: Context, spec: string | undefined): Promise<EmuTarget> {
  const t = await resolveTarget(ctx, spec);
  if (!(t instanceof EmuTarget)) throw new FwupError('TARGET_UNSUPPORTED', 'only emulated machines run in the background');
  readMachineConfig(t.dir); // "no emulated machine here" rather than "not running"
  return t;
}

export async function machineStart(ctx: Context, spec: string | undefined): Promise<{ target: string; pid: number; log: string }> {
  const t = await emuTarget(ctx, spec);
  const pid = runningServicePid(t.dir);
  if (pid !== null) throw new FwupError('NOTHING_TO_DO', `the machine is already running (pid ${pid})`, { hint: 'fwup machine status' });
  const started = await launchService(t.dir, ctx.selfCommand, ctx.env);
  return { target: t.spec, pid: started, log: `${t.dir}/machine.log` };
}

/** The foreground form of a running machine (what `machine start` launches). */
export async function machineRun(ctx: Context, spec: string | undefined): Promise<{ target: string; stopped: true }> {
  const t = await emuTarget(ctx, spec);
  const pid = runningServicePid(t.dir);
  if (pid !== null) throw new FwupError('TARGET_BUSY', `the machine is already running (pid ${pid})`);
  await serveMachine(t.dir, targetDeps(ctx));
  return { target: t.spec, stopped: true };
}

export async function machineStop(ctx: Context, spec: string | undefined): Promise<{ target: string; pid: number }> {
  const t = await emuTarget(ctx, spec);
  const pid = await stopService(t.dir);
  if (pid === null) throw new FwupError('NOTHING_TO_DO', 'the machine is not running');
  return { target: t.spec, pid };
}

export async function machineStatus(ctx: Context, spec: string | undefined): Promise<{ target: string; running: boolean; [k: string]: unknown }> {
  const t = await emuTarget(ctx, spec);
  const s = await serviceStatus(t.dir);
  return s ? { target: t.spec, running: true, ...s } : { target: t.spec, running: false };
}
