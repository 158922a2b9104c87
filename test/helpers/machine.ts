import { join } from 'node:path';
import { openPlatform, type Platform } from '../../src/machine/platform.js';
import type { FirmwareView } from '../../src/machine/firmware/firmware-view.js';
import { fwup, json, type RunResult } from './cli.js';
import { asFirmware } from './memory-platform.js';

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

/** Open a machine as the OS does (OS view, runtime services) for the length of `fn`. */
export function withPlatform<T>(machineDir: string, fn: (p: Platform) => T): T {
  const p = openPlatform(machineDir, { writable: true });
  try {
    return fn(p);
  } finally {
    p.close();
  }
}

/** Test set-up no command offers (a raised security version, a planted record): with the firmware's view. */
export function withFirmware<T>(machineDir: string, fn: (view: FirmwareView, p: Platform) => T): T {
  return withPlatform(machineDir, (p) => asFirmware(p, (v) => fn(v, p)));
}
