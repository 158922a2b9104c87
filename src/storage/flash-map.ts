import { FwupError } from '../errors/fwup-error.js';
import { crc32FieldZeroed, defineLayout } from '../util/layout.js';
import type { Flash, FlashGeometry } from './flash.js';

/**
 * The flash map: a table naming the regions, so firmware and fwup agree on where things are without
 * sharing code. Two copies (the first block and the last), so one damaged block never loses the map.
 * Documented in docs/emulated-platform.md.
 */
export const FLASH_MAP_MAGIC = 0x0050414d50555746n; // "FWUPMAP\0"
export const FLASH_MAP_VERSION = 2;

export const REGION_NAMES = [
  'MAP', 'KEYSTORE', 'BOOTREC', 'NVRAM', 'NVRAM_SPARE', 'SLOT_A', 'SLOT_B', 'RECOVERY', 'STAGING', 'MAP_BACKUP',
] as const;
export type RegionName = (typeof REGION_NAMES)[number];

export const flashMapHeaderLayout = defineLayout('FlashMapHeader', [
  { name: 'magic', type: 'u64', equals: FLASH_MAP_MAGIC },
  { name: 'version', type: 'u16', equals: FLASH_MAP_VERSION },
  { name: 'regionCount', type: 'u16', equals: REGION_NAMES.length },
  { name: 'blockSize', type: 'u32' },
  { name: 'flashSize', type: 'u32' },
  { name: 'crc32', type: 'u32', doc: 'CRC-32 of the header and every entry, this field zero' },
] as const, { code: 'TARGET_CORRUPT' });

export const flashMapEntryLayout = defineLayout('FlashMapEntry', [
  { name: 'name', type: 'text', length: 16 },
  { name: 'offset', type: 'u32' },
  { name: 'size', type: 'u32' },
] as const, { code: 'TARGET_CORRUPT' });

export interface Region {
  readonly name: RegionName;
  readonly offset: number;
  readonly size: number;
}

export type FlashMap = Readonly<Record<RegionName, Region>>;

/** Blocks of the fixed-size regions. */
export const NVRAM_BLOCKS = 16;
/** Two copies of the trust anchors, each this many blocks. */
export const KEYSTORE_COPY_BLOCKS = 4;
/** Two copies of the boot record, one block each. */
export const BOOTREC_COPY_BLOCKS = 1;
export const MIN_FLASH_BYTES = 1 << 20;
export const MAX_FLASH_BYTES = 2 ** 31;

const MAP_BYTES = flashMapHeaderLayout.size + REGION_NAMES.length * flashMapEntryLayout.size;

/**
 * The standard layout for a chip of this geometry: the map, the key store (two copies), the boot
 * record (two copies), NVRAM and its spare, then slot A, slot B, the recovery copy and STAGING sharing
 * the rest equally (an image staged must fit a slot, and the recovery copy holds a slot's image), and
 * the map's second copy in the last block.
 */
export function planFlashMap(g: FlashGeometry): FlashMap {
  if (g.size < MIN_FLASH_BYTES || g.size > MAX_FLASH_BYTES) {
    throw new FwupError('USAGE', `flash size ${g.size} is outside ${MIN_FLASH_BYTES}..${MAX_FLASH_BYTES} bytes`, {
      hint: 'give --flash-size between 1M and 2G',
    });
  }
  const b = g.blockSize;
  const fixed = 1 + 2 * KEYSTORE_COPY_BLOCKS + 2 * BOOTREC_COPY_BLOCKS + 2 * NVRAM_BLOCKS + 1;
  const quarter = Math.floor((g.size - fixed * b) / 4 / b) * b;
  if (quarter < b) throw new FwupError('USAGE', `flash of ${g.size} bytes is too small for ${b}-byte blocks`, { hint: 'use a larger --flash-size' });
  let at = 0;
  const take = (name: RegionName, size: number): Region => {
    const r = { name, offset: at, size };
    at += size;
    return r;
  };
  return {
    MAP: take('MAP', b),
    KEYSTORE: take('KEYSTORE', 2 * KEYSTORE_COPY_BLOCKS * b),
    BOOTREC: take('BOOTREC', 2 * BOOTREC_COPY_BLOCKS * b),
    NVRAM: take('NVRAM', NVRAM_BLOCKS * b),
    NVRAM_SPARE: take('NVRAM_SPARE', NVRAM_BLOCKS * b),
    SLOT_A: take('SLOT_A', quarter),
    SLOT_B: take('SLOT_B', quarter),
    RECOVERY: take('RECOVERY', quarter),
    STAGING: take('STAGING', quarter),
    MAP_BACKUP: { name: 'MAP_BACKUP', offset: g.size - b, size: b },
  };
}

/** The two halves of a region that holds two copies of something (the key store, the boot record). */
export function regionCopies(r: Region): [Region, Region] {
  const half = r.size / 2;
  return [
    { name: r.name, offset: r.offset, size: half },
    { name: r.name, offset: r.offset + half, size: half },
  ];
}

export function serializeFlashMap(map: FlashMap, g: FlashGeometry): Buffer {
  const entries = REGION_NAMES.map((n) => flashMapEntryLayout.serialize({ name: n, offset: map[n].offset, size: map[n].size }));
  const header = flashMapHeaderLayout.serialize({
    magic: FLASH_MAP_MAGIC, version: FLASH_MAP_VERSION, regionCount: entries.length, blockSize: g.blockSize, flashSize: g.size, crc32: 0,
  });
  const all = Buffer.concat([header, ...entries]);
  all.writeUInt32LE(crc32FieldZeroed(all, flashMapHeaderLayout.offsetOf('crc32')), flashMapHeaderLayout.offsetOf('crc32'));
  return all;
}

/** Where each copy of the map lives: found without reading the map (block 0 and the last block). */
export function mapCopyOffsets(g: FlashGeometry): [number, number] {
  return [0, g.size - g.blockSize];
}

/** Write one copy of the map (erase its block, program, read back). */
export function writeFlashMapCopy(flash: Flash, map: FlashMap, copy: 0 | 1): void {
  const at = mapCopyOffsets(flash.geometry)[copy];
  const bytes = serializeFlashMap(map, flash.geometry);
  flash.erase(at, flash.geometry.blockSize);
  flash.program(at, bytes);
  if (!flash.read(at, bytes.length).equals(bytes)) {
    throw new FwupError('FLASH_VERIFY', `read-back of flash map copy ${copy + 1} differs`, { hint: 'the flash did not keep what was written' });
  }
}

export interface MapCopies {
  /** The map, from the first copy that checks. */
  map: FlashMap;
  /** Per copy: null when it checks, else why not. */
  problems: [string | null, string | null];
}

/** Read and check both copies of the map; throws only when neither checks. */
export function readFlashMapCopies(flash: Flash): MapCopies {
  const problems: [string | null, string | null] = [null, null];
  let map: FlashMap | null = null;
  mapCopyOffsets(flash.geometry).forEach((at, i) => {
    try {
      const m = parseFlashMap(flash.read(at, MAP_BYTES), flash.geometry);
      map ??= m;
    } catch (e) {
      problems[i] = e instanceof Error ? e.message : String(e);
    }
  });
  if (!map) {
    const legacy = problems[0]?.includes('FlashMapHeader.version is 0x1');
    throw new FwupError('TARGET_CORRUPT', legacy ? 'this machine was made by an older fwup (flash layout 1)' : `flash map: both copies are damaged (${problems[0]}; ${problems[1]})`, {
      hint: 're-create the machine with `fwup machine init --force` (its flash is lost)',
    });
  }
  return { map, problems };
}

export function readFlashMap(flash: Flash): FlashMap {
  return readFlashMapCopies(flash).map;
}

/** Check one copy: CRC, geometry, every region named once, block-aligned inside the chip, disjoint, as planned. */
function parseFlashMap(bytes: Buffer, g: FlashGeometry): FlashMap {
  const h = flashMapHeaderLayout.parse(bytes);
  if (crc32FieldZeroed(bytes, flashMapHeaderLayout.offsetOf('crc32')) !== h.crc32) throw new Error('CRC-32 mismatch');
  if (h.blockSize !== g.blockSize || h.flashSize !== g.size) {
    throw new Error(`describes a ${h.flashSize}-byte chip with ${h.blockSize}-byte blocks, the machine has ${g.size}/${g.blockSize}`);
  }
  const found = new Map<string, Region>();
  for (let i = 0; i < h.regionCount; i++) {
    const e = flashMapEntryLayout.parse(bytes, flashMapHeaderLayout.size + i * flashMapEntryLayout.size);
    if (!(REGION_NAMES as readonly string[]).includes(e.name) || found.has(e.name)) throw new Error(`region ${JSON.stringify(e.name)} is unknown or named twice`);
    if (e.offset % g.blockSize || e.size % g.blockSize || e.size === 0 || e.offset + e.size > g.size) {
      throw new Error(`region ${e.name} (${e.offset}+${e.size}) is not block-aligned inside the chip`);
    }
    found.set(e.name, { name: e.name as RegionName, offset: e.offset, size: e.size });
  }
  const map = Object.fromEntries(REGION_NAMES.map((n) => [n, found.get(n)!])) as unknown as FlashMap;
  // The map a machine of this geometry has: a map that names other regions was not written by fwup.
  const planned = planFlashMap(g);
  for (const n of REGION_NAMES) {
    if (map[n].offset !== planned[n].offset || map[n].size !== planned[n].size) throw new Error(`region ${n} is not where this layout puts it`);
  }
  return map;
}
