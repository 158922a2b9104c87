import { FwupError } from '../errors/fwup-error.js';

/**
 * The narrow flash API every layer above uses (as MCUboot's flash_area): read, program, erase, sync.
 * NOR semantics: erased bytes read 0xFF, programming can only clear bits (1 -> 0), erase works on whole
 * blocks and is the only way back to 1. Offsets are absolute on the chip.
 */
export interface FlashGeometry {
  /** Chip size in bytes, a multiple of blockSize. */
  readonly size: number;
  /** Erase block size in bytes (4 KiB by default). */
  readonly blockSize: number;
  /** Program offsets and lengths must be multiples of this (1 = byte-programmable NOR). */
  readonly programAlign: number;
}

export const ERASED = 0xff;

export interface FlashStats {
  reads: number;
  programs: number;
  erases: number;
  syncs: number;
  bytesRead: number;
  bytesProgrammed: number;
  bytesErased: number;
}

export interface Flash {
  readonly geometry: FlashGeometry;
  readonly stats: Readonly<FlashStats>;
  /** Copy `length` bytes at `offset` into a new buffer (or into `into`). */
  read(offset: number, length: number, into?: Buffer): Buffer;
  /** Clear bits: every byte of `data` must be a subset of the bits already set there. */
  program(offset: number, data: Uint8Array): void;
  /** Erase whole blocks back to 0xFF. */
  erase(offset: number, length: number): void;
  /** Durability barrier: everything programmed or erased so far survives a host crash. */
  sync(): void;
  close(): void;
}

export function newStats(): FlashStats {
  return { reads: 0, programs: 0, erases: 0, syncs: 0, bytesRead: 0, bytesProgrammed: 0, bytesErased: 0 };
}

export const DEFAULT_GEOMETRY = { blockSize: 4096, programAlign: 1 } as const;

export function validateGeometry(g: FlashGeometry): void {
  const pow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;
  if (!pow2(g.blockSize)) throw new FwupError('USAGE', `flash block size ${g.blockSize} is not a power of two`);
  if (!pow2(g.programAlign) || g.programAlign > g.blockSize) {
    throw new FwupError('USAGE', `flash program alignment ${g.programAlign} must be a power of two no larger than a block`);
  }
  if (!Number.isSafeInteger(g.size) || g.size <= 0 || g.size % g.blockSize !== 0) {
    throw new FwupError('USAGE', `flash size ${g.size} is not a positive multiple of the block size ${g.blockSize}`);
  }
}

function violation(message: string): FwupError {
  // A violation is a bug in fwup's own code (the strict model exists to catch exactly that).
  return new FwupError('FLASH_VIOLATION', `flash rule violated: ${message}`, {
    hint: 'this is a bug in fwup; please report it',
  });
}

export function checkRange(g: FlashGeometry, offset: number, length: number, op: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > g.size) {
    throw violation(`${op} of ${length} bytes at ${offset} is outside the ${g.size}-byte chip`);
  }
}

export function checkProgramAlignment(g: FlashGeometry, offset: number, length: number): void {
  if (offset % g.programAlign !== 0 || length % g.programAlign !== 0) {
    throw violation(`program of ${length} bytes at ${offset} is not aligned to ${g.programAlign} bytes`);
  }
}

export function checkEraseAlignment(g: FlashGeometry, offset: number, length: number): void {
  if (offset % g.blockSize !== 0 || length % g.blockSize !== 0) {
    throw violation(`erase of ${length} bytes at ${offset} is not aligned to the ${g.blockSize}-byte block`);
  }
}

/** True when programming `data` over `current` only clears bits (no byte needs a 0 -> 1). */
export function onlyClearsBits(current: Uint8Array, data: Uint8Array): boolean {
  const n = data.length;
  let i = 0;
  // Four bytes at a time where both views are aligned: this runs over every byte programmed.
  if (current.byteOffset % 4 === 0 && data.byteOffset % 4 === 0) {
    const a = new Uint32Array(current.buffer, current.byteOffset, n >> 2);
    const b = new Uint32Array(data.buffer, data.byteOffset, n >> 2);
    // `>>> 0`: & yields a signed 32-bit number, the array elements are unsigned.
    for (; i < b.length; i++) if (((a[i]! & b[i]!) >>> 0) !== b[i]) return false;
    i <<= 2;
  }
  for (; i < n; i++) if ((current[i]! & data[i]!) !== data[i]) return false;
  return true;
}

/** NOR programming can only clear bits: refuse the whole operation if any byte would need a 0 -> 1. */
export function checkProgramBits(current: Uint8Array, data: Uint8Array, offset: number): void {
  if (onlyClearsBits(current, data)) return;
  for (let i = 0; i < data.length; i++) {
    const want = data[i]!;
    if ((current[i]! & want) !== want) {
      throw violation(
        `program at ${offset + i} would set bits 0->1 (0x${current[i]!.toString(16).padStart(2, '0')} -> 0x${want.toString(16).padStart(2, '0')}); erase first`,
      );
    }
  }
}

export function isErased(data: Uint8Array): boolean {
  // Compare 8 bytes at a time where aligned: this runs over whole regions when checking free space.
  const n = data.length;
  let i = 0;
  if (data.byteOffset % 8 === 0) {
    const words = new BigUint64Array(data.buffer, data.byteOffset, n >> 3);
    for (; i < words.length; i++) if (words[i] !== 0xffff_ffff_ffff_ffffn) return false;
    i <<= 3;
  }
  for (; i < n; i++) if (data[i] !== ERASED) return false;
  return true;
}
