import CRC32 from 'crc-32';
import { crc32 as nativeCrc32 } from 'node:zlib';

/** Below this many bytes the crc-32 package is as fast as a call into zlib; above it, zlib is ~4x faster. */
const NATIVE_FROM = 4096;

/**
 * CRC-32 (IEEE 802.3, as zlib and UEFI use it) as an unsigned number; `seed` continues a running CRC.
 * Small records go through the crc-32 package; bulk data (payloads, slots: the firmware's downtime)
 * through Node's native zlib.crc32 when this Node has it — the same polynomial, a test checks they agree.
 */
export function crc32(data: Uint8Array, seed?: number): number {
  if (data.length >= NATIVE_FROM && typeof nativeCrc32 === 'function') return nativeCrc32(data, seed ?? 0) >>> 0;
  // crc-32 returns a signed int32 and takes the previous signed value as its seed.
  return CRC32.buf(data, seed === undefined ? undefined : seed | 0) >>> 0;
}
