import { defineLayout, type StructOf } from '../util/layout.js';
import type { Flash } from './flash.js';
import type { Region } from './flash-map.js';
import { RedundantRecord, type RecordCodec, type RecordRead } from './redundant-record.js';

/**
 * The firmware's critical state, one record written atomically (twice: storage/redundant-record.ts):
 * which slot boots, whether it is on trial, the security-version floor, an update in progress, and
 * the SHA-256 of what the firmware itself wrote into each slot and into the recovery copy (a slot
 * boots only when its bytes still hash to that). Only the firmware writes it.
 */
export const BOOT_RECORD_MAGIC = 0x52425746; // "FWBR"

export const bootRecordLayout = defineLayout('BootRecord', [
  { name: 'magic', type: 'u32', equals: BOOT_RECORD_MAGIC },
  { name: 'recordVersion', type: 'u16', equals: 1 },
  { name: 'reserved0', type: 'u16', equals: 0 },
  { name: 'sequence', type: 'u32', doc: 'increases with every write; the newest valid record wins' },
  { name: 'active', type: 'u8', max: 1, doc: 'the slot that boots: 0 A, 1 B' },
  { name: 'previous', type: 'u8', max: 1, doc: 'the slot a trial reverts to' },
  { name: 'trial', type: 'u8', max: 1, doc: '1: the active slot is on trial until the OS confirms it' },
  { name: 'trialBoots', type: 'u8' },
  { name: 'securityVersion', type: 'u32', doc: 'anti-rollback floor: never goes down' },
  { name: 'progress', type: 'u8', max: 2, doc: '1: the firmware is writing progressSlot; 2: the firmware gave progressSlot to the OS to stage into in place (it holds no image the firmware trusts)' },
  { name: 'progressSlot', type: 'u8', max: 1 },
  { name: 'reserved1', type: 'u16', equals: 0 },
  { name: 'progressVersion', type: 'u32' },
  { name: 'slotA', type: 'bytes', length: 32, doc: 'SHA-256 of the image the firmware wrote into slot A; zero: none' },
  { name: 'slotB', type: 'bytes', length: 32 },
  { name: 'recovery', type: 'bytes', length: 32, doc: 'SHA-256 of the image in RECOVERY: the last confirmed firmware' },
  { name: 'crc32', type: 'u32', doc: 'CRC-32 of every byte before it' },
] as const, { code: 'TARGET_CORRUPT', crc: 'crc32' });

type Fields = StructOf<typeof bootRecordLayout.fields>;
export type BootRecord = Omit<Fields, 'magic' | 'recordVersion' | 'reserved0' | 'reserved1' | 'sequence' | 'crc32' | 'slotA' | 'slotB' | 'recovery'> & {
  /** SHA-256 (hex) of each slot's image as the firmware wrote it; '' = nothing verified there. */
  slots: [string, string];
  recovery: string;
};

export const NO_DIGEST = '';
/** `progress` values. */
export const PROGRESS = { NONE: 0, FIRMWARE_WRITING: 1, OS_STAGING: 2 } as const;
const ZERO = Buffer.alloc(32);

const codec: RecordCodec<BootRecord> = {
  size: bootRecordLayout.size,
  encode(v, sequence) {
    return bootRecordLayout.serialize({
      magic: BOOT_RECORD_MAGIC, recordVersion: 1, reserved0: 0, reserved1: 0, sequence,
      active: v.active, previous: v.previous, trial: v.trial, trialBoots: v.trialBoots, securityVersion: v.securityVersion,
      progress: v.progress, progressSlot: v.progressSlot, progressVersion: v.progressVersion,
      slotA: digestBytes(v.slots[0]), slotB: digestBytes(v.slots[1]), recovery: digestBytes(v.recovery), crc32: 0,
    });
  },
  decode(bytes) {
    const f = bootRecordLayout.parse(bytes);
    return {
      sequence: f.sequence,
      value: {
        active: f.active, previous: f.previous, trial: f.trial, trialBoots: f.trialBoots, securityVersion: f.securityVersion,
        progress: f.progress, progressSlot: f.progressSlot, progressVersion: f.progressVersion,
        slots: [digestHex(f.slotA), digestHex(f.slotB)], recovery: digestHex(f.recovery),
      },
    };
  },
};

function digestBytes(hex: string): Buffer {
  return hex === NO_DIGEST ? ZERO : Buffer.from(hex, 'hex');
}

function digestHex(b: Buffer): string {
  return b.equals(ZERO) ? NO_DIGEST : b.toString('hex');
}

export function bootRecords(flash: Flash, region: Region): RedundantRecord<BootRecord> {
  return new RedundantRecord(flash, region, codec);
}

export type BootRecordRead = RecordRead<BootRecord>;
