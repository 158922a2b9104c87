import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import table from './uefi-quirks.json' with { type: 'json' };

/** What the table may say of a machine. */
export interface UefiQuirk {
  name: string;
  match: { sysVendor?: string; productName?: string; biosVendor?: string };
  /** How the capsule file on the ESP is named: fwup's own (fwup-<guid>.cap) or Insyde's CapsuleUpdateFile####.bin. */
  capsuleFileName?: 'fwup' | 'insyde';
  source: string;
}

export interface Dmi {
  sysVendor: string | null;
  productName: string | null;
  biosVendor: string | null;
}

export const QUIRKS: readonly UefiQuirk[] = (table as { quirks: UefiQuirk[] }).quirks;

const read = (p: string) => readFile(p, 'utf8').then((t) => t.trim() || null, () => null);

export async function readDmi(sysroot: string): Promise<Dmi> {
  const d = join(sysroot, 'sys/class/dmi/id');
  return { sysVendor: await read(join(d, 'sys_vendor')), productName: await read(join(d, 'product_name')), biosVendor: await read(join(d, 'bios_vendor')) };
}

/** The table's entries that match this machine, in table order. */
export function quirksFor(dmi: Dmi, quirks: readonly UefiQuirk[] = QUIRKS): UefiQuirk[] {
  return quirks.filter((q) => {
    const keys = Object.entries(q.match) as Array<[keyof Dmi, string]>;
    return keys.length > 0 && keys.every(([k, re]) => dmi[k] !== null && new RegExp(re, 'i').test(dmi[k]!));
  });
}

/**
 * The capsule's file name on the ESP. Insyde's: the lowest CapsuleUpdateFile####.bin index not taken by
 * another capsule (`reuse`: the file this stage replaces, whose name may be taken again).
 */
export async function capsuleFileFor(style: 'fwup' | 'insyde', fwClass: string, dir: string, reuse: string | null): Promise<string> {
  if (style === 'fwup') return `fwup-${fwClass.toLowerCase()}.cap`;
  const taken = new Set((await readdir(dir).catch(() => [] as string[])).filter((n) => join(dir, n) !== reuse).map((n) => n.toUpperCase()));
  for (let i = 0; i <= 0xffff; i++) {
    const name = `CapsuleUpdateFile${i.toString(16).toUpperCase().padStart(4, '0')}.bin`;
    if (!taken.has(name.toUpperCase())) return name;
  }
  return 'CapsuleUpdateFile0000.bin';
}

/** Whether efivarfs is mounted read-only (then OsIndications cannot be set: the capsule is written all the same). */
export async function efivarfsReadOnly(sysroot: string): Promise<boolean> {
  const mounts = (await read(join(sysroot, 'proc/self/mounts'))) ?? (await read(join(sysroot, 'proc/mounts')));
  if (!mounts) return false;
  return mounts.split('\n').some((line) => {
    const [, point, type, opts] = line.split(/\s+/);
    return type === 'efivarfs' && point === '/sys/firmware/efi/efivars' && (opts ?? '').split(',').includes('ro');
  });
}
