import { execFileSync } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A fixture sysroot as fwupd's tests build them: the few files of /sys, /dev, /proc and the ESP that
 * the uefi target reads and writes, in a temporary directory passed with --sysroot.
 */
export interface EsrtFixture {
  fwClass: string;
  fwType?: number;
  fwVersion: number;
  lowestSupportedFwVersion?: number;
  capsuleFlags?: number;
  lastAttemptVersion?: number;
  lastAttemptStatus?: number;
}

export interface SysrootOptions {
  /** null: no ESRT directory at all. */
  esrt: EsrtFixture[] | null;
  /** file: an empty regular file; fifo: a named pipe the test reads; full: a symlink to /dev/full; none. */
  loader: 'file' | 'fifo' | 'full' | 'none';
  /** OsIndicationsSupported value; null: the variable does not exist. */
  osIndicationsSupported: bigint | null;
  osIndications?: { attributes: number; value: bigint } | null;
  /** ESP mount point inside the sysroot; null: none. */
  esp?: string | null;
  bootId?: string;
  systemd?: boolean;
}

export const GLOBAL = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
export const ESRT = 'sys/firmware/efi/esrt/entries';
export const EFIVARS = 'sys/firmware/efi/efivars';

export async function makeSysroot(root: string, o: SysrootOptions): Promise<string> {
  await mkdir(join(root, 'dev'), { recursive: true });
  await mkdir(join(root, EFIVARS), { recursive: true });
  await mkdir(join(root, 'sys/kernel/reboot'), { recursive: true });
  await writeFile(join(root, 'sys/kernel/reboot/mode'), 'cold\n');
  await mkdir(join(root, 'proc/sys/kernel/random'), { recursive: true });
  await writeFile(join(root, 'proc/sys/kernel/random/boot_id'), `${o.bootId ?? 'boot-1'}\n`);
  if (o.systemd) await mkdir(join(root, 'run/systemd/system'), { recursive: true });
  if (o.esrt) {
    await mkdir(join(root, ESRT), { recursive: true });
    for (const [i, e] of o.esrt.entries()) await setEsrt(root, i, e);
  }
  const loader = join(root, 'dev/efi_capsule_loader');
  if (o.loader === 'file') await writeFile(loader, '');
  if (o.loader === 'fifo') execFileSync('mkfifo', [loader]);
  if (o.loader === 'full') await symlink('/dev/full', loader);
  if (o.osIndicationsSupported !== null) await writeVar(root, 'OsIndicationsSupported', 0x6, o.osIndicationsSupported);
  if (o.osIndications) await writeVar(root, 'OsIndications', o.osIndications.attributes, o.osIndications.value);
  const esp = o.esp === undefined ? '/boot/efi' : o.esp;
  if (esp) await mkdir(join(root, esp, 'EFI/BOOT'), { recursive: true });
  return root;
}

/** Write ESRT entry N the way Linux prints it: GUID in lower case, numbers in decimal, flags in hex. */
export async function setEsrt(root: string, n: number, e: EsrtFixture): Promise<void> {
  const dir = join(root, ESRT, `entry${n}`);
  await mkdir(dir, { recursive: true });
  const files: Record<string, string> = {
    fw_class: e.fwClass.toLowerCase(),
    fw_type: String(e.fwType ?? 1),
    fw_version: String(e.fwVersion),
    lowest_supported_fw_version: String(e.lowestSupportedFwVersion ?? 0),
    capsule_flags: `0x${(e.capsuleFlags ?? 0x8010).toString(16)}`,
    last_attempt_version: String(e.lastAttemptVersion ?? e.fwVersion),
    last_attempt_status: String(e.lastAttemptStatus ?? 0),
  };
  for (const [k, v] of Object.entries(files)) await writeFile(join(dir, k), `${v}\n`);
}

export async function writeVar(root: string, name: string, attributes: number, value: bigint): Promise<void> {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(attributes, 0);
  b.writeBigUInt64LE(value, 4);
  await writeFile(join(root, EFIVARS, `${name}-${GLOBAL}`), b);
}

export async function readVar(root: string, name: string): Promise<{ attributes: number; value: bigint; length: number } | null> {
  try {
    const b = await readFile(join(root, EFIVARS, `${name}-${GLOBAL}`));
    return { attributes: b.readUInt32LE(0), value: b.readBigUInt64LE(4), length: b.length };
  } catch {
    return null;
  }
}

/** The firmware's side of a reboot: a new boot id, and what it wrote into the ESRT entry. */
export async function simulateReboot(root: string, entry: number, e: EsrtFixture, bootId: string): Promise<void> {
  await setEsrt(root, entry, e);
  await writeFile(join(root, 'proc/sys/kernel/random/boot_id'), `${bootId}\n`);
}

/** A reboot in which the firmware processed several capsules: each entry as it then reads. */
export async function simulateRebootAll(root: string, entries: ReadonlyArray<readonly [number, EsrtFixture]>, bootId: string): Promise<void> {
  for (const [n, e] of entries) await setEsrt(root, n, e);
  await writeFile(join(root, 'proc/sys/kernel/random/boot_id'), `${bootId}\n`);
}
