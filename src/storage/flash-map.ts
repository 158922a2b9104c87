import { FwupError } from '../errors/fwup-error.js';
import { defineLayout } from '../util/layout.js';
import { crc32 } from '../util/crc32.js';
import type { Flash, FlashGeometry } from './flash.js';

/**
 * The flash map: a table at a fixed offset (0) naming the regions, so firmware and fwup agree on where
 * things are without sharing code. Documented in docs/emulated-platform.md.
 */
export const FLASH_MAP_OFFSET = 0;
export const FLASH_MAP_MAGIC = 0x0050414d50555746n; // "FWUPMAP\0"

export const REGION_NAMES = ['MAP', 'NVRAM', 'NVRAM_SPARE', 'SLOT_A', 'SLOT_B', 'STAGING'] as const;
export type RegionName = (typeof REGION_NAMES)[number];

export const flashMapHeaderLayout = defineLayout('FlashMapHeader', [
  { name: 'magic', type: 'u64', equals: FLASH_MAP_MAGIC },
  { name: 'version', type: 'u16', equals: 1 },
  { name: 'regionCount', type: 'u16', min: 1, max: 32 },
  { name: 'blockSize', type: 'u32' },
  { name: 'flashSize', type: 'u32' },
  { name: 'crc32', type: 'u32', doc: 'CRC-32 of the header and every entry, this field zero' },
] as const);

export const flashMapEntryLayout = defineLayout('FlashMapEntry', [
  { name: 'name', type: 'text', length: 16 },
  { name: 'offset', type: 'u32' },
  { name: 'size', type: 'u32' },
] as const);

export interface Region {
  readonly name: RegionName;
  readonly offset: number;
  readonly size: number;
}

export type FlashMap = Readonly<Record<RegionName, Region>>;

/** NVRAM and its spare: 16 blocks each (64 KiB with 4 KiB blocks). */
export const NVRAM_BLOCKS = 16;
export const MIN_FLASH_BYTES = 1 << 20;
export const MAX_FLASH_BYTES = 2 ** 31;

/**
 * The standard layout for a chip of this geometry: map block, NVRAM, NVRAM spare, then slot A, slot B and
 * STAGING sharing the rest equally (an image staged must fit a slot, so they are the same size).
 */
export function planFlashMap(g: FlashGeometry): FlashMap {
  if (g.size < MIN_FLASH_BYTES || g.size > MAX_FLASH_BYTES) {
    throw new FwupError('USAGE', `flash size ${g.size} is outside ${MIN_FLASH_BYTES}..${MAX_FLASH_BYTES} bytes`);
  }
  const b = g.blockSize;
  const nv = NVRAM_BLOCKS * b;
  const rest = g.size - b - 2 * nv;
  const third = Math.floor(rest / 3 / b) * b;
  if (third < b) throw new FwupError('USAGE', `flash of ${g.size} bytes is too small for this block size`);
  let at = 0;
  const take = (name: RegionName, size: number): Region => {
    const r = { name, offset: at, size };
    at += size;
    return r;
  };
  return {
    MAP: take('MAP', b),
    NVRAM: take('NVRAM', nv),
    NVRAM_SPARE: take('NVRAM_SPARE', nv),
    SLOT_A: take('SLOT_A', third),
    SLOT_B: take('SLOT_B', third),
    STAGING: take('STAGING', third),
  };
}

export function serializeFlashMap(map: FlashMap, g: FlashGeometry): Buffer {
  const entries = REGION_NAMES.map((n) => flashMapEntryLayout.serialize({ name: n, offset: map[n].offset, size: map[n].size }));
  const header = flashMapHeaderLayout.serialize({
    magic: FLASH_MAP_MAGIC,
    version: 1,
    regionCount: entries.length,
    blockSize: g.blockSize,
    flashSize: g.size,
    crc32: 0,
  });
  const all = Buffer.concat([header, ...entries]);
  all.writeUInt32LE(crc32(all), flashMapHeaderLayout.offsetOf('crc32'));
  return all;
}

export function writeFlashMap(flash: Flash, map: FlashMap): void {
  flash.erase(map.MAP.offset, map.MAP.size);
  flash.program(FLASH_MAP_OFFSET, serializeFlashMap(map, flash.geometry));
}

/** Read and check the map: CRC, geometry, every region inside the chip, block-aligned and disjoint. */
export function readFlashMap(flash: Flash): FlashMap {
  const g = flash.geometry;
  const bad = (why: string) =>
    new FwupError('TARGET_CORRUPT', `flash map: ${why}`, { hint: 're-create the machine with `fwup machine init --force`' });
  const head = flash.read(FLASH_MAP_OFFSET, flashMapHeaderLayout.size);
  let h;
  try {
    h = flashMapHeaderLayout.parse(head);
  } catch (e) {
    throw bad(e instanceof Error ? e.message : String(e));
  }
  const all = flash.read(FLASH_MAP_OFFSET, flashMapHeaderLayout.size + h.regionCount * flashMapEntryLayout.size);
  const zeroed = Buffer.from(all);
  zeroed.writeUInt32LE(0, flashMapHeaderLayout.offsetOf('crc32'));
  if (crc32(zeroed) !== h.crc32) throw bad('CRC-32 mismatch');
  if (h.blockSize !== g.blockSize || h.flashSize !== g.size) {
    throw bad(`describes a ${h.flashSize}-byte chip with ${h.blockSize}-byte blocks, machine.json says ${g.size}/${g.blockSize}`);
  }
  const found = new Map<string, Region>();
  for (let i = 0; i < h.regionCount; i++) {
    const e = flashMapEntryLayout.parse(all, flashMapHeaderLayout.size + i * flashMapEntryLayout.size);
    if (!(REGION_NAMES as readonly string[]).includes(e.name)) throw bad(`unknown region ${JSON.stringify(e.name)}`);
    if (e.offset % g.blockSize || e.size % g.blockSize || e.size === 0 || e.offset + e.size > g.size) {
      throw bad(`region ${e.name} (${e.offset}+${e.size}) is not block-aligned inside the chip`);
    }
    found.set(e.name, { name: e.name as RegionName, offset: e.offset, size: e.size });
  }
  const regions = REGION_NAMES.map((n) => {
    const r = found.get(n);
    if (!r) throw bad(`region ${n} is missing`);
    return r;
  });
  const sorted = [...regions].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.offset < sorted[i - 1]!.offset + sorted[i - 1]!.size) throw bad(`regions ${sorted[i - 1]!.name} and ${sorted[i]!.name} overlap`);
  }
  return Object.fromEntries(regions.map((r) => [r.name, r])) as unknown as FlashMap;
}
