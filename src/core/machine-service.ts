import { FwupError } from '../errors/fwup-error.js';
import { EmuTarget } from '../targets/emu/emu-target.js';
import { serveMachine } from '../targets/emu/machine-service.js';
import { launchService, serviceStatus, stopService, type LiveMachineStatus } from '../targets/emu/service-launch.js';
import { runningServicePid } from '../targets/emu/service-files.js';
import { bmcCredentials } from '../targets/emu/bmc/bmc-credentials.js';
import { startBmc } from '../targets/emu/bmc/bmc-server.js';
import { readMachineConfig } from '../machine/platform.js';
import type { Context } from './context.js';
import { bmcEngine } from './bmc-engine.js';
import { emuDeps, lockTimeoutMs, machineStartTimeoutMs, targetDeps } from './settings.js';
import { resolveTarget, withTargetLock } from './target-session.js';
import { acquireLock } from '../targets/lock-file.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Set for the background machine by `machine start`, which holds the machine lock while it powers on. */
const INHERITED_LOCK = 'FWUP_MACHINE_LOCK_INHERITED';

/** `--redfish HOST:PORT [--tls]`: the machine serves a Redfish BMC there. */
export interface BmcRequest {
  listen: string;
  tls: boolean;
  /** The BMC takes unsigned images (on a development machine only, as `stage --allow-unsigned`). */
  allowUnsigned: boolean;
  /** fwup's version, reported as the BMC's firmware version. */
  version: string;
}

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/i.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new FwupError('USAGE', `--redfish ${text}: give HOST:PORT, e.g. 127.0.0.1:8443 (port 0 picks a free one)`, { hint: 'the BMC listens there; [::1]:8443 for IPv6' });
  }
  return { host: (m[1] ?? m[2])!, port };
}

async function emuTarget(ctx: Context, spec: string | undefined): Promise<EmuTarget> {
  const t = await resolveTarget(ctx, spec);
  if (!(t instanceof EmuTarget)) throw new FwupError('TARGET_UNSUPPORTED', 'only emulated machines run in the background', { hint: 'give --target emu:DIR' });
  readMachineConfig(t.dir); // "no emulated machine here" rather than "not running"
  return t;
}

export interface MachineStartResult {
  target: string;
  pid: number;
  log: string;
  /** The Redfish BMC, when started with --redfish: its URL, and the account when it was generated just now (shown once). */
  redfish: { url: string; certFile: string | null; user: string; password?: string; credentialsFile: string | null; credentialsFrom: string } | null;
}

export async function machineStart(ctx: Context, spec: string | undefined, bmc?: BmcRequest): Promise<MachineStartResult> {
  const t = await emuTarget(ctx, spec);
  const pid = runningServicePid(t.dir);
  if (pid !== null) throw new FwupError('NOTHING_TO_DO', `the machine is already running (pid ${pid})`, { hint: 'fwup machine status' });
  let creds = null;
  const extra: string[] = [];
  if (bmc) {
    parseListen(bmc.listen);
    creds = bmcCredentials(t.dir, ctx.env, true);
    extra.push('--redfish', bmc.listen, ...(bmc.tls ? ['--tls'] : []), ...(bmc.allowUnsigned ? ['--allow-unsigned'] : []));
    rmSync(join(t.dir, 'redfish.json'), { force: true });
  }
  // Power-on writes the flash: under the machine lock, which the starting machine inherits from us.
  const started = await withTargetLock(ctx, t, () => launchService(t.dir, ctx.selfCommand, { ...ctx.env, [INHERITED_LOCK]: '1' }, machineStartTimeoutMs(ctx), extra));
  let redfish: MachineStartResult['redfish'] = null;
  if (bmc && creds) {
    const info = readBmcInfo(t.dir);
    if (!info) throw new FwupError('MACHINE_FAILURE', 'the machine started without its Redfish BMC', { hint: `see ${t.dir}/machine.log` });
    redfish = {
      url: info.url, certFile: info.certFile, user: creds.user, credentialsFile: creds.file, credentialsFrom: creds.source,
      ...(creds.source === 'generated' ? { password: creds.password } : {}),
    };
  }
  return { target: t.spec, pid: started, log: `${t.dir}/machine.log`, redfish };
}

function readBmcInfo(dir: string): { url: string; certFile: string | null } | null {
  const f = join(dir, 'redfish.json');
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as { url: string; certFile: string | null };
  } catch {
    return null;
  }
}

/** The foreground form of a running machine (what `machine start` launches). */
export async function machineRun(ctx: Context, spec: string | undefined, bmc?: BmcRequest): Promise<{ target: string; stopped: true }> {
  const t = await emuTarget(ctx, spec);
  const pid = runningServicePid(t.dir);
  if (pid !== null) throw new FwupError('TARGET_BUSY', `the machine is already running (pid ${pid})`, { hint: 'fwup machine status shows it; fwup machine stop stops it' });
  const inherited = ctx.env[INHERITED_LOCK] === '1';
  const lock = inherited
    ? async () => async () => {}
    : () => acquireLock(join(t.dir, 'lock'), lockTimeoutMs(ctx), `machine ${t.dir}`, (m) => ctx.log.info(m));
  const { [INHERITED_LOCK]: _inherited, ...env } = ctx.env;
  const inner: Context = { ...ctx, env };
  const creds = bmc ? bmcCredentials(t.dir, env, true) : null;
  if (creds?.source === 'generated') ctx.log.info(`BMC account: user ${creds.user}, password ${creds.password} (shown once; stored in ${creds.file})`);
  const frontend = bmc && creds
    ? async (live: Parameters<NonNullable<Parameters<typeof serveMachine>[4]>>[0]) => {
        const { host, port } = parseListen(bmc.listen);
        return startBmc(live, {
          host, port, tls: bmc.tls, credentials: creds, engine: bmcEngine(inner, t.dir),
          allowUnsigned: bmc.allowUnsigned, applyTimeoutMs: 5_000, bmcVersion: bmc.version, now: ctx.now,
        });
      }
    : undefined;
  try {
    await serveMachine(t.dir, targetDeps(inner), { ...emuDeps(inner), env }, lock, frontend);
  } finally {
    if (bmc) rmSync(join(t.dir, 'redfish.json'), { force: true });
  }
  return { target: t.spec, stopped: true };
}

export async function machineStop(ctx: Context, spec: string | undefined): Promise<{ target: string; pid: number }> {
  const t = await emuTarget(ctx, spec);
  const pid = await stopService(t.dir);
  if (pid === null) throw new FwupError('NOTHING_TO_DO', 'the machine is not running', { hint: 'start it with fwup machine start' });
  return { target: t.spec, pid };
}

export type MachineStatusResult =
  | { target: string; running: false }
  | ({ target: string; running: true; redfish: { url: string; certFile: string | null } | null } & LiveMachineStatus);

export async function machineStatus(ctx: Context, spec: string | undefined): Promise<MachineStatusResult> {
  const t = await emuTarget(ctx, spec);
  const s = await serviceStatus(t.dir);
  return s ? { target: t.spec, running: true, ...s, redfish: readBmcInfo(t.dir) } : { target: t.spec, running: false };
}
