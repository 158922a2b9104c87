import {
  CAB_ATTRIBS,
  CAB_BLOCK_MAX,
  CAB_COMPRESSION,
  CAB_DATA_MAX,
  cfDataLayout,
  cfFileLayout,
  cfFolderLayout,
  cfHeaderLayout,
} from './cab-layouts.js';
import { cabTooLarge, cabInvalid, cfDataChecksum, toDosDateTime } from './cab-common.js';
import { CabNameSet, encodeCabName } from './cab-names.js';
import { deflateMsZipBlock } from './cab-mszip.js';

/**
 * Write a single-folder cabinet, as gcab -c (-z) does: the files' bytes back to back in one folder,
 * cut into 32 KiB CFDATA blocks, each with its checksum; with `compress`, each block MSZIP, its
 * window the previous block (as cabinet.dll writes it; gcab compresses each block on its own, which
 * every reader also takes). Output depends only on the input (and zlib): no clock, no set id.
 */

export interface CabInputFile {
  /** Relative path, '/' (or '\') separated. */
  name: string;
  data: Uint8Array;
  /** Stored as MS-DOS date/time of its UTC fields; default `options.date`, else 1980-01-01T00:00:00Z. */
  date?: Date;
}

export interface CabWriteOptions {
  compress: boolean;
  date?: Date;
}

/** The MS-DOS epoch: the date of every file not given one, so output is reproducible by default. */
export const CAB_DEFAULT_DATE = new Date(Date.UTC(1980, 0, 1, 0, 0, 0));

const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

export function writeCabinet(files: readonly CabInputFile[], options: CabWriteOptions): Buffer {
  if (files.length > U16_MAX) throw cabTooLarge(`${files.length} files: a cabinet holds at most ${U16_MAX}`);
  const names = new CabNameSet();
  const entries: Buffer[] = [];
  let offset = 0;
  files.forEach((f, i) => {
    const what = `file ${i}`;
    const { name, bytes, utf8 } = encodeCabName(f.name, what);
    names.add(name, what);
    if (offset + f.data.length > U32_MAX) throw cabTooLarge(`the files add up to more than ${U32_MAX} bytes, more than a folder holds`);
    const { date, time } = toDosDateTime(f.date ?? options.date ?? CAB_DEFAULT_DATE);
    const entry = cfFileLayout.serialize({
      cbFile: f.data.length,
      uoffFolderStart: offset,
      iFolder: 0,
      date,
      time,
      attribs: CAB_ATTRIBS.Archive | (utf8 ? CAB_ATTRIBS.NameIsUtf8 : 0),
    });
    entries.push(entry, bytes, Buffer.alloc(1));
    offset += f.data.length;
  });

  const stream = Buffer.concat(files.map((f) => f.data));
  const blocks = cutBlocks(stream, options.compress);
  if (blocks.length > U16_MAX) throw cabTooLarge(`${blocks.length} CFDATA blocks: a folder holds at most ${U16_MAX}`);

  const cFolders = files.length > 0 ? 1 : 0;
  const coffFiles = cfHeaderLayout.size + cFolders * cfFolderLayout.size;
  const coffCabStart = coffFiles + entries.reduce((n, b) => n + b.length, 0);
  const cbCabinet = coffCabStart + blocks.reduce((n, b) => n + b.length, 0);
  if (cbCabinet > U32_MAX) throw cabTooLarge(`the cabinet would be ${cbCabinet} bytes, over the 4 GiB its header can say`);

  const header = cfHeaderLayout.serialize({
    signature: 'MSCF',
    reserved1: 0,
    cbCabinet,
    reserved2: 0,
    coffFiles,
    reserved3: 0,
    versionMinor: 3,
    versionMajor: 1,
    cFolders,
    cFiles: files.length,
    flags: 0,
    setID: 0,
    iCabinet: 0,
  });
  const folder = cFolders
    ? [cfFolderLayout.serialize({ coffCabStart, cCFData: blocks.length, typeCompress: options.compress ? CAB_COMPRESSION.MsZip : CAB_COMPRESSION.None })]
    : [];
  return Buffer.concat([header, ...folder, ...entries, ...blocks], cbCabinet);
}

/** The folder's data as CFDATA blocks (header + data each), 32 KiB of input per block. */
function cutBlocks(stream: Buffer, compress: boolean): Buffer[] {
  const out: Buffer[] = [];
  let previous: Buffer = Buffer.alloc(0);
  for (let at = 0; at < stream.length; at += CAB_BLOCK_MAX) {
    const chunk = stream.subarray(at, Math.min(stream.length, at + CAB_BLOCK_MAX));
    const data = compress ? deflateMsZipBlock(chunk, previous) : chunk;
    if (data.length > CAB_DATA_MAX) throw cabInvalid(`block ${out.length} compressed to ${data.length} bytes, over the ${CAB_DATA_MAX} a reader takes`);
    const head = cfDataLayout.serialize({ csum: 0, cbData: data.length, cbUncomp: chunk.length });
    head.writeUInt32LE(cfDataChecksum(head.subarray(cfDataLayout.offsetOf('cbData')), data), cfDataLayout.offsetOf('csum'));
    out.push(Buffer.concat([head, data]));
    previous = chunk;
  }
  return out;
}
