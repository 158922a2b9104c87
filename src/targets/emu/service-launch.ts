import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { FwupError } from '../../errors/fwup-error.js';
import { runningServicePid, serviceFiles } from './service-files.js';
import { callService } from './service-protocol.js';
import type { ActiveFirmware } from '../../machine/firmware/runtime-services.js';

/**
 * Start `fwup machine run` detached in the background (logging to machine.log) and wait until it answers
 * on its control socket.
 */
export async function launchService(dir: string, selfCommand: readonly string[], env: Readonly<Record<string, string | undefined>>, timeoutMs = 15_000, extraArgs: readonly string[] = []): Promise<number> {
  if (selfCommand.length === 0) throw new FwupError('MACHINE_FAILURE', 'cannot start a background machine from a library context (no command to run)');
  const files = serviceFiles(dir);
  if (Buffer.byteLength(files.socket) > 100) {
    throw new FwupError('USAGE', `the machine directory path is too long for a control socket (${files.socket})`, { hint: 'use a shorter path' });
  }
  const log = openSync(files.log, 'a');
  let exited: number | null = null;
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(selfCommand[0]!, [...selfCommand.slice(1), 'machine', 'run', '--target', `emu:${dir}`, ...extraArgs], {
      detached: true,
      stdio: ['ignore', log, log],
      env: env as NodeJS.ProcessEnv,
    });
    // A machine that cannot start (its Redfish port is taken, say) fails now, not at the timeout.
    child.once('exit', (code) => (exited = code ?? 1));
    child.unref();
  } finally {
    closeSync(log);
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited !== null) {
      const tail = readFileSync(files.log, 'utf8').trim().split('\n').slice(-3).join(' | ');
      throw new FwupError('MACHINE_FAILURE', `the machine exited (code ${exited}) before it came up: ${tail}`, { hint: `see ${files.log}` });
    }
    const pid = runningServicePid(dir);
    if (pid !== null) {
      try {
        await callService(files.socket, { op: 'status' }, 2000);
        return pid;
      } catch {
        /* still coming up */
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // Do not leave a machine that came up too late running unseen (its CPUs would spin for nothing).
  if (exited === null) child.kill('SIGKILL');
  throw new FwupError('MACHINE_TIMEOUT', `the machine did not come up within ${timeoutMs} ms (it was stopped)`, { hint: `see ${files.log}; a loaded host may need a longer FWUP_MACHINE_START_TIMEOUT` });
}

export async function stopService(dir: string, timeoutMs = 15_000): Promise<number | null> {
  const pid = runningServicePid(dir);
  if (pid === null) return null;
  await callService(serviceFiles(dir).socket, { op: 'stop' }, timeoutMs);
  const deadline = Date.now() + timeoutMs;
  while (runningServicePid(dir) !== null) {
    if (Date.now() > deadline) throw new FwupError('MACHINE_TIMEOUT', `the machine (pid ${pid}) did not stop`);
    await new Promise((r) => setTimeout(r, 30));
  }
  return pid;
}

/** What a running machine says of itself. */
export interface LiveMachineStatus {
  pid: number;
  uptimeMs: number;
  /** On, or Off after a Redfish ForceOff (the service runs, the CPUs do not). */
  powerState: string;
  cpus: number;
  workers: number;
  steps: number[];
  firmware: ActiveFirmware;
}

export async function serviceStatus(dir: string): Promise<LiveMachineStatus | null> {
  if (runningServicePid(dir) === null) return null;
  return (await callService(serviceFiles(dir).socket, { op: 'status' }, 10_000)) as LiveMachineStatus;
}
