import { FwupError } from '../../errors/fwup-error.js';
import { defineLayout } from '../../util/layout.js';

/**
 * The binary records fwupd's UEFI helper (fwupd-efi, `fwupdx64.efi`) reads at boot, as its public
 * source and UEFI 2.10 define them: the update-info variable (FWUP_UPDATE_INFO: a fixed header, then an
 * EFI device path naming the capsule file), the boot manager's load option (EFI_LOAD_OPTION, §3.1.3)
 * and the two device path nodes that locate a file on the ESP (§10.3.5.1 hard drive, §10.3.5.4 file
 * path). All little-endian and packed.
 */

/** The vendor GUID of fwupd-efi's variables (`fwupd-<fw_class>-<hw_inst>`, FWUPDATE_DEBUG_LOG, …). */
export const FWUPDATE_GUID = '0abba7dc-e516-4167-bbf5-4d9d1c739416';

/** The header version fwupd writes and fwupd-efi was built for (UPDATE_INFO_VERSION). */
export const UPDATE_INFO_VERSION = 7;

/** FWUP_UPDATE_INFO.status: set by the OS (attempt at the next boot), then by the helper before UpdateCapsule(). */
export const UPDATE_STATUS = { attemptUpdate: 1, attempted: 2 } as const;

export const updateInfoLayout = defineLayout('FWUP_UPDATE_INFO', [
  { name: 'updateInfoVersion', type: 'u32', doc: 'UPDATE_INFO_VERSION (7)' },
  { name: 'guid', type: 'guid', doc: 'the ESRT entry\'s fw_class' },
  { name: 'capsuleFlags', type: 'u32', doc: 'used by the helper only when the capsule header\'s Flags are 0' },
  { name: 'hwInst', type: 'u64', doc: 'FMP hardware instance (0: the ESRT has none)' },
  // EFI_TIME time_attempted: zero from the OS, the helper's clock when it hands the capsule over.
  { name: 'year', type: 'u16' },
  { name: 'month', type: 'u8' },
  { name: 'day', type: 'u8' },
  { name: 'hour', type: 'u8' },
  { name: 'minute', type: 'u8' },
  { name: 'second', type: 'u8' },
  { name: 'pad1', type: 'u8' },
  { name: 'nanosecond', type: 'u32' },
  { name: 'timeZone', type: 'u16' },
  { name: 'daylight', type: 'u8' },
  { name: 'pad2', type: 'u8' },
  { name: 'status', type: 'u32', doc: '1 attempt-update, 2 attempted' },
] as const, { code: 'TARGET_CORRUPT' });

/** EFI_LOAD_OPTION's fixed part; the UTF-16 description, the device path list and optional data follow. */
export const loadOptionLayout = defineLayout('EFI_LOAD_OPTION', [
  { name: 'attributes', type: 'u32', doc: 'LOAD_OPTION_ACTIVE = 1' },
  { name: 'filePathListLength', type: 'u16', doc: 'bytes of the device path list after the description' },
] as const, { code: 'TARGET_CORRUPT' });

export const LOAD_OPTION_ACTIVE = 0x1;

const DP_MEDIA = 0x04;
const DP_MEDIA_HARD_DRIVE = 0x01;
const DP_MEDIA_FILE_PATH = 0x04;
const DP_END = 0x7f;
const DP_END_ENTIRE = 0xff;

export const devicePathHeaderLayout = defineLayout('EFI_DEVICE_PATH_PROTOCOL', [
  { name: 'type', type: 'u8' },
  { name: 'subType', type: 'u8' },
  { name: 'length', type: 'u16', min: 4 },
] as const, { code: 'TARGET_CORRUPT' });

export const hardDriveNodeLayout = defineLayout('HARDDRIVE_DEVICE_PATH', [
  { name: 'type', type: 'u8', equals: DP_MEDIA },
  { name: 'subType', type: 'u8', equals: DP_MEDIA_HARD_DRIVE },
  { name: 'length', type: 'u16', equals: 42 },
  { name: 'partitionNumber', type: 'u32' },
  { name: 'partitionStart', type: 'u64', doc: 'first logical block' },
  { name: 'partitionSize', type: 'u64', doc: 'logical blocks' },
  { name: 'signature', type: 'guid', doc: 'the GPT partition entry\'s unique GUID' },
  { name: 'mbrType', type: 'u8', equals: 0x02, doc: 'partition format: 2 = GPT' },
  { name: 'signatureType', type: 'u8', equals: 0x02, doc: '2 = GUID signature' },
] as const, { code: 'TARGET_CORRUPT' });

/** Where the ESP is: the partition the firmware must find the file on. */
export interface EspPartition {
  number: number;
  /** In logical blocks of the disk. */
  start: bigint;
  size: bigint;
  /** The partition's unique GUID (GPT PARTUUID). */
  partUuid: string;
}

/** A NUL-terminated UTF-16LE string, as UEFI stores descriptions and paths. */
export function utf16z(s: string): Buffer {
  return Buffer.from(`${s}\0`, 'utf16le');
}

/**
 * The device path of a file on the ESP: a hard-drive node (partition number, start, size, GPT
 * signature), a file-path node with the path from the ESP's root in backslashes, and the end node.
 */
export function espFileDevicePath(esp: EspPartition, pathInEsp: string): Buffer {
  const hd = hardDriveNodeLayout.serialize({
    type: DP_MEDIA, subType: DP_MEDIA_HARD_DRIVE, length: 42, partitionNumber: esp.number, partitionStart: esp.start, partitionSize: esp.size,
    signature: esp.partUuid, mbrType: 2, signatureType: 2,
  });
  const name = utf16z(`\\${pathInEsp.replace(/^\/+/, '').replace(/\//g, '\\')}`);
  const file = Buffer.concat([devicePathHeaderLayout.serialize({ type: DP_MEDIA, subType: DP_MEDIA_FILE_PATH, length: 4 + name.length }), name]);
  const end = devicePathHeaderLayout.serialize({ type: DP_END, subType: DP_END_ENTIRE, length: 4 });
  return Buffer.concat([hd, file, end]);
}

/** The update-info variable's data: the header, then the capsule file's device path. */
export function encodeUpdateInfo(fwClass: string, capsuleFlags: number, devicePath: Buffer): Buffer {
  const head = updateInfoLayout.serialize({
    updateInfoVersion: UPDATE_INFO_VERSION, guid: fwClass, capsuleFlags: capsuleFlags >>> 0, hwInst: 0n,
    year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0, pad1: 0, nanosecond: 0, timeZone: 0, daylight: 0, pad2: 0,
    status: UPDATE_STATUS.attemptUpdate,
  });
  return Buffer.concat([head, devicePath]);
}

export interface UpdateInfo {
  version: number;
  guid: string;
  capsuleFlags: number;
  status: number;
  /** ISO-like time the helper recorded, or null while it is all zero. */
  timeAttempted: string | null;
  /** The capsule file's path inside the ESP, from the file-path node. */
  capsulePath: string | null;
}

export function decodeUpdateInfo(data: Buffer): UpdateInfo {
  const h = updateInfoLayout.parse(data);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const timeAttempted = h.year === 0 ? null : `${pad(h.year, 4)}-${pad(h.month)}-${pad(h.day)}T${pad(h.hour)}:${pad(h.minute)}:${pad(h.second)}`;
  return { version: h.updateInfoVersion, guid: h.guid, capsuleFlags: h.capsuleFlags, status: h.status, timeAttempted, capsulePath: filePathOf(data.subarray(updateInfoLayout.size)) };
}

/** The first file-path node's text in a device path list, or null. Walks node lengths, never past the end. */
export function filePathOf(dp: Buffer): string | null {
  for (let at = 0; at + devicePathHeaderLayout.size <= dp.length; ) {
    const n = devicePathHeaderLayout.parse(dp, at);
    if (at + n.length > dp.length) throw new FwupError('TARGET_CORRUPT', `a device path node at ${at} runs past the end (${n.length} bytes)`);
    if (n.type === DP_END) return null;
    if (n.type === DP_MEDIA && n.subType === DP_MEDIA_FILE_PATH) return dp.subarray(at + 4, at + n.length).toString('utf16le').replace(/\0+$/, '');
    at += n.length;
  }
  return null;
}

/** EFI_LOAD_OPTION: attributes, the path list's length, the description, the path list (no optional data). */
export function encodeLoadOption(description: string, devicePath: Buffer): Buffer {
  return Buffer.concat([loadOptionLayout.serialize({ attributes: LOAD_OPTION_ACTIVE, filePathListLength: devicePath.length }), utf16z(description), devicePath]);
}

/** A load option's description (the UTF-16 text up to its NUL), or null when the data is too short to hold one. */
export function loadOptionDescription(data: Buffer): string | null {
  if (data.length < loadOptionLayout.size) return null;
  for (let at = loadOptionLayout.size; at + 1 < data.length; at += 2) {
    if (data.readUInt16LE(at) === 0) return data.subarray(loadOptionLayout.size, at).toString('utf16le');
  }
  return null;
}
