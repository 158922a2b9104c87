import { FwupError } from '../errors/fwup-error.js';

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** Parse a byte size such as 4096, 64K, 16M, 1G, 16MiB. */
export function parseSize(text: string, what = 'size'): number {
  const m = /^(\d+)\s*([KMG]?)(?:i?B)?$/i.exec(text.trim());
  if (!m) throw new FwupError('USAGE', `${what} ${JSON.stringify(text)} is not a size`, { hint: 'use e.g. 4096, 64K, 16M' });
  const n = Number(m[1]) * (UNITS[(m[2] ?? '').toUpperCase()] ?? 1);
  if (!Number.isSafeInteger(n)) throw new FwupError('USAGE', `${what} ${text} is too large`);
  return n;
}

/** Parse an unsigned integer (decimal or 0x hex) that must fit in `bits` bits. */
export function parseUint(text: string, what: string, bits = 32): number {
  const t = text.trim();
  const ok = /^(0x[0-9a-f]+|\d+)$/i.test(t);
  const n = ok ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n < 0 || n > 2 ** bits - 1) {
    throw new FwupError('USAGE', `${what} ${JSON.stringify(text)} is not an unsigned ${bits}-bit number`, {
      hint: 'write it in decimal or as 0x followed by hex digits',
    });
  }
  return n;
}

/** Parse an unsigned 64-bit integer exactly (BigInt: values above 2^53 survive). */
export function parseU64(text: string, what: string): bigint {
  const t = text.trim();
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(t)) throw new FwupError('USAGE', `${what} ${JSON.stringify(text)} is not a number`);
  const n = BigInt(t);
  if (n < 0n || n > 0xffff_ffff_ffff_ffffn) throw new FwupError('USAGE', `${what} ${text} does not fit in 64 bits`);
  return n;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(n % 1024 === 0 ? 0 : 1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(n % 1024 ** 2 === 0 ? 0 : 1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}

/** Parse a duration in seconds (decimals allowed, e.g. 0.5) into milliseconds; it must be positive. */
export function parseSeconds(text: string, what: string): number {
  const t = text.trim();
  const ms = /^\d+(\.\d+)?$/.test(t) ? Math.round(Number(t) * 1000) : NaN;
  if (!Number.isSafeInteger(ms) || ms <= 0 || ms > 2 ** 31 - 1) {
    throw new FwupError('USAGE', `${what} ${JSON.stringify(text)} is not a number of seconds`, {
      hint: 'give a positive number of seconds, e.g. 30 or 0.5 (at most 24 days)',
    });
  }
  return ms;
}
