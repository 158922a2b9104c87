import { crc32 } from '../util/crc32.js';
import { defineLayout } from '../util/layout.js';
import { REG_BYTES } from './workload.js';

/**
 * The state-save area in RAM: a header, then one 64-byte slot per CPU holding its register file and a
 * CRC-32. It survives a processor-only reset (RAM does), not a cold one.
 */
export const SAVE_MAGIC = 0x53535746; // "FWSS"
export const SAVE_HEADER_BYTES = 32;
export const SAVE_SLOT_BYTES = 64;

export const saveHeaderLayout = defineLayout('StateSaveHeader', [
  { name: 'magic', type: 'u32', equals: SAVE_MAGIC },
  { name: 'version', type: 'u16', equals: 1 },
  { name: 'cpuCount', type: 'u16', min: 1, max: 64 },
  { name: 'slotSize', type: 'u32', equals: SAVE_SLOT_BYTES },
  { name: 'reserved', type: 'bytes', length: 20 },
] as const);

export const saveSlotLayout = defineLayout('StateSaveSlot', [
  { name: 'cpu', type: 'u32' },
  { name: 'valid', type: 'u32', doc: '1 once the CPU saved its state' },
  { name: 'regs', type: 'bytes', length: REG_BYTES },
  { name: 'crc32', type: 'u32', doc: 'CRC-32 of cpu, valid and regs' },
  { name: 'reserved', type: 'u32' },
] as const, { crc: 'crc32', code: 'MACHINE_FAILURE' });

export function saveAreaBytes(cpus: number): number {
  return SAVE_HEADER_BYTES + cpus * SAVE_SLOT_BYTES;
}

export function slotOffset(base: number, cpu: number): number {
  return base + SAVE_HEADER_BYTES + cpu * SAVE_SLOT_BYTES;
}

/** Prepare the area (the OS does this before the rendezvous): header, every slot invalid. */
export function initSaveArea(ram: Uint8Array, base: number, cpus: number): void {
  const buf = Buffer.from(ram.buffer, ram.byteOffset, ram.byteLength);
  buf.fill(0, base, base + saveAreaBytes(cpus));
  saveHeaderLayout.serialize({ magic: SAVE_MAGIC, version: 1, cpuCount: cpus, slotSize: SAVE_SLOT_BYTES, reserved: Buffer.alloc(20) }, buf, base);
}

/** The rendezvous handler's store: register file + CRC into this CPU's slot. Runs in a worker. */
export function saveSlot(ram: Uint8Array, base: number, cpu: number, regs: Int32Array, regsOffset: number): void {
  // Register words are stored little-endian, as the layout stores every field.
  const le = Buffer.alloc(REG_BYTES);
  for (let i = 0; i < REG_BYTES / 4; i++) le.writeInt32LE(regs[regsOffset + i]!, i * 4);
  saveSlotLayout.serialize({ cpu, valid: 1, regs: le, crc32: 0, reserved: 0 }, Buffer.from(ram.buffer, ram.byteOffset, ram.byteLength), slotOffset(base, cpu));
}

export function areaCrc(ram: Uint8Array, base: number, cpus: number): number {
  return crc32(ram.subarray(base, base + saveAreaBytes(cpus)));
}

export type SlotCheck = { ok: true; regs: Int32Array } | { ok: false; why: string };

/** Check one slot as the firmware and the resume code do: right CPU, marked valid, CRC. */
export function readSlot(ram: Uint8Array, base: number, cpu: number): SlotCheck {
  const at = slotOffset(base, cpu);
  const buf = Buffer.from(ram.buffer, ram.byteOffset, ram.byteLength);
  // Never saved (still as initSaveArea left it) says so; anything else must pass the layout's CRC.
  if (buf.readUInt32LE(at + saveSlotLayout.offsetOf('valid')) === 0) return { ok: false, why: `slot ${cpu} was never saved` };
  let s;
  try {
    s = saveSlotLayout.parse(buf, at);
  } catch {
    return { ok: false, why: `slot ${cpu} CRC-32 mismatch` };
  }
  if (s.cpu !== cpu) return { ok: false, why: `slot ${cpu} names CPU ${s.cpu}` };
  if (s.valid !== 1) return { ok: false, why: `slot ${cpu} was never saved` };
  const regs = new Int32Array(REG_BYTES / 4);
  for (let i = 0; i < regs.length; i++) regs[i] = s.regs.readInt32LE(i * 4);
  return { ok: true, regs };
}
