import { FwupError } from '../../errors/fwup-error.js';
import type { FlashMap, Region } from '../../storage/flash-map.js';
import { KNOWN_REQUEST_FLAGS, REQUEST_FLAGS, type UpdateRequest } from '../../storage/variables.js';
import { areaCrc, readSlot, saveAreaBytes, saveHeaderLayout } from '../state-save.js';

/**
 * The firmware distrusts the OS: every field of the request record is checked (bounds, overflow, known
 * flags, format) before the firmware reads a byte it points at. A request may point at STAGING, or at
 * `inPlace` (the inactive slot the firmware released for staging in place; null when there is none),
 * where it must name a .fwup image at the slot's start. Returns the reason it is unusable.
 */
export function requestProblem(r: UpdateRequest, map: FlashMap, inPlace: Region | null = null): string | null {
  if ((r.flags & ~KNOWN_REQUEST_FLAGS) !== 0) return `unknown request flags 0x${r.flags.toString(16)}`;
  if (r.flags & REQUEST_FLAGS.ROLLBACK) {
    return r.imageLength === 0 && r.imageOffset === 0 ? null : 'a rollback request must not name an image';
  }
  const region = requestRegion(r, map, inPlace);
  if (!region) {
    return `request points at flash offset 0x${r.regionOffset.toString(16)}, not at STAGING (0x${map.STAGING.offset.toString(16)})${inPlace ? ` nor at the inactive slot ${inPlace.name} (0x${inPlace.offset.toString(16)})` : ''}`;
  }
  if (r.imageLength === 0) return 'request names an empty image';
  // Plain numbers: both fields are u32, so the sum cannot lose precision.
  if (r.imageOffset + r.imageLength > region.size) {
    return `request image [${r.imageOffset}, +${r.imageLength}) runs outside ${region.name} (${region.size} bytes)`;
  }
  if (r.imageFormat < 1 || r.imageFormat > 3) return `unknown image format ${r.imageFormat}`;
  if (region !== map.STAGING && (r.imageOffset !== 0 || r.imageFormat !== 1)) return `an image staged in place must be a .fwup at the start of ${region.name}`;
  return null;
}

/** The region a request's image is in: STAGING or the released inactive slot (null: neither). */
export function requestRegion(r: UpdateRequest, map: FlashMap, inPlace: Region | null): Region | null {
  if (r.regionOffset === map.STAGING.offset) return map.STAGING;
  if (inPlace && r.regionOffset === inPlace.offset) return inPlace;
  return null;
}

/** Check the state-save area a warm request points at: bounds, header, each slot's CRC, the area CRC. */
export function stateProblem(r: UpdateRequest, ram: Uint8Array, cpus: number): string | null {
  const addr = r.stateSaveAddress;
  const len = BigInt(r.stateSaveLength);
  if (r.cpuCount !== cpus) return `request saved ${r.cpuCount} CPUs, the machine has ${cpus}`;
  if (len !== BigInt(saveAreaBytes(cpus))) return `state-save area length ${r.stateSaveLength} is not ${saveAreaBytes(cpus)}`;
  if (addr % 8n !== 0n || addr + len > BigInt(ram.length) || addr + len < addr) {
    return `state-save area 0x${addr.toString(16)}+${r.stateSaveLength} is outside RAM (${ram.length} bytes)`;
  }
  const base = Number(addr);
  try {
    const h = saveHeaderLayout.parse(Buffer.from(ram.buffer, ram.byteOffset, ram.byteLength), base);
    if (h.cpuCount !== cpus) return `state-save header names ${h.cpuCount} CPUs`;
  } catch (e) {
    return `state-save header: ${e instanceof FwupError ? e.message : String(e)}`;
  }
  for (let cpu = 0; cpu < cpus; cpu++) {
    const s = readSlot(ram, base, cpu);
    if (!s.ok) return `saved state of CPU ${cpu}: ${s.why}`;
  }
  if (areaCrc(ram, base, cpus) !== r.stateSaveCrc32) return 'state-save area CRC-32 differs from the one in the request';
  return null;
}
