import { FwupError } from '../../errors/fwup-error.js';

/** A named range of the chip, as flashrom's -l layout files and --ifd describe them. */
export interface FlashRegion {
  name: string;
  start: number;
  /** Inclusive, as in flashrom's layout syntax. */
  end: number;
}

export function regionSize(r: FlashRegion): number {
  return r.end - r.start + 1;
}

/**
 * A flashrom layout file: one region per line, "START:END NAME" with hexadecimal offsets (0x optional),
 * END inclusive; blank lines are skipped. flashrom 1.3 reads it with fscanf and knows no comments, so
 * neither does fwup: a file flashrom would reject is refused at stage, before anything is written.
 */
export function parseLayoutFile(text: string, path: string): FlashRegion[] {
  const regions: FlashRegion[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const m = /^(?:0x)?([0-9a-f]+):(?:0x)?([0-9a-f]+)\s+(\S+)$/i.exec(line);
    if (!m) {
      throw new FwupError('USAGE', `${path}:${i + 1}: not a layout line: ${JSON.stringify(raw)}`, {
        hint: 'each line is START:END NAME in hexadecimal, e.g. 00800000:00ffffff bios (flashrom layout files have no comments)',
      });
    }
    const r = { name: m[3]!, start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16) };
    if (r.end < r.start) throw new FwupError('USAGE', `${path}:${i + 1}: region ${r.name} ends before it starts`, { hint: 'END is the last byte of the region, inclusive' });
    regions.push(r);
  });
  return regions;
}

/** The region called `name`, inside a chip of `chipSize` bytes. */
export function findRegion(regions: readonly FlashRegion[], name: string, chipSize: number, source: string): FlashRegion {
  const r = regions.find((x) => x.name === name);
  if (!r) {
    throw new FwupError('USAGE', `${source} has no region ${JSON.stringify(name)}`, {
      hint: `regions there: ${regions.map((x) => x.name).join(', ') || 'none'}`,
    });
  }
  if (r.end >= chipSize) {
    throw new FwupError('USAGE', `region ${name} (0x${r.start.toString(16)}-0x${r.end.toString(16)}) ends beyond the ${chipSize}-byte chip`, {
      hint: 'the layout does not belong to this chip',
    });
  }
  return r;
}

/*
 * Intel Flash Descriptor (IFD) regions, decoded as flashrom's ich_descriptors.c does for --ifd, so that
 * fwup checks an image against the same region flashrom will write. The descriptor is the first 4 KiB
 * of the chip; its signature 0x0FF0A55A sits at offset 0x10 (or 0 on very old parts).
 */
const IFD_SIGNATURE = 0x0ff0a55a;
const IFD_REGION_NAMES = ['fd', 'bios', 'me', 'gbe', 'pd', 'reg5', 'bios2', 'reg7', 'ec', 'reg9', 'ie', '10gbe', 'reg12', 'reg13', 'reg14', 'reg15'];
const UPPER_MAP_OFFSET = 4096 - 256 - 4;

export function ifdRegions(chip: Buffer): FlashRegion[] {
  if (chip.length < 4096) throw noDescriptor('the chip is smaller than a descriptor');
  const base = chip.readUInt32LE(0) === IFD_SIGNATURE ? 0 : chip.readUInt32LE(0x10) === IFD_SIGNATURE ? 0x10 : -1;
  if (base < 0) throw noDescriptor('no descriptor signature 0x0FF0A55A at offset 0 or 0x10');
  const flmap0 = chip.readUInt32LE(base + 4);
  const flmap1 = chip.readUInt32LE(base + 8);
  const flmap2 = chip.readUInt32LE(base + 12);
  const frba = (flmap0 >>> 12) & 0xff0;
  const count = regionCount(flmap0, flmap1, flmap2, chip.readUInt32LE(UPPER_MAP_OFFSET));
  if (count < 0) throw noDescriptor('its number-of-regions field is out of range');
  const regions: FlashRegion[] = [];
  for (let i = 0; i < Math.min(count, IFD_REGION_NAMES.length); i++) {
    if (frba + 4 * i + 4 > 4096) throw noDescriptor('the region table runs past the descriptor');
    const flreg = chip.readUInt32LE(frba + 4 * i);
    const start = (flreg << 12) & 0x07fff000;
    const end = ((flreg >>> 4) & 0x07fff000) | 0xfff;
    // flashrom skips a region whose limit is not above its base: that is how "unused" is encoded.
    if (end <= start) continue;
    regions.push({ name: IFD_REGION_NAMES[i]!, start, end });
  }
  return regions;
}

/**
 * How many FLREG entries the descriptor has. Newer chipsets dropped the NR field and have a fixed
 * count; flashrom tells them apart by the fields below (guess_ich_chipset_from_content): ICCRIBA = 0 is
 * ICH8 to Ibex Peak (NR + 1), except Apollo/Gemini Lake (6) and Emmitsburg (16); with ICCRIBA set and no
 * MDTBA it is Cougar Point to Lynx Point (NR + 1), Lewisburg (16) or Sunrise Point (10); else 300 series
 * and newer (16).
 */
function regionCount(flmap0: number, flmap1: number, flmap2: number, flumap1: number): number {
  const nr = (flmap0 >>> 24) & 0x7;
  const nm = (flmap1 >>> 8) & 0x7;
  const isl = (flmap1 >>> 24) & 0xff;
  const fmsba = (flmap2 & 0xff) << 4;
  const iccriba = (flmap2 >>> 16) & 0xff;
  const mdtba = (flumap1 >>> 24) & 0xff;
  const old = nr <= 4 ? nr + 1 : -1;
  if (iccriba === 0) {
    if (isl <= 16) return old;
    if (flmap2 === 0) return 6;
    if (isl === 0x50) return 16;
    return old;
  }
  if (mdtba === 0) {
    if (iccriba < 0x31 && fmsba < 0x30) return nr <= 6 ? nr + 1 : -1;
    if (nm === 6) return 16;
    return 10;
  }
  return 16;
}

function noDescriptor(why: string): FwupError {
  return new FwupError('TARGET_UNSUPPORTED', `the chip has no usable Intel Flash Descriptor for --ifd: ${why}`, {
    hint: 'describe the regions in a layout file and pass --layout FILE instead',
  });
}
