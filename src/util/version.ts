import { FwupError } from '../errors/fwup-error.js';

/**
 * A firmware version as people write it, and the u32 that comparisons use. Formats follow fwupd:
 * "N" or "0xN" (plain), "A.B.C" (triplet: A<<24 | B<<16 | C), "A.B.C.D" (quad: one byte each).
 */
/**
 * A version number shown the way a sibling version string is written: as a triplet or quad when the
 * image's own version is one, else as a plain number (a lowest-supported version has no string).
 */
export function displayLike(n: number, like: string): string {
  if (/^\d+\.\d+\.\d+$/.test(like)) return `${Math.floor(n / 2 ** 24) & 0xff}.${Math.floor(n / 2 ** 16) & 0xff}.${n & 0xffff}`;
  if (/^\d+(\.\d+){3}$/.test(like)) return [24, 16, 8, 0].map((b) => Math.floor(n / 2 ** b) & 0xff).join('.');
  if (/^0x/i.test(like)) return `0x${n.toString(16).toUpperCase().padStart(8, '0')}`;
  return String(n);
}

export function parseVersion(text: string): { display: string; number: number } {
  const t = text.trim();
  const bad = (why: string) =>
    new FwupError('USAGE', `version ${JSON.stringify(text)} ${why}`, {
      hint: 'write it as N, 0xN, A.B.C (A,B < 256, C < 65536) or A.B.C.D (each < 256)',
    });
  if (t.length === 0 || Buffer.byteLength(t) > 31) throw bad('must be 1 to 31 bytes');
  let n: number;
  if (/^(0x[0-9a-f]+|\d+)$/i.test(t)) {
    n = Number(t);
  } else if (/^\d+(\.\d+){2,3}$/.test(t)) {
    const p = t.split('.').map(Number);
    if (p.length === 3) {
      const [a, b, c] = p as [number, number, number];
      if (a > 255 || b > 255 || c > 65535) throw bad('has a part out of range');
      n = a * 2 ** 24 + b * 2 ** 16 + c;
    } else {
      if (p.some((x) => x > 255)) throw bad('has a part out of range');
      n = p.reduce((acc, x) => acc * 256 + x, 0);
    }
  } else {
    throw bad('is not a version');
  }
  if (!Number.isSafeInteger(n) || n > 0xffffffff) throw bad('does not fit in 32 bits');
  return { display: t, number: n };
}
