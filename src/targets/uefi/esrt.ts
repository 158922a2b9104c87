import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';
import { lastAttemptStatusName } from '../../storage/variables.js';

/**
 * The EFI System Resource Table as Linux exposes it (drivers/firmware/efi/esrt.c): one directory per
 * entry under /sys/firmware/efi/esrt/entries, one file per field. fw_class is the GUID a capsule's
 * UpdateImageTypeId must match; the versions are u32 printed in decimal; capsule_flags in hex.
 */
export interface EsrtEntry {
  /** entry0, entry1, … */
  name: string;
  fwClass: string;
  fwType: number;
  fwVersion: number;
  lowestSupportedFwVersion: number;
  capsuleFlags: number;
  lastAttemptVersion: number;
  lastAttemptStatus: number;
}

export const ESRT_DIR = 'sys/firmware/efi/esrt/entries';

/** ESRT fw_type values (UEFI 2.10 §23.4). */
const FW_TYPES = ['unknown', 'system-firmware', 'device-firmware', 'uefi-driver'];

export function fwTypeName(t: number): string {
  return FW_TYPES[t] ?? `type-${t}`;
}

/** LAST_ATTEMPT_STATUS by name (the emulated machine records the same numbers). */
export function attemptStatusName(s: number): string {
  if (s === 8) return 'unsatisfied-dependencies';
  if (s >= 0x1000 && s <= 0x4000) return `vendor-0x${s.toString(16)}`;
  return lastAttemptStatusName(s);
}

/** The entries, in order; null when the system has no ESRT (no UEFI, or firmware without one). */
export async function readEsrt(sysroot: string): Promise<EsrtEntry[] | null> {
  const dir = join(sysroot, ESRT_DIR);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new FwupError('FILE_IO', `cannot read the ESRT at ${dir}: ${(e as Error).message}`);
  }
  const entries = names.filter((n) => /^entry\d+$/.test(n)).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  return Promise.all(entries.map((n) => readEntry(join(dir, n), n)));
}

async function readEntry(dir: string, name: string): Promise<EsrtEntry> {
  const field = async (f: string): Promise<string> => {
    try {
      return (await readFile(join(dir, f), 'utf8')).trim();
    } catch (e) {
      throw new FwupError('TARGET_CORRUPT', `ESRT ${name} has no readable ${f}: ${(e as Error).message}`);
    }
  };
  const num = async (f: string): Promise<number> => {
    const t = await field(f);
    const n = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t, 16) : /^\d+$/.test(t) ? Number(t) : NaN;
    if (!Number.isSafeInteger(n)) throw new FwupError('TARGET_CORRUPT', `ESRT ${name}/${f} is not a number: ${JSON.stringify(t)}`);
    return n;
  };
  const fwClass = (await field('fw_class')).toUpperCase();
  if (!/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/.test(fwClass)) {
    throw new FwupError('TARGET_CORRUPT', `ESRT ${name}/fw_class is not a GUID: ${JSON.stringify(fwClass)}`);
  }
  return {
    name,
    fwClass,
    fwType: await num('fw_type'),
    fwVersion: await num('fw_version'),
    lowestSupportedFwVersion: await num('lowest_supported_fw_version'),
    capsuleFlags: await num('capsule_flags'),
    lastAttemptVersion: await num('last_attempt_version'),
    lastAttemptStatus: await num('last_attempt_status'),
  };
}
