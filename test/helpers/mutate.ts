import { Rng } from './cli.js';

const INTERESTING_U32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/**
 * One seeded mutation of a valid image: bit flips, random bytes, interesting integers at (often)
 * header offsets, truncation, extension, or a spliced block. Reproducible from the seed.
 */
export function mutate(orig: Buffer, seed: number, headerSize: number): { bytes: Buffer; how: string } {
  const r = new Rng(seed);
  const pick = (n: number) => r.int(Math.max(1, n));
  const inHeader = () => (r.int(4) === 0 ? pick(orig.length) : pick(Math.min(orig.length, headerSize)));
  const b = Buffer.from(orig);
  switch (r.int(7)) {
    case 0: {
      const at = inHeader();
      const bit = r.int(8);
      b.writeUInt8(b.readUInt8(at) ^ (1 << bit), at);
      return { bytes: b, how: `flip bit ${bit} of byte ${at}` };
    }
    case 1: {
      const n = 1 + r.int(8);
      const hows: number[] = [];
      for (let i = 0; i < n; i++) {
        const at = inHeader();
        b.writeUInt8(r.int(256), at);
        hows.push(at);
      }
      return { bytes: b, how: `random bytes at ${hows.join(',')}` };
    }
    case 2: {
      const at = Math.min(pick(headerSize), b.length - 4) & ~3;
      const v = INTERESTING_U32[r.int(INTERESTING_U32.length)]!;
      if (at >= 0) b.writeUInt32LE(v, at);
      return { bytes: b, how: `u32 0x${v.toString(16)} at ${at}` };
    }
    case 3: {
      const len = pick(orig.length);
      return { bytes: b.subarray(0, len), how: `truncate to ${len}` };
    }
    case 4: {
      const extra = Buffer.alloc(1 + r.int(64), r.int(256));
      return { bytes: Buffer.concat([b, extra]), how: `append ${extra.length}` };
    }
    case 5: {
      const at = pick(b.length);
      const len = 1 + r.int(32);
      const ins = Buffer.alloc(len, r.int(256));
      return { bytes: Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]), how: `insert ${len} at ${at}` };
    }
    default: {
      const from = pick(b.length);
      const to = inHeader();
      const len = Math.min(1 + r.int(16), b.length - from, b.length - to);
      b.copy(b, to, from, from + len);
      return { bytes: b, how: `copy ${len} bytes ${from}->${to}` };
    }
  }
}

export function testSize(small: number, long: number): number {
  return process.env.FWUP_TEST_SIZE === 'long' ? long : small;
}
