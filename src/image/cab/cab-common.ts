import { FwupError } from '../../errors/fwup-error.js';

/** Shared by the cabinet reader and writer: the error helpers, the CFDATA checksum, MS-DOS times. */

const RULES_HINT = 'the cabinet is damaged or was not made by a conforming tool; docs/cabinet-format.md lists the rules';

/** A broken structure rule: CAB_INVALID, the rule in the message and in details. */
export function cabInvalid(rule: string, hint = RULES_HINT): FwupError {
  return new FwupError('CAB_INVALID', `invalid cabinet: ${rule}`, { hint, details: { rule } });
}

/** A structure that runs past the end of the cabinet. */
export function cabTruncated(rule: string): FwupError {
  return new FwupError('IMAGE_TRUNCATED', `truncated cabinet: ${rule}`, { details: { rule } });
}

/** A count or size over a reader limit (or over what the format can hold, when writing). */
export function cabTooLarge(rule: string, hint?: string): FwupError {
  return new FwupError('IMAGE_TOO_LARGE', `cabinet too large: ${rule}`, hint === undefined ? { details: { rule } } : { hint, details: { rule } });
}

export const hex = (n: number, width = 4): string => `0x${n.toString(16).toUpperCase().padStart(width, '0')}`;

/**
 * The [MS-CAB] checksum: the XOR of the input read as little-endian u32 words, seeded, where the 1-3
 * bytes left over are packed most significant first (the quirk every implementation must copy, or
 * cabinet.dll and gcab disagree on every block whose length is not a multiple of 4).
 */
export function cabChecksum(bytes: Uint8Array, seed = 0): number {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const whole = buf.length & ~3;
  let sum = seed >>> 0;
  for (let i = 0; i < whole; i += 4) sum ^= buf.readUInt32LE(i);
  let tail = 0;
  for (let i = whole; i < buf.length; i++) tail = (tail << 8) | buf[i]!;
  return (sum ^ tail) >>> 0;
}

/**
 * A CFDATA block's checksum: the data first, then the header bytes after csum (cbData, cbUncomp and
 * any abReserve), seeded with the data's sum. `headerTail` is those header bytes.
 */
export function cfDataChecksum(headerTail: Uint8Array, data: Uint8Array): number {
  return cabChecksum(headerTail, cabChecksum(data, 0));
}

export interface DosDateTime {
  /** The raw CFFILE fields. */
  date: number;
  time: number;
}

/** The MS-DOS date and time of a Date's UTC fields (cabinets carry no zone; UTC keeps output reproducible). */
export function toDosDateTime(when: Date): DosDateTime {
  const year = when.getUTCFullYear();
  if (!Number.isFinite(when.getTime()) || year < 1980 || year > 2107) {
    throw new FwupError('USAGE', `cannot store the date ${String(when)} in a cabinet: MS-DOS dates run from 1980 to 2107`);
  }
  const date = ((year - 1980) << 9) | ((when.getUTCMonth() + 1) << 5) | when.getUTCDate();
  const time = (when.getUTCHours() << 11) | (when.getUTCMinutes() << 5) | (when.getUTCSeconds() >> 1);
  return { date, time };
}

/** "YYYY-MM-DDTHH:MM:SS" (no zone: the maker's local time, as a rule), or null for an impossible date. */
export function fromDosDateTime(date: number, time: number): string | null {
  const year = 1980 + (date >> 9);
  const month = (date >> 5) & 0x0f;
  const day = date & 0x1f;
  const hour = time >> 11;
  const minute = (time >> 5) & 0x3f;
  const second = (time & 0x1f) * 2;
  const d = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  const fits = d.getUTCMonth() === month - 1 && d.getUTCDate() === day && hour < 24 && minute < 60 && second < 60;
  if (!fits || month < 1) return null;
  return d.toISOString().slice(0, 19);
}
