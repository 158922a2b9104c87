import type { Flash } from './flash.js';
import type { FlashTimingSpec, TimeRange } from './flash-timing.js';
import { ForwardingFlash } from './forwarding-flash.js';

/** Simulated time a chip spent, typical and worst case, with the operations that make it up. */
export interface FlashTime {
  typicalMs: number;
  worstMs: number;
  bytesRead: number;
  pagesProgrammed: number;
  /** Erase commands by unit: 4 KiB sectors, 32 KiB and 64 KiB blocks, whole-chip erases. */
  erases: { sector: number; block32: number; block64: number; chip: number };
}

export function zeroTime(): FlashTime {
  return { typicalMs: 0, worstMs: 0, bytesRead: 0, pagesProgrammed: 0, erases: { sector: 0, block32: 0, block64: 0, chip: 0 } };
}

export type EraseUnit = keyof FlashTime['erases'];

const KiB = 1024;

/**
 * The erase commands a SPI NOR driver issues for one erase of [offset, offset + length): the whole chip
 * in one command when that is what is asked; else, from the start, the largest block the chip has that
 * is aligned there and fits (64 KiB, 32 KiB, then the sector), as Linux's spi-nor and flashrom choose.
 * The range is first widened to whole sectors (a chip cannot erase less).
 */
export function eraseCommands(spec: FlashTimingSpec, offset: number, length: number, chipSize: number): Array<{ unit: EraseUnit; at: number; bytes: number }> {
  if (length <= 0) return [];
  if (spec.chipEraseMs && offset === 0 && length === chipSize) return [{ unit: 'chip', at: 0, bytes: chipSize }];
  const s = spec.sectorBytes;
  let at = Math.floor(offset / s) * s;
  const end = Math.ceil((offset + length) / s) * s;
  const out: Array<{ unit: EraseUnit; at: number; bytes: number }> = [];
  while (at < end) {
    const fits = (n: number) => at % n === 0 && end - at >= n;
    const unit: EraseUnit = spec.block64EraseMs && fits(64 * KiB) ? 'block64' : spec.block32EraseMs && fits(32 * KiB) ? 'block32' : 'sector';
    const bytes = unit === 'block64' ? 64 * KiB : unit === 'block32' ? 32 * KiB : s;
    out.push({ unit, at, bytes });
    at += bytes;
  }
  return out;
}

function eraseRange(spec: FlashTimingSpec, unit: EraseUnit): TimeRange {
  if (unit === 'chip') return spec.chipEraseMs!;
  if (unit === 'block64') return spec.block64EraseMs!;
  if (unit === 'block32') return spec.block32EraseMs!;
  return spec.sectorEraseMs;
}

/** Write Enable before, status polling after: once per program or erase command. */
function commandOverheadMs(spec: FlashTimingSpec): number {
  return ((spec.writeEnableUs ?? 0) + (spec.statusPollUs ?? 0)) / 1000;
}

/** Pages a program of `length` bytes at `offset` touches: a partial page costs a whole page program. */
export function pagesTouched(spec: FlashTimingSpec, offset: number, length: number): number {
  if (length <= 0) return 0;
  const p = spec.pageBytes;
  return Math.floor((offset + length - 1) / p) - Math.floor(offset / p) + 1;
}

/** Add the cost of one erase to `t`. */
export function addErase(t: FlashTime, spec: FlashTimingSpec, offset: number, length: number, chipSize: number): void {
  const over = commandOverheadMs(spec);
  for (const c of eraseCommands(spec, offset, length, chipSize)) {
    const r = eraseRange(spec, c.unit);
    t.erases[c.unit]++;
    t.typicalMs += r.typical + over;
    t.worstMs += r.max + over;
  }
}

/** Add the cost of one program to `t`: a page program command per page touched. */
export function addProgram(t: FlashTime, spec: FlashTimingSpec, offset: number, length: number): void {
  const pages = pagesTouched(spec, offset, length);
  const over = commandOverheadMs(spec);
  t.pagesProgrammed += pages;
  t.typicalMs += pages * (spec.pageProgramMs.typical + over);
  t.worstMs += pages * (spec.pageProgramMs.max + over);
}

/** Add the cost of one read to `t`: the bytes at the continuous read rate (the same in every case). */
export function addRead(t: FlashTime, spec: FlashTimingSpec, length: number): void {
  const ms = (length / spec.readBytesPerSecond) * 1000;
  t.bytesRead += length;
  t.typicalMs += ms;
  t.worstMs += ms;
}

/** b - a, field by field: the time spent between two readings of a meter. */
export function timeBetween(a: FlashTime, b: FlashTime): FlashTime {
  return {
    typicalMs: b.typicalMs - a.typicalMs,
    worstMs: b.worstMs - a.worstMs,
    bytesRead: b.bytesRead - a.bytesRead,
    pagesProgrammed: b.pagesProgrammed - a.pagesProgrammed,
    erases: {
      sector: b.erases.sector - a.erases.sector,
      block32: b.erases.block32 - a.erases.block32,
      block64: b.erases.block64 - a.erases.block64,
      chip: b.erases.chip - a.erases.chip,
    },
  };
}

/**
 * A chip that keeps count of the time its operations would take on the chip `spec` describes, in
 * simulated time (it never sleeps, so a benchmark of a minute of real flash work stays fast). Only
 * operations that succeed are counted. `elapsed()` is a reading; differences between readings are phases.
 */
export class TimedFlash extends ForwardingFlash {
  private readonly total = zeroTime();

  constructor(inner: Flash, readonly spec: FlashTimingSpec) {
    super(inner);
  }

  elapsed(): FlashTime {
    return { ...this.total, erases: { ...this.total.erases } };
  }

  override read(offset: number, length: number, into?: Buffer): Buffer {
    const out = this.inner.read(offset, length, into);
    addRead(this.total, this.spec, length);
    return out;
  }

  override program(offset: number, data: Uint8Array): void {
    this.inner.program(offset, data);
    addProgram(this.total, this.spec, offset, data.length);
  }

  override erase(offset: number, length: number): void {
    this.inner.erase(offset, length);
    addErase(this.total, this.spec, offset, length, this.geometry.size);
  }
}
