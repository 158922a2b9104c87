import { crc32 } from '../../src/util/crc32.js';

/**
 * Make `bytes` (changed by the caller) have `targetCrc` again by rewriting 4 bytes at `at`: CRC-32 is
 * affine over GF(2), so the 32 bits' effects on the CRC are solved for like a linear system. This is
 * the attack a CRC-only link between two passes over a file invites.
 */
export function forgeCrc(bytes: Buffer, at: number, targetCrc: number): void {
  bytes.writeUInt32LE(0, at);
  const base = crc32(bytes);
  // The effect of each of the 32 bits on the CRC (for a fixed length, crc(x ^ e) = crc(x) ^ crc(e) ^ crc(0)).
  const zero = crc32(Buffer.alloc(bytes.length));
  const cols: number[] = [];
  for (let bit = 0; bit < 32; bit++) {
    const e = Buffer.alloc(bytes.length);
    e.writeUInt32LE((1 << bit) >>> 0, at);
    cols.push((crc32(e) ^ zero) >>> 0);
  }
  const want = (base ^ targetCrc) >>> 0;
  // Gaussian elimination over GF(2): rows are CRC bits, columns the 32 unknown bits.
  const rows = Array.from({ length: 32 }, (_, r) => {
    let m = 0;
    for (let c = 0; c < 32; c++) if ((cols[c]! >>> r) & 1) m |= 1 << c;
    return { m: m >>> 0, v: (want >>> r) & 1 };
  });
  const pivots: number[] = [];
  let r = 0;
  for (let c = 0; c < 32 && r < 32; c++) {
    const p = rows.findIndex((x, i) => i >= r && ((x.m >>> c) & 1) === 1);
    if (p < 0) continue;
    [rows[r], rows[p]] = [rows[p]!, rows[r]!];
    for (let i = 0; i < 32; i++) {
      if (i !== r && ((rows[i]!.m >>> c) & 1)) {
        rows[i] = { m: (rows[i]!.m ^ rows[r]!.m) >>> 0, v: rows[i]!.v ^ rows[r]!.v };
      }
    }
    pivots[r] = c;
    r++;
  }
  let x = 0;
  for (let i = 0; i < r; i++) if (rows[i]!.v) x |= 1 << pivots[i]!;
  bytes.writeUInt32LE(x >>> 0, at);
  if (crc32(bytes) !== targetCrc) throw new Error('CRC forge failed');
}
