import { defineLayout, type StructOf } from '../../util/layout.js';

/**
 * The binary structures of a Microsoft Cabinet file ([MS-CAB] 2.1-2.4), declared once. The variable
 * parts that follow them (reserve areas, NUL-terminated strings, block data) are read by cab-read.ts
 * with the sizes these structs give. What is read and every rule applied: docs/cabinet-format.md.
 */

/** CFHEADER.flags. */
export const CAB_FLAGS = {
  /** cfhdrPREV_CABINET: this cabinet continues a set; szCabinetPrev and szDiskPrev follow. */
  PrevCabinet: 0x0001,
  /** cfhdrNEXT_CABINET: the set continues in another cabinet; szCabinetNext and szDiskNext follow. */
  NextCabinet: 0x0002,
  /** cfhdrRESERVE_PRESENT: the reserve sizes (CFHEADER_RESERVE) and abReserve follow. */
  ReservePresent: 0x0004,
} as const;
export const CAB_KNOWN_FLAGS = CAB_FLAGS.PrevCabinet | CAB_FLAGS.NextCabinet | CAB_FLAGS.ReservePresent;

/** CFFILE.attribs bits. Only NameIsUtf8 changes how fwup reads a file; the rest are reported. */
export const CAB_ATTRIBS = {
  ReadOnly: 0x01,
  Hidden: 0x02,
  System: 0x04,
  Archive: 0x20,
  Exec: 0x40,
  /** _A_NAME_IS_UTF: szName is UTF-8; without it, szName is in the code page of the maker (read as latin-1). */
  NameIsUtf8: 0x80,
} as const;

/** CFFOLDER.typeCompress: the low nibble is the method, the bits above are its parameters. */
export const CAB_COMPRESSION_MASK = 0x000f;
export const CAB_COMPRESSION = { None: 0, MsZip: 1, Quantum: 2, Lzx: 3 } as const;

/** CFFILE.iFolder values naming a file split across cabinets of a set (never a folder index). */
export const IFOLDER_CONTINUED_FROM_PREV = 0xfffd;
export const IFOLDER_CONTINUED_TO_NEXT = 0xfffe;
export const IFOLDER_CONTINUED_PREV_AND_NEXT = 0xffff;

/** One CFDATA block holds at most 32 KiB of uncompressed data ([MS-CAB] 2.4, [MS-MCI] MSZIP). */
export const CAB_BLOCK_MAX = 0x8000;
/**
 * The largest cbData accepted: 32 KiB plus slack for incompressible data (deflate's stored-block
 * headers and the 'CK' signature add a few bytes; gcab writes 32775 for random data).
 */
export const CAB_DATA_MAX = CAB_BLOCK_MAX + 6144;
/** szName, szCabinet* and szDisk* hold at most 255 bytes before their NUL (CB_MAX_FILENAME 256). */
export const CAB_NAME_MAX = 255;
/** cbCFHeader is at most 60,000 (FCI's CCAB.cbReserveCFHeader range). */
export const CAB_HEADER_RESERVE_MAX = 60000;
/** The two bytes that open every MSZIP block. */
export const MSZIP_SIGNATURE = Buffer.from('CK', 'latin1');

export const cfHeaderLayout = defineLayout('CFHEADER', [
  { name: 'signature', type: 'text', length: 4, equals: 'MSCF', doc: "'MSCF'" },
  { name: 'reserved1', type: 'u32', equals: 0, doc: 'zero' },
  { name: 'cbCabinet', type: 'u32', doc: 'size of the whole cabinet file in bytes' },
  { name: 'reserved2', type: 'u32', equals: 0, doc: 'zero' },
  { name: 'coffFiles', type: 'u32', doc: 'file offset of the first CFFILE entry' },
  { name: 'reserved3', type: 'u32', equals: 0, doc: 'zero' },
  { name: 'versionMinor', type: 'u8', equals: 3, doc: '3 (format version 1.3)' },
  { name: 'versionMajor', type: 'u8', equals: 1, doc: '1' },
  { name: 'cFolders', type: 'u16', doc: 'number of CFFOLDER entries' },
  { name: 'cFiles', type: 'u16', doc: 'number of CFFILE entries' },
  { name: 'flags', type: 'u16', doc: '0x0001 prev cabinet, 0x0002 next cabinet, 0x0004 reserve present' },
  { name: 'setID', type: 'u16', doc: 'shared by the cabinets of a set' },
  { name: 'iCabinet', type: 'u16', doc: 'index of this cabinet in its set' },
] as const);
export type CfHeader = StructOf<typeof cfHeaderLayout.fields>;

/** Follows CFHEADER when flags has ReservePresent; cbCFHeader bytes of abReserve follow it. */
export const cfHeaderReserveLayout = defineLayout('CFHEADER reserve sizes', [
  { name: 'cbCFHeader', type: 'u16', max: CAB_HEADER_RESERVE_MAX, doc: 'bytes of abReserve after these sizes' },
  { name: 'cbCFFolder', type: 'u8', doc: 'bytes of abReserve after each CFFOLDER' },
  { name: 'cbCFData', type: 'u8', doc: 'bytes of abReserve after each CFDATA header' },
] as const);

/** cbCFFolder reserve bytes follow each entry. */
export const cfFolderLayout = defineLayout('CFFOLDER', [
  { name: 'coffCabStart', type: 'u32', doc: 'file offset of the folder\'s first CFDATA block' },
  { name: 'cCFData', type: 'u16', doc: 'number of CFDATA blocks in this folder (in this cabinet)' },
  { name: 'typeCompress', type: 'u16', doc: 'low nibble: 0 none, 1 MSZIP, 2 Quantum, 3 LZX' },
] as const);
export type CfFolder = StructOf<typeof cfFolderLayout.fields>;

/** szName (NUL-terminated) follows each entry. */
export const cfFileLayout = defineLayout('CFFILE', [
  { name: 'cbFile', type: 'u32', doc: 'uncompressed size of the file' },
  { name: 'uoffFolderStart', type: 'u32', doc: 'offset of the file in its folder\'s uncompressed data' },
  { name: 'iFolder', type: 'u16', doc: 'index of its folder (0xFFFD-0xFFFF: split across cabinets)' },
  { name: 'date', type: 'u16', doc: 'MS-DOS date: ((year-1980) << 9) | (month << 5) | day' },
  { name: 'time', type: 'u16', doc: 'MS-DOS time: (hour << 11) | (minute << 5) | (second / 2)' },
  { name: 'attribs', type: 'u16', doc: '0x01 read-only ... 0x80 name is UTF-8' },
] as const);
export type CfFile = StructOf<typeof cfFileLayout.fields>;

/** cbCFData reserve bytes, then cbData bytes of data, follow each header. */
export const cfDataLayout = defineLayout('CFDATA', [
  { name: 'csum', type: 'u32', doc: 'checksum of cbData, cbUncomp, abReserve and ab; 0 = not computed' },
  { name: 'cbData', type: 'u16', min: 1, max: CAB_DATA_MAX, doc: 'bytes of (compressed) data in this block' },
  { name: 'cbUncomp', type: 'u16', min: 1, max: CAB_BLOCK_MAX, doc: 'bytes this block holds once uncompressed' },
] as const);
export type CfData = StructOf<typeof cfDataLayout.fields>;
