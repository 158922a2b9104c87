import { readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';

/**
 * UEFI variables through efivarfs (/sys/firmware/efi/efivars/NAME-GUID). Each file holds a 4-byte
 * little-endian attributes word followed by the variable's data; a write must carry both in a single
 * write() call (efivarfs_file_write takes the whole variable at once).
 */
export const EFIVARS_DIR = 'sys/firmware/efi/efivars';
export const EFI_GLOBAL_VARIABLE = '8be4df61-93ca-11d2-aa0d-00e098032b8c';

export const EFI_VARIABLE_NON_VOLATILE = 0x1;
export const EFI_VARIABLE_BOOTSERVICE_ACCESS = 0x2;
export const EFI_VARIABLE_RUNTIME_ACCESS = 0x4;
/** What a new OsIndications gets: NV | BS | RT, as the UEFI spec requires of it. */
export const OS_INDICATIONS_ATTRIBUTES = EFI_VARIABLE_NON_VOLATILE | EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS;
/** EFI_OS_INDICATIONS_FILE_CAPSULE_DELIVERY_SUPPORTED: process capsules in \EFI\UpdateCapsule at the next boot. */
export const FILE_CAPSULE_DELIVERY = 0x4n;

/** statfs(2) f_type of efivarfs (EFIVARFS_MAGIC in linux/magic.h). */
const EFIVARFS_MAGIC = 0xde5e81e4;

export interface EfiVariable {
  path: string;
  attributes: number;
  data: Buffer;
}

export function variablePath(sysroot: string, name: string, guid = EFI_GLOBAL_VARIABLE): string {
  return join(sysroot, EFIVARS_DIR, `${name}-${guid}`);
}

export async function readVariable(sysroot: string, name: string, guid = EFI_GLOBAL_VARIABLE): Promise<EfiVariable | null> {
  const path = variablePath(sysroot, name, guid);
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new FwupError('FILE_IO', `cannot read the UEFI variable ${path}: ${(e as Error).message}`);
  }
  if (raw.length < 4) throw new FwupError('TARGET_CORRUPT', `the UEFI variable ${path} is ${raw.length} bytes: no attributes word`);
  return { path, attributes: raw.readUInt32LE(0), data: raw.subarray(4) };
}

/** A UINT64 variable (OsIndications, OsIndicationsSupported). */
export function u64Of(v: EfiVariable): bigint {
  if (v.data.length !== 8) throw new FwupError('TARGET_CORRUPT', `the UEFI variable ${v.path} holds ${v.data.length} bytes, not a UINT64`);
  return v.data.readBigUInt64LE(0);
}

export function encodeVariable(attributes: number, data: Buffer): Buffer {
  const out = Buffer.alloc(4 + data.length);
  out.writeUInt32LE(attributes >>> 0, 0);
  data.copy(out, 4);
  return out;
}

export function u64Bytes(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
}

/** Whether the firmware processes capsules from the ESP (OsIndicationsSupported bit 2). */
export async function fileCapsuleDeliverySupported(sysroot: string): Promise<boolean> {
  const v = await readVariable(sysroot, 'OsIndicationsSupported');
  return v !== null && (u64Of(v) & FILE_CAPSULE_DELIVERY) !== 0n;
}

/** The OsIndications write that asks for capsule-on-disk processing, keeping every other bit. */
export interface OsIndicationsChange {
  path: string;
  exists: boolean;
  before: bigint | null;
  after: bigint;
  /** The whole file content: attributes + UINT64, for one write(). */
  bytes: Buffer;
}

export async function osIndicationsWithCapsuleDelivery(sysroot: string): Promise<OsIndicationsChange> {
  const v = await readVariable(sysroot, 'OsIndications');
  const before = v ? u64Of(v) : null;
  const after = (before ?? 0n) | FILE_CAPSULE_DELIVERY;
  return {
    path: variablePath(sysroot, 'OsIndications'),
    exists: v !== null,
    before,
    after,
    bytes: encodeVariable(v ? v.attributes : OS_INDICATIONS_ATTRIBUTES, u64Bytes(after)),
  };
}

/** The same variable with the capsule-delivery bit cleared again (unstage), or null if nothing to undo. */
export async function osIndicationsWithout(sysroot: string, bit: bigint): Promise<OsIndicationsChange | null> {
  const v = await readVariable(sysroot, 'OsIndications');
  if (!v) return null;
  const before = u64Of(v);
  if ((before & bit) === 0n) return null;
  const after = before & ~bit;
  return { path: v.path, exists: true, before, after, bytes: encodeVariable(v.attributes, u64Bytes(after)) };
}

/**
 * A real efivarfs marks most variables immutable (chattr +i), so a write needs `chattr -i` first; a
 * fixture tree is a plain directory and needs nothing.
 */
export async function isEfivarfs(sysroot: string): Promise<boolean> {
  try {
    return (await statfs(join(sysroot, EFIVARS_DIR))).type === EFIVARFS_MAGIC;
  } catch {
    return false;
  }
}
