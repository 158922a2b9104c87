import { join } from 'node:path';
import { openPlatform } from '../../src/machine/platform.js';
import { fwup, json, type RunResult } from './cli.js';

/** Create a small emulated machine in `dir/m` through the real CLI; returns its --target spec. */
export async function initMachine(dir: string, args: string[] = []): Promise<string> {
  const r = await fwup(['machine', 'init', join(dir, 'm'), '--flash-size', '2M', '--cpus', '2', ...args], { cwd: dir });
  if (r.code !== 0) throw new Error(`machine init failed: ${r.stderr}`);
  return `emu:${join(dir, 'm')}`;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- status JSON is read field by field in tests
export async function statusJson(dir: string, target: string): Promise<Record<string, any>> {
  const r: RunResult = await fwup(['status', '--json', '--target', target], { cwd: dir });
  if (r.code !== 0) throw new Error(`status failed (${r.code}): ${r.stdout}${r.stderr}`);
  return json(r);
}

/** Poke a machine's NVRAM directly (test set-up that no command offers, e.g. a raised security version). */
export function withPlatform<T>(machineDir: string, fn: (p: ReturnType<typeof openPlatform>) => T): T {
  const p = openPlatform(machineDir, { writable: true });
  try {
    return fn(p);
  } finally {
    p.close();
  }
}
