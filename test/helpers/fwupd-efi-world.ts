/**
 * The fixture world of the fwupd-efi fallback: firmware without capsule-on-disk and without the kernel's
 * loader, an ESP mounted from a GPT partition (the mount table, sysfs and udev's database as the kernel
 * and udev show them), a boot entry the OS installed, and fwupd's UEFI helper where Debian puts it.
 */
import { copyFile, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EFIVARS, GLOBAL } from './sysroot.js';
import { FWUPD_EFI_HELPER } from './requirements.js';
import { world, type World } from './uefi-world.js';
import type { SysrootOptions } from './sysroot.js';

export const PART_UUID = '6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b';
export const ESP_PART = { number: 1, startSectors: 2048, sizeSectors: 1048576 };
export const HELPER_IN_SYSROOT = 'usr/libexec/fwupd/efi/fwupdx64.efi.signed';
export const FWUPDATE_GUID = '0abba7dc-e516-4167-bbf5-4d9d1c739416';

const DISK = 'sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda';

export interface FallbackOptions {
  /** Copy fwupd's real helper into the sysroot (needs FWUPD_EFI). */
  helper: boolean;
  secureBoot?: boolean;
  /** udev's partition table scheme for the ESP. */
  scheme?: 'gpt' | 'dos';
  /** The sysroot's etc/os-release (default: ID=debian). */
  osRelease?: string;
  sysroot?: Partial<SysrootOptions>;
}

export function efiVar(root: string, name: string, guid = GLOBAL): string {
  return join(root, EFIVARS, `${name}-${guid}`);
}

/** A boot entry as an installer writes it: "debian", shim on the same ESP. */
export function osBootEntry(): Buffer {
  const fp = Buffer.from('\\EFI\\debian\\shimx64.efi\0', 'utf16le');
  const hd = Buffer.alloc(42);
  hd.writeUInt8(4, 0); hd.writeUInt8(1, 1); hd.writeUInt16LE(42, 2); hd.writeUInt32LE(1, 4);
  hd.writeBigUInt64LE(2048n, 8); hd.writeBigUInt64LE(1048576n, 16); hd.writeUInt8(2, 40); hd.writeUInt8(2, 41);
  const fileNode = Buffer.concat([Buffer.from([4, 4, (4 + fp.length) & 0xff, (4 + fp.length) >> 8]), fp]);
  const dp = Buffer.concat([hd, fileNode, Buffer.from([0x7f, 0xff, 4, 0])]);
  const head = Buffer.alloc(6);
  head.writeUInt32LE(1, 0); head.writeUInt16LE(dp.length, 4);
  return Buffer.concat([head, Buffer.from('debian\0', 'utf16le'), dp]);
}

export async function fallbackWorld(o: FallbackOptions): Promise<World> {
  const w = await world({ loader: 'none', osIndicationsSupported: 0x1n, ...o.sysroot });
  const r = w.root;
  await mkdir(join(r, 'proc/self'), { recursive: true });
  await writeFile(join(r, 'proc/self/mountinfo'), '26 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw\n36 26 8:1 / /boot/efi rw,relatime shared:20 - vfat /dev/sda1 rw,fmask=0077,dmask=0077\n');
  const part = join(r, DISK, 'sda1');
  await mkdir(part, { recursive: true });
  await mkdir(join(r, DISK, 'queue'), { recursive: true });
  await writeFile(join(r, DISK, 'queue/logical_block_size'), '512\n');
  await writeFile(join(part, 'partition'), `${ESP_PART.number}\n`);
  await writeFile(join(part, 'start'), `${ESP_PART.startSectors}\n`);
  await writeFile(join(part, 'size'), `${ESP_PART.sizeSectors}\n`);
  await writeFile(join(part, 'uevent'), 'MAJOR=8\nMINOR=1\nDEVNAME=sda1\nDEVTYPE=partition\nPARTN=1\n');
  await mkdir(join(r, 'sys/dev/block'), { recursive: true });
  await symlink(join('../..', DISK.slice('sys/'.length), 'sda1'), join(r, 'sys/dev/block/8:1'));
  await mkdir(join(r, 'run/udev/data'), { recursive: true });
  await writeFile(join(r, 'run/udev/data/b8:1'), `E:ID_FS_TYPE=vfat\nE:ID_PART_ENTRY_SCHEME=${o.scheme ?? 'gpt'}\nE:ID_PART_ENTRY_UUID=${o.scheme === 'dos' ? '1234abcd-01' : PART_UUID}\nE:ID_PART_ENTRY_NUMBER=1\n`);
  await mkdir(join(r, 'etc'), { recursive: true });
  await writeFile(join(r, 'etc/os-release'), o.osRelease ?? 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n');
  await writeFile(join(r, 'sys/firmware/efi/fw_platform_size'), '64\n');
  await writeFile(efiVar(r, 'Boot0000'), Buffer.concat([Buffer.from([7, 0, 0, 0]), osBootEntry()]));
  await writeFile(efiVar(r, 'BootOrder'), Buffer.from([7, 0, 0, 0, 0, 0]));
  if (o.secureBoot) await writeFile(efiVar(r, 'SecureBoot'), Buffer.from([6, 0, 0, 0, 1]));
  if (o.helper) {
    await mkdir(join(r, 'usr/libexec/fwupd/efi'), { recursive: true });
    await copyFile(FWUPD_EFI_HELPER, join(r, HELPER_IN_SYSROOT));
  }
  return w;
}

export const readVarFile = (root: string, name: string, guid = GLOBAL) => readFile(efiVar(root, name, guid)).catch(() => null);

/** The boot as fwupd's helper makes it: it stamps the entry's update-info variable attempted (2026-12-02 at `hour`:00), and the firmware consumes BootNext. */
export async function helperRan(root: string, fwClass: string, hour: number): Promise<void> {
  const path = efiVar(root, `fwupd-${fwClass.toLowerCase()}-0`, FWUPDATE_GUID);
  const info = await readFile(path);
  info.writeUInt16LE(2026, 4 + 32);
  info.writeUInt8(12, 4 + 34);
  info.writeUInt8(2, 4 + 35);
  info.writeUInt8(hour, 4 + 36);
  info.writeUInt32LE(2, 4 + 48);
  await writeFile(path, info);
  await rm(efiVar(root, 'BootNext'));
}
