import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../process-alive.js';

/** Where a running machine service keeps its pid, control socket and log (inside the machine directory). */
export function serviceFiles(dir: string): { pid: string; socket: string; log: string } {
  return { pid: join(dir, 'machine.pid'), socket: join(dir, 'control.sock'), log: join(dir, 'machine.log') };
}

/** The pid of a live service, or null (a pid file left by a dead process is cleaned up). */
export function runningServicePid(dir: string): number | null {
  const f = serviceFiles(dir);
  if (!existsSync(f.pid)) return null;
  const pid = Number(readFileSync(f.pid, 'utf8').trim());
  if (Number.isInteger(pid) && pid > 0 && processAlive(pid) && existsSync(f.socket)) return pid;
  rmSync(f.pid, { force: true });
  rmSync(f.socket, { force: true });
  return null;
}
