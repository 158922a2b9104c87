import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Exec } from './exec.js';
import { LOADER, findEsp } from './uefi/capsule-delivery.js';
import { fileCapsuleDeliverySupported } from './uefi/efivars.js';
import { attemptStatusName, fwTypeName, readEsrt } from './uefi/esrt.js';

/** What `fwup targets` reports about the hardware helpers and firmware interfaces of this host. */
export interface FlashromInventory {
  found: boolean;
  /** "v1.3.0", or "unknown" for a build without a version (Debian's flashrom 1.3 prints that). */
  version: string | null;
  banner: string | null;
  error: string | null;
}

export async function probeFlashrom(exec: Exec, cwd: string): Promise<FlashromInventory> {
  const r = await exec('flashrom', ['--version'], { cwd });
  if (r.spawnError) return { found: false, version: null, banner: null, error: r.spawnError === 'ENOENT' ? 'flashrom is not installed' : r.spawnError };
  const banner = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim()).find((l) => /^flashrom\s/.test(l)) ?? null;
  const version = banner?.match(/^flashrom\s+(\S+)/)?.[1] ?? null;
  return { found: true, version, banner, error: r.exitCode === 0 ? null : `flashrom --version exited ${r.exitCode}` };
}

export interface UefiInventory {
  sysroot: string;
  esrt: Array<{ name: string; fwClass: string; fwType: string; fwVersion: number; lowestSupportedFwVersion: number; lastAttemptVersion: number; lastAttemptStatus: string }> | null;
  loader: string | null;
  capsuleOnDisk: boolean;
  esp: string | null;
}

export async function uefiInventory(sysroot: string): Promise<UefiInventory> {
  const entries = await readEsrt(sysroot).catch(() => null);
  const loader = join(sysroot, LOADER);
  return {
    sysroot,
    esrt:
      entries?.map((e) => ({
        name: e.name, fwClass: e.fwClass, fwType: fwTypeName(e.fwType), fwVersion: e.fwVersion,
        lowestSupportedFwVersion: e.lowestSupportedFwVersion, lastAttemptVersion: e.lastAttemptVersion, lastAttemptStatus: attemptStatusName(e.lastAttemptStatus),
      })) ?? null,
    loader: (await stat(loader).then(() => true, () => false)) ? loader : null,
    capsuleOnDisk: await fileCapsuleDeliverySupported(sysroot).catch(() => false),
    esp: await findEsp(sysroot, undefined).catch(() => null),
  };
}

/** Machine directories under `root` (e.g. ./.fwup): each subdirectory holding a machine.json. */
export async function machineDirsUnder(root: string, machineFile: string): Promise<string[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  const out: string[] = [];
  for (const n of names.sort()) {
    if (await stat(join(root, n, machineFile)).then((s) => s.isFile(), () => false)) out.push(join(root, n));
  }
  return out;
}
