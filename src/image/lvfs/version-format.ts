/**
 * The LVFS version formats (metainfo's LVFS::VersionFormat): how a firmware's 32-bit version number,
 * as a capsule's FMP payload header or the ESRT carries it, is written as text. A cabinet's release
 * version is compared with its payload's own number through these, so a cabinet cannot claim one
 * version while carrying another. Formats not listed cannot be checked, and the check says so.
 */

export type VersionFormatName = 'plain' | 'number' | 'hex' | 'pair' | 'triplet' | 'quad' | 'bcd';

const FORMATS: ReadonlySet<string> = new Set<VersionFormatName>(['plain', 'number', 'hex', 'pair', 'triplet', 'quad', 'bcd']);

export function isKnownVersionFormat(name: string): name is VersionFormatName {
  return FORMATS.has(name);
}

const bcd = (b: number): number => ((b >> 4) & 0xf) * 10 + (b & 0xf);

/** The text of `value` (an unsigned 32-bit version) in `format`. */
export function versionText(value: number, format: VersionFormatName): string {
  const v = value >>> 0;
  const b = [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff] as const;
  switch (format) {
    case 'plain':
    case 'number':
      return String(v);
    case 'hex':
      return `0x${v.toString(16).padStart(8, '0')}`;
    case 'pair':
      return `${v >>> 16}.${v & 0xffff}`;
    case 'triplet':
      return `${b[0]}.${b[1]}.${v & 0xffff}`;
    case 'quad':
      return b.join('.');
    case 'bcd':
      return b.map(bcd).join('.');
  }
}

/** A format from the version's shape when the metainfo names none: dots give pair, triplet, quad. */
export function guessVersionFormat(version: string): VersionFormatName | null {
  if (/^\d+$/.test(version)) return 'number';
  if (/^0x[0-9a-f]{1,8}$/i.test(version)) return 'hex';
  const dots = /^\d+(\.\d+){1,3}$/.test(version) ? version.split('.').length - 1 : 0;
  return dots === 1 ? 'pair' : dots === 2 ? 'triplet' : dots === 3 ? 'quad' : null;
}

/** The 32-bit number `version` stands for in `format`, or null when it is not one (out of range, wrong shape). */
export function versionNumber(version: string, format: VersionFormatName): number | null {
  const parts = version.split('.');
  const nums = parts.every((p) => /^\d+$/.test(p)) ? parts.map(Number) : null;
  const fits = (xs: readonly number[], widths: readonly number[]) => xs.length === widths.length && xs.every((x, i) => x < 2 ** widths[i]!);
  const pack = (xs: readonly number[], widths: readonly number[]) => xs.reduce((acc, x, i) => acc * 2 ** widths[i]! + x, 0);
  switch (format) {
    case 'plain':
    case 'number':
      return nums && nums.length === 1 && nums[0]! <= 0xffffffff ? nums[0]! : null;
    case 'hex':
      return /^0x[0-9a-f]{1,8}$/i.test(version) ? parseInt(version.slice(2), 16) : null;
    case 'pair':
      return nums && fits(nums, [16, 16]) ? pack(nums, [16, 16]) : null;
    case 'triplet':
      return nums && fits(nums, [8, 8, 16]) ? pack(nums, [8, 8, 16]) : null;
    case 'quad':
      return nums && fits(nums, [8, 8, 8, 8]) ? pack(nums, [8, 8, 8, 8]) : null;
    case 'bcd':
      return nums && nums.length === 4 && nums.every((n) => n < 100) ? pack(nums.map((n) => Math.floor(n / 10) * 16 + (n % 10)), [8, 8, 8, 8]) : null;
  }
}
