import type { ByteSource } from '../byte-source.js';
import type { FwupError } from '../../errors/fwup-error.js';
import {
  CAB_COMPRESSION,
  CAB_COMPRESSION_MASK,
  CAB_FLAGS,
  CAB_KNOWN_FLAGS,
  IFOLDER_CONTINUED_FROM_PREV,
  cfDataLayout,
  cfFileLayout,
  cfFolderLayout,
  cfHeaderLayout,
  cfHeaderReserveLayout,
  type CfFile,
} from './cab-layouts.js';
import { cabChecksum, cabInvalid, cabTooLarge, cabTruncated, fromDosDateTime, hex } from './cab-common.js';
import { CabNameSet, decodeCabName, readCString } from './cab-names.js';
import { inflateMsZipBlock } from './cab-mszip.js';

/**
 * Read a single Microsoft Cabinet ([MS-CAB]) whole from a ByteSource: every structure is bounded
 * before it is read, every count and size against the limits before anything is allocated for it,
 * every CFDATA checksum verified, every block inflated to exactly its declared size. Uncompressed and
 * MSZIP folders only. The rules, in order: docs/cabinet-format.md.
 */

export interface CabLimits {
  /** The cabinet file itself. */
  maxCabinetBytes: number;
  maxFiles: number;
  maxFolders: number;
  /** CFDATA blocks, all folders together. */
  maxBlocks: number;
  /** Uncompressed bytes: all folders together, and all files together (each checked). */
  maxTotalBytes: number;
}

const MiB = 1024 * 1024;
export const DEFAULT_CAB_LIMITS: Readonly<CabLimits> = Object.freeze({
  // 64 MiB of content plus the 8-20 bytes each 32 KiB block adds, and the headers.
  maxCabinetBytes: 65 * MiB,
  maxFiles: 1024,
  maxFolders: 64,
  maxBlocks: 8192,
  maxTotalBytes: 64 * MiB,
});

export type CabCompression = 'none' | 'mszip';

export interface CabFolderEntry {
  compression: CabCompression;
  typeCompress: number;
  /** Number of CFDATA blocks. */
  blocks: number;
  /** File offset of the first CFDATA block (coffCabStart). */
  dataOffset: number;
  /** Bytes of block data as stored (sum of cbData) and once uncompressed (sum of cbUncomp). */
  compressedSize: number;
  uncompressedSize: number;
  /** The folder's abReserve (empty without a reserve). */
  reserve: Buffer;
}

export interface CabFileEntry {
  /** Relative path, '/'-separated (stored with '\'). */
  name: string;
  size: number;
  /** Index into `folders`. */
  folder: number;
  /** Offset of the file in its folder's uncompressed data (uoffFolderStart). */
  offset: number;
  /** The raw MS-DOS date and time, and both as "YYYY-MM-DDTHH:MM:SS" (no zone), or null if impossible. */
  date: number;
  time: number;
  modified: string | null;
  attribs: number;
  /** The file's bytes: a view into its folder's uncompressed data. */
  data: Buffer;
}

export interface Cabinet {
  /** cbCabinet (= the size of the source). */
  size: number;
  versionMajor: number;
  versionMinor: number;
  flags: number;
  setId: number;
  cabinetIndex: number;
  /** Present when flags has 0x0004: the header's abReserve and the per-folder and per-block sizes. */
  reserve: { header: Buffer; perFolder: number; perData: number } | null;
  folders: CabFolderEntry[];
  files: CabFileEntry[];
}

interface BlockRef {
  at: number;
  dataAt: number;
  csum: number;
  cbData: number;
  cbUncomp: number;
}

interface FolderScan {
  entry: CabFolderEntry;
  blocks: BlockRef[];
  end: number;
}

const HEADER_SIZE = cfHeaderLayout.size;
const MULTI_HINT = 'fwup reads a single cabinet, not a set spanning several: rebuild it as one cabinet (gcab -c makes one)';

export function readCabinet(src: ByteSource, limits: Partial<CabLimits> = {}): Cabinet {
  const lim: CabLimits = { ...DEFAULT_CAB_LIMITS, ...limits };
  if (src.size < HEADER_SIZE) throw cabTruncated(`${src.name} is ${src.size} bytes, shorter than the ${HEADER_SIZE}-byte CFHEADER`);
  const h = cfHeaderLayout.parse(src.read(0, HEADER_SIZE, Buffer.alloc(HEADER_SIZE)));
  if (h.cbCabinet > lim.maxCabinetBytes || src.size > lim.maxCabinetBytes) {
    throw cabTooLarge(`cbCabinet is ${h.cbCabinet} bytes and the file ${src.size}, over the limit of ${lim.maxCabinetBytes}`);
  }
  if (h.cbCabinet > src.size) throw cabTruncated(`cbCabinet says ${h.cbCabinet} bytes, the file has ${src.size}`);
  if (h.cbCabinet < HEADER_SIZE) throw cabInvalid(`cbCabinet (${h.cbCabinet}) is smaller than the ${HEADER_SIZE}-byte CFHEADER`);
  if (h.cbCabinet < src.size) throw cabInvalid(`${src.size - h.cbCabinet} bytes follow the end of the cabinet (cbCabinet ${h.cbCabinet}, file ${src.size})`);
  if (h.flags & ~CAB_KNOWN_FLAGS) throw cabInvalid(`CFHEADER.flags ${hex(h.flags)} has unknown bits (known: 0x0001, 0x0002, 0x0004)`);
  if (h.cFolders > lim.maxFolders) throw cabTooLarge(`cFolders is ${h.cFolders}, over the limit of ${lim.maxFolders}`);
  if (h.cFiles > lim.maxFiles) throw cabTooLarge(`cFiles is ${h.cFiles}, over the limit of ${lim.maxFiles}`);

  const size = h.cbCabinet;
  const buf = src.read(0, size, Buffer.allocUnsafe(size));
  let pos = HEADER_SIZE;
  let reserve: Cabinet['reserve'] = null;
  if (h.flags & CAB_FLAGS.ReservePresent) {
    const r = cfHeaderReserveLayout.parse(buf, pos);
    pos += cfHeaderReserveLayout.size;
    if (pos + r.cbCFHeader > size) throw cabTruncated(`the ${r.cbCFHeader}-byte header reserve at offset ${pos} runs past the cabinet's end (${size})`);
    reserve = { header: Buffer.from(buf.subarray(pos, pos + r.cbCFHeader)), perFolder: r.cbCFFolder, perData: r.cbCFData };
    pos += r.cbCFHeader;
  }
  if (h.flags & (CAB_FLAGS.PrevCabinet | CAB_FLAGS.NextCabinet)) throw multiCabinet(buf, pos, h.flags);
  const perFolder = reserve?.perFolder ?? 0;
  const perData = reserve?.perData ?? 0;

  const folderBytes = h.cFolders * (cfFolderLayout.size + perFolder);
  if (pos + folderBytes > size) {
    throw cabTruncated(`the ${h.cFolders} CFFOLDER entries (${folderBytes} bytes at offset ${pos}) run past the cabinet's end (${size})`);
  }
  const folders: FolderScan[] = [];
  let totalBlocks = 0;
  for (let i = 0; i < h.cFolders; i++) {
    const f = cfFolderLayout.parse(buf, pos);
    pos += cfFolderLayout.size;
    const compression = compressionOf(f.typeCompress, i);
    totalBlocks += f.cCFData;
    if (totalBlocks > lim.maxBlocks) throw cabTooLarge(`the folders hold more than ${lim.maxBlocks} CFDATA blocks (the limit)`);
    const entry: CabFolderEntry = {
      compression,
      typeCompress: f.typeCompress,
      blocks: f.cCFData,
      dataOffset: f.coffCabStart,
      compressedSize: 0,
      uncompressedSize: 0,
      reserve: Buffer.from(buf.subarray(pos, pos + perFolder)),
    };
    folders.push({ entry, blocks: [], end: f.coffCabStart });
    pos += perFolder;
  }
  if (h.coffFiles < pos) throw cabInvalid(`coffFiles (${h.coffFiles}) points inside the header and CFFOLDER entries, which end at ${pos}`);
  if (h.coffFiles > size) throw cabTruncated(`coffFiles (${h.coffFiles}) is past the cabinet's end (${size})`);

  const names = new CabNameSet();
  const raw: Array<{ name: string; f: CfFile }> = [];
  let totalFileBytes = 0;
  pos = h.coffFiles;
  for (let i = 0; i < h.cFiles; i++) {
    const f = cfFileLayout.parse(buf, pos);
    const s = readCString(buf, pos + cfFileLayout.size, size, `CFFILE[${i}].szName`);
    pos = s.next;
    const what = `CFFILE[${i}]`;
    if (f.iFolder >= IFOLDER_CONTINUED_FROM_PREV) {
      throw cabInvalid(`${what}.iFolder ${hex(f.iFolder)} marks a file split across the cabinets of a set`, MULTI_HINT);
    }
    if (f.iFolder >= h.cFolders) throw cabInvalid(`${what}.iFolder is ${f.iFolder}, but the cabinet has ${h.cFolders} folder(s)`);
    const name = decodeCabName(s.bytes, f.attribs, what);
    names.add(name, what);
    totalFileBytes += f.cbFile;
    if (totalFileBytes > lim.maxTotalBytes) throw cabTooLarge(`the files add up to more than ${lim.maxTotalBytes} bytes (the limit)`);
    raw.push({ name, f });
  }
  const entriesEnd = pos;

  let totalBytes = 0;
  folders.forEach((scan, i) => {
    totalBytes = scanBlocks(buf, scan, i, entriesEnd, perData, totalBytes, lim.maxTotalBytes);
  });
  checkNoOverlap(folders);

  for (const [i, { name, f }] of raw.entries()) {
    const folder = folders[f.iFolder]!.entry;
    if (f.uoffFolderStart + f.cbFile > folder.uncompressedSize) {
      throw cabInvalid(
        `CFFILE[${i}] ${JSON.stringify(name)} spans bytes ${f.uoffFolderStart}..${f.uoffFolderStart + f.cbFile} of folder ${f.iFolder}, ` +
          `which holds ${folder.uncompressedSize}`,
      );
    }
  }

  const data = folders.map((scan, i) => unpackFolder(buf, scan, i, perData));
  const files: CabFileEntry[] = raw.map(({ name, f }) => ({
    name,
    size: f.cbFile,
    folder: f.iFolder,
    offset: f.uoffFolderStart,
    date: f.date,
    time: f.time,
    modified: fromDosDateTime(f.date, f.time),
    attribs: f.attribs,
    data: data[f.iFolder]!.subarray(f.uoffFolderStart, f.uoffFolderStart + f.cbFile),
  }));
  return {
    size,
    versionMajor: h.versionMajor,
    versionMinor: h.versionMinor,
    flags: h.flags,
    setId: h.setID,
    cabinetIndex: h.iCabinet,
    reserve,
    folders: folders.map((s) => s.entry),
    files,
  };
}

function compressionOf(typeCompress: number, i: number): CabCompression {
  const method = typeCompress & CAB_COMPRESSION_MASK;
  const what = `CFFOLDER[${i}].typeCompress ${hex(typeCompress)}`;
  const hint = 'fwup reads uncompressed and MSZIP cabinets: repack it with gcab -c (or gcab -c -z)';
  if (method === CAB_COMPRESSION.Quantum) {
    throw cabInvalid(`${what}: Quantum compression (level ${(typeCompress >> 4) & 0xf}, window 2^${(typeCompress >> 8) & 0x1f}) is not supported`, hint);
  }
  if (method === CAB_COMPRESSION.Lzx) {
    throw cabInvalid(`${what}: LZX compression (window 2^${(typeCompress >> 8) & 0x1f}) is not supported`, hint);
  }
  if (method !== CAB_COMPRESSION.None && method !== CAB_COMPRESSION.MsZip) throw cabInvalid(`${what}: unknown compression type ${method}`, hint);
  if (typeCompress !== method) throw cabInvalid(`${what}: ${method === 0 ? 'no compression' : 'MSZIP'} takes no parameters, yet bits above the type are set`);
  return method === CAB_COMPRESSION.None ? 'none' : 'mszip';
}

/** Walk a folder's CFDATA headers: bounds, the per-type size rules, the running total. */
function scanBlocks(buf: Buffer, scan: FolderScan, i: number, entriesEnd: number, perData: number, total: number, max: number): number {
  const size = buf.length;
  const e = scan.entry;
  if (e.blocks > 0 && e.dataOffset < entriesEnd) {
    throw cabInvalid(`CFFOLDER[${i}].coffCabStart (${e.dataOffset}) points inside the header and file entries, which end at ${entriesEnd}`);
  }
  if (e.blocks > 0 && e.dataOffset > size) throw cabTruncated(`CFFOLDER[${i}].coffCabStart (${e.dataOffset}) is past the cabinet's end (${size})`);
  let at = e.dataOffset;
  for (let k = 0; k < e.blocks; k++) {
    const where = `CFDATA block ${k} of folder ${i}`;
    if (at + cfDataLayout.size > size) throw cabTruncated(`${where} header at offset ${at} runs past the cabinet's end (${size})`);
    const d = cfDataLayout.parse(buf, at);
    const dataAt = at + cfDataLayout.size + perData;
    if (dataAt + d.cbData > size) throw cabTruncated(`${where} (${d.cbData} bytes at offset ${dataAt}) runs past the cabinet's end (${size})`);
    if (e.compression === 'none' && d.cbData !== d.cbUncomp) {
      throw cabInvalid(`${where} is uncompressed, yet cbData (${d.cbData}) != cbUncomp (${d.cbUncomp})`);
    }
    total += d.cbUncomp;
    if (total > max) throw cabTooLarge(`the folders uncompress to more than ${max} bytes (the limit)`);
    scan.blocks.push({ at, dataAt, csum: d.csum, cbData: d.cbData, cbUncomp: d.cbUncomp });
    e.compressedSize += d.cbData;
    e.uncompressedSize += d.cbUncomp;
    at = dataAt + d.cbData;
  }
  scan.end = at;
  return total;
}

/** Two folders sharing blocks would be inflated twice over: every folder owns its own bytes. */
function checkNoOverlap(folders: FolderScan[]): void {
  const spans = folders.map((s, i) => ({ i, start: s.entry.dataOffset, end: s.end })).filter((s) => s.end > s.start);
  spans.sort((a, b) => a.start - b.start);
  for (let k = 1; k < spans.length; k++) {
    const a = spans[k - 1]!;
    const b = spans[k]!;
    if (b.start < a.end) throw cabInvalid(`the data of folders ${a.i} and ${b.i} overlap (bytes ${b.start}..${Math.min(a.end, b.end)})`);
  }
}

function unpackFolder(buf: Buffer, scan: FolderScan, i: number, perData: number): Buffer {
  const out = Buffer.alloc(scan.entry.uncompressedSize);
  let pos = 0;
  scan.blocks.forEach((b, k) => {
    const where = `CFDATA block ${k} of folder ${i}`;
    const data = buf.subarray(b.dataAt, b.dataAt + b.cbData);
    checkBlockSum(buf, b, data, perData, where);
    if (scan.entry.compression === 'none') data.copy(out, pos);
    else inflateMsZipBlock(data, out.subarray(0, pos), b.cbUncomp, where).copy(out, pos);
    pos += b.cbUncomp;
  });
  return out;
}

/**
 * csum 0 means "not computed". [MS-CAB] sums cbData through ab, so a CFDATA reserve is included;
 * libmspack and gcab sum only cbData and cbUncomp. With a reserve, either is taken.
 */
function checkBlockSum(buf: Buffer, b: BlockRef, data: Buffer, perData: number, where: string): void {
  if (b.csum === 0) return;
  const dataSum = cabChecksum(data);
  const sizesAt = b.at + 4;
  const withReserve = cabChecksum(buf.subarray(sizesAt, sizesAt + 4 + perData), dataSum);
  if (withReserve === b.csum) return;
  if (perData > 0 && cabChecksum(buf.subarray(sizesAt, sizesAt + 4), dataSum) === b.csum) return;
  throw cabInvalid(`${where}: checksum mismatch (stored ${hex(b.csum, 8)}, computed ${hex(withReserve, 8)})`, 'the cabinet was damaged after it was made: fetch it again');
}

/** The refusal of a cabinet that belongs to a set, naming its neighbours when their names can be read. */
function multiCabinet(buf: Buffer, at: number, flags: number): FwupError {
  const parts: string[] = [];
  try {
    let pos = at;
    const take = (what: string) => {
      const s = readCString(buf, pos, buf.length, what);
      pos = s.next;
      return JSON.stringify(s.bytes.toString('latin1'));
    };
    if (flags & CAB_FLAGS.PrevCabinet) parts.push(`continues ${take('szCabinetPrev')} (disk ${take('szDiskPrev')})`);
    if (flags & CAB_FLAGS.NextCabinet) parts.push(`continues in ${take('szCabinetNext')} (disk ${take('szDiskNext')})`);
  } catch {
    // The names are only for the message; the refusal stands without them.
  }
  const which = [flags & CAB_FLAGS.PrevCabinet ? '0x0001 prev cabinet' : '', flags & CAB_FLAGS.NextCabinet ? '0x0002 next cabinet' : '']
    .filter(Boolean)
    .join(', ');
  return cabInvalid(`the cabinet is part of a multi-cabinet set (flags ${which})${parts.length ? `: it ${parts.join(' and ')}` : ''}`, MULTI_HINT);
}
