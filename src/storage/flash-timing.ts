import { FwupError } from '../errors/fwup-error.js';

/**
 * Datasheet timing of a SPI NOR chip, for a model of how long the emulated flash's operations would
 * take on real silicon (simulated time: nothing sleeps). Times are milliseconds, typical and maximum as
 * the datasheet's AC table gives them; the read bandwidth is the continuous read rate at the stated clock.
 */
export interface TimeRange {
  typical: number;
  max: number;
}

export interface FlashTimingSpec {
  /** The chip's name, as reports print it. */
  chip: string;
  /** Where the figures come from (datasheet, revision, table). */
  source?: string;
  /** Program page size: a program command writes within one page. */
  pageBytes: number;
  pageProgramMs: TimeRange;
  /** The smallest erase (the 4 KiB sector of 25-series parts). */
  sectorBytes: number;
  sectorEraseMs: TimeRange;
  block32EraseMs?: TimeRange;
  block64EraseMs?: TimeRange;
  chipEraseMs?: TimeRange;
  /** Continuous read rate in bytes per second at `spiClockHz`. */
  readBytesPerSecond: number;
  spiClockHz?: number;
  /** Per program or erase command: sending Write Enable, and polling the status register once done. */
  writeEnableUs?: number;
  statusPollUs?: number;
}

/**
 * Winbond W25Q128JV, datasheet "W25Q128JV 3V 128M-bit serial flash memory with dual/quad SPI", revision F
 * (2018-03-27): section 9.6 AC electrical characteristics (tPP, tSE, tBE1, tBE2, tCE) and the features
 * list (133 MHz, 66 MB/s continuous quad read). 65,536 pages of 256 bytes, 4,096 sectors of 4 KiB.
 */
export const W25Q128JV: FlashTimingSpec = {
  chip: 'W25Q128JV',
  source: 'Winbond W25Q128JV datasheet rev. F (2018-03-27), 9.6 AC Electrical Characteristics; 2 Features',
  pageBytes: 256,
  pageProgramMs: { typical: 0.4, max: 3 },
  sectorBytes: 4096,
  sectorEraseMs: { typical: 45, max: 400 },
  block32EraseMs: { typical: 120, max: 1600 },
  block64EraseMs: { typical: 150, max: 2000 },
  chipEraseMs: { typical: 40_000, max: 200_000 },
  readBytesPerSecond: 66_500_000,
  spiClockHz: 133_000_000,
};

export const BUILTIN_FLASH_TIMINGS: Readonly<Record<string, FlashTimingSpec>> = { W25Q128JV };

/** A built-in chip by name (case-insensitive), or a USAGE error naming the known ones. */
export function builtinFlashTiming(name: string): FlashTimingSpec {
  const key = Object.keys(BUILTIN_FLASH_TIMINGS).find((k) => k.toLowerCase() === name.toLowerCase());
  if (!key) {
    throw new FwupError('USAGE', `unknown flash chip ${JSON.stringify(name)} for --flash-timing`, {
      hint: `built-in chips: ${Object.keys(BUILTIN_FLASH_TIMINGS).join(', ')}; or give a FILE.json of datasheet figures (docs/emulated-platform.md)`,
    });
  }
  return BUILTIN_FLASH_TIMINGS[key]!;
}

const RANGE_FIELDS = ['pageProgramMs', 'sectorEraseMs', 'block32EraseMs', 'block64EraseMs', 'chipEraseMs'] as const;
const REQUIRED_RANGES = new Set<string>(['pageProgramMs', 'sectorEraseMs']);
const OPTIONAL_NUMBERS = ['spiClockHz', 'writeEnableUs', 'statusPollUs'] as const;
const KNOWN = new Set<string>(['chip', 'source', 'pageBytes', 'sectorBytes', 'readBytesPerSecond', ...RANGE_FIELDS, ...OPTIONAL_NUMBERS]);

/**
 * Check a timing description (a parsed JSON file, or machine.json's copy) field by field. `code` is the
 * error to raise: USAGE for a file the user names, TARGET_CORRUPT for a damaged machine.json.
 */
export function parseFlashTiming(raw: unknown, where: string, code: 'USAGE' | 'TARGET_CORRUPT' = 'USAGE'): FlashTimingSpec {
  const bad = (why: string) =>
    new FwupError(code, `${where}: ${why}`, {
      hint: code === 'USAGE'
        ? 'a flash timing file holds datasheet figures: chip, pageBytes, pageProgramMs {typical, max}, sectorBytes, sectorEraseMs {typical, max}, readBytesPerSecond (docs/emulated-platform.md)'
        : 're-create the machine with `fwup machine init --force --flash-timing ...` (its flash is lost)',
    });
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw bad('not a JSON object');
  const o = raw as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !KNOWN.has(k));
  if (unknown.length) throw bad(`unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}`);
  if (typeof o.chip !== 'string' || o.chip.length === 0 || o.chip.length > 64) throw bad('"chip" must be a name of 1 to 64 characters');
  if (o.source !== undefined && typeof o.source !== 'string') throw bad('"source" must be a string');
  const positive = (field: string, v: unknown, integer: boolean): number => {
    if (v === undefined) throw bad(`"${field}" is missing`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`"${field}" must be a number, not ${JSON.stringify(v)}`);
    if (v <= 0) throw bad(`"${field}" must be positive, not ${v}`);
    if (integer && (!Number.isInteger(v) || (v & (v - 1)) !== 0)) throw bad(`"${field}" must be a power of two, not ${v}`);
    return v;
  };
  const range = (field: string): TimeRange | undefined => {
    const v = o[field];
    if (v === undefined && !REQUIRED_RANGES.has(field)) return undefined;
    if (v === undefined) throw bad(`"${field}" is missing`);
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad(`"${field}" must be {"typical": ms, "max": ms}`);
    const r = v as Record<string, unknown>;
    const extra = Object.keys(r).filter((k) => k !== 'typical' && k !== 'max');
    if (extra.length) throw bad(`"${field}" has unknown field ${extra.map((k) => JSON.stringify(k)).join(', ')}`);
    const typical = positive(`${field}.typical`, r.typical, false);
    const max = positive(`${field}.max`, r.max, false);
    if (max < typical) throw bad(`"${field}": max ${max} is below typical ${typical}`);
    return { typical, max };
  };
  const spec: FlashTimingSpec = {
    chip: o.chip,
    ...(typeof o.source === 'string' ? { source: o.source } : {}),
    pageBytes: positive('pageBytes', o.pageBytes, true),
    pageProgramMs: range('pageProgramMs')!,
    sectorBytes: positive('sectorBytes', o.sectorBytes, true),
    sectorEraseMs: range('sectorEraseMs')!,
    readBytesPerSecond: positive('readBytesPerSecond', o.readBytesPerSecond, false),
  };
  for (const f of ['block32EraseMs', 'block64EraseMs', 'chipEraseMs'] as const) {
    const r = range(f);
    if (r) spec[f] = r;
  }
  for (const f of OPTIONAL_NUMBERS) {
    if (o[f] === undefined) continue;
    const v = o[f];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`"${f}" must be a number, not ${JSON.stringify(v)}`);
    if (v < 0) throw bad(`"${f}" must not be negative, not ${v}`);
    spec[f] = v;
  }
  if (spec.sectorBytes > 32 * 1024) throw bad(`"sectorBytes" ${spec.sectorBytes} is larger than the 32 KiB block`);
  if (spec.pageBytes > spec.sectorBytes) throw bad(`"pageBytes" ${spec.pageBytes} is larger than a sector`);
  return spec;
}
