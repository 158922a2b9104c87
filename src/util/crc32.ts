import CRC32 from 'crc-32';

/** CRC-32 (IEEE 802.3, as zlib and UEFI use it) as an unsigned number; `seed` continues a running CRC. */
export function crc32(data: Uint8Array, seed?: number): number {
  // crc-32 returns a signed int32 and takes the previous signed value as its seed.
  return CRC32.buf(data, seed === undefined ? undefined : seed | 0) >>> 0;
}
