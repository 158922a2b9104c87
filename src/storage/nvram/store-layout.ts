import { defineLayout } from '../../util/layout.js';

/**
 * On-flash layout of the NVRAM variable store (docs/emulated-platform.md has the byte tables).
 * Modelled on edk2's authenticated variable store: a store header, then log-structured records whose
 * state byte only ever loses bits, one bit per step, so every step is atomic on NOR flash.
 */
export const STORE_MAGIC = 0x564e5746; // "FWNV"
export const STORE_FORMAT_VERSION = 1;

export const storeHeaderLayout = defineLayout('NvramStoreHeader', [
  { name: 'magic', type: 'u32', equals: STORE_MAGIC },
  { name: 'formatVersion', type: 'u16', equals: STORE_FORMAT_VERSION },
  { name: 'headerSize', type: 'u16', equals: 32 },
  { name: 'regionSize', type: 'u32' },
  { name: 'generation', type: 'u32', doc: 'incremented by every reclaim' },
  { name: 'crc32', type: 'u32', doc: 'CRC-32 of the 16 bytes before it' },
  { name: 'state', type: 'u8', doc: '0xFF being written, 0x7F valid' },
  { name: 'reserved', type: 'bytes', length: 11, doc: 'left erased (0xFF)' },
] as const, { code: 'NVRAM_CORRUPT', crc: 'crc32' });

export const STORE_STATE = { WRITING: 0xff, VALID: 0x7f } as const;

export const RECORD_START_ID = 0x55aa;

export const recordHeaderLayout = defineLayout('NvramRecordHeader', [
  { name: 'startId', type: 'u16', doc: '0x55AA' },
  { name: 'state', type: 'u8' },
  { name: 'reserved0', type: 'u8' },
  { name: 'nameSize', type: 'u16' },
  { name: 'reserved1', type: 'u16' },
  { name: 'dataSize', type: 'u32' },
  { name: 'crc32', type: 'u32', doc: 'CRC-32 of nameSize, dataSize, name and data' },
] as const, { code: 'NVRAM_CORRUPT' });

/**
 * Record states, as in edk2 (VAR_HEADER_VALID_ONLY, VAR_ADDED, VAR_IN_DELETED_TRANSITION, VAR_DELETED):
 * 0xFF -> 0x7F -> 0x3F, then & 0xFE (in transition), then & 0xFD (deleted). Each step clears one bit.
 */
export const RECORD_STATE = {
  HEADER_VALID: 0x7f,
  ADDED: 0x3f,
  IN_DELETED_TRANSITION_MASK: 0xfe,
  DELETED_MASK: 0xfd,
} as const;

export type RecordStatus = 'incomplete' | 'header-only' | 'added' | 'in-transition' | 'deleted';

export function recordStatus(state: number): RecordStatus {
  if (state & 0x80) return 'incomplete';
  if (state & 0x40) return 'header-only';
  if (!(state & 0x02)) return 'deleted';
  if (!(state & 0x01)) return 'in-transition';
  return 'added';
}

export const RECORD_ALIGN = 4;
export const MAX_NAME_BYTES = 64;
export const MAX_DATA_BYTES = 8192;

export function alignUp(n: number, a = RECORD_ALIGN): number {
  return Math.ceil(n / a) * a;
}
