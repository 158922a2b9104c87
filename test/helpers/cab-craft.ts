import { spawnSync } from 'node:child_process';
import { deflateRawSync } from 'node:zlib';
import {
  CAB_FLAGS,
  cfDataLayout,
  cfFileLayout,
  cfFolderLayout,
  cfHeaderLayout,
  cfHeaderReserveLayout,
} from '../../src/image/cab/cab-layouts.js';
import { cabChecksum, cfDataChecksum } from '../../src/image/cab/cab-common.js';
import { deflateMsZipBlock } from '../../src/image/cab/cab-mszip.js';

/**
 * Cabinets built field by field for the rejection tests: every count, offset, size and checksum can
 * be given a value of the test's choosing; whatever is not given is computed as a writer would.
 */

export interface RawBlock {
  data: Buffer;
  cbUncomp?: number;
  /** Default: the correct checksum. */
  csum?: number;
  reserve?: Buffer;
}
export interface RawFolder {
  typeCompress?: number;
  blocks: RawBlock[];
  reserve?: Buffer;
  coffCabStart?: number;
  cCFData?: number;
}
export interface RawFile {
  name: string | Buffer;
  cbFile: number;
  uoffFolderStart?: number;
  iFolder?: number;
  attribs?: number;
}
export interface RawCab {
  flags?: number;
  reserve?: { header: Buffer; perFolder: number; perData: number };
  /** szCabinetPrev/szDiskPrev (with flags 0x0001) and szCabinetNext/szDiskNext (0x0002). */
  prev?: [string, string];
  next?: [string, string];
  folders: RawFolder[];
  files: RawFile[];
  cFolders?: number;
  cFiles?: number;
  coffFiles?: number;
  cbCabinet?: number;
}

const cstr = (s: string | Buffer) => Buffer.concat([typeof s === 'string' ? Buffer.from(s, 'latin1') : s, Buffer.alloc(1)]);

export function craftCabinet(spec: RawCab): Buffer {
  const flags = (spec.flags ?? 0) | (spec.reserve ? CAB_FLAGS.ReservePresent : 0) | (spec.prev ? CAB_FLAGS.PrevCabinet : 0) | (spec.next ? CAB_FLAGS.NextCabinet : 0);
  const pre: Buffer[] = [];
  if (spec.reserve) {
    pre.push(cfHeaderReserveLayout.serialize({ cbCFHeader: spec.reserve.header.length, cbCFFolder: spec.reserve.perFolder, cbCFData: spec.reserve.perData }));
    pre.push(spec.reserve.header);
  }
  for (const pair of [spec.prev, spec.next]) if (pair) pre.push(cstr(pair[0]), cstr(pair[1]));
  const perFolder = spec.reserve?.perFolder ?? 0;
  const preSize = pre.reduce((n, b) => n + b.length, 0);
  const coffFiles = cfHeaderLayout.size + preSize + spec.folders.length * (cfFolderLayout.size + perFolder);
  const fileBytes = Buffer.concat(
    spec.files.map((f) => {
      const entry = cfFileLayout.serialize({
        cbFile: f.cbFile,
        uoffFolderStart: f.uoffFolderStart ?? 0,
        iFolder: f.iFolder ?? 0,
        date: 0x0021,
        time: 0,
        attribs: f.attribs ?? 0x20,
      });
      return Buffer.concat([entry, cstr(f.name)]);
    }),
  );
  let at = (spec.coffFiles ?? coffFiles) + fileBytes.length;
  const folderHeads: Buffer[] = [];
  const blockBytes: Buffer[] = [];
  for (const f of spec.folders) {
    folderHeads.push(
      cfFolderLayout.serialize({ coffCabStart: f.coffCabStart ?? at, cCFData: f.cCFData ?? f.blocks.length, typeCompress: f.typeCompress ?? 0 }),
      f.reserve ?? Buffer.alloc(perFolder),
    );
    for (const b of f.blocks) {
      const head = Buffer.concat([cfDataLayout.serialize({ csum: 0, cbData: b.data.length, cbUncomp: b.cbUncomp ?? b.data.length }), b.reserve ?? Buffer.alloc(spec.reserve?.perData ?? 0)]);
      head.writeUInt32LE(b.csum ?? cfDataChecksum(head.subarray(4), b.data), 0);
      blockBytes.push(head, b.data);
      at += head.length + b.data.length;
    }
  }
  const body = Buffer.concat([...pre, ...folderHeads, fileBytes, ...blockBytes]);
  const size = cfHeaderLayout.size + body.length;
  const header = cfHeaderLayout.serialize({
    signature: 'MSCF', reserved1: 0, cbCabinet: spec.cbCabinet ?? size, reserved2: 0, coffFiles: spec.coffFiles ?? coffFiles, reserved3: 0,
    versionMinor: 3, versionMajor: 1, cFolders: spec.cFolders ?? spec.folders.length, cFiles: spec.cFiles ?? spec.files.length,
    flags, setID: 0, iCabinet: 0,
  });
  return Buffer.concat([header, body]);
}

/** Stored (uncompressed) blocks of at most 32 KiB. */
export function storedBlocks(data: Buffer, size = 0x8000): RawBlock[] {
  const out: RawBlock[] = [];
  for (let at = 0; at < data.length; at += size) out.push({ data: data.subarray(at, at + size) });
  return out;
}

/** MSZIP blocks of at most 32 KiB, each with the previous as its window. */
export function mszipBlocks(data: Buffer): RawBlock[] {
  const out: RawBlock[] = [];
  let prev: Buffer = Buffer.alloc(0);
  for (let at = 0; at < data.length; at += 0x8000) {
    const chunk = data.subarray(at, at + 0x8000);
    out.push({ data: deflateMsZipBlock(chunk, prev), cbUncomp: chunk.length });
    prev = chunk;
  }
  return out;
}

/** A real bomb: 'CK' + a raw deflate stream of `bytes` zeros (about a thousandth of the size). */
export function bombBlock(bytes: number): RawBlock {
  return { data: Buffer.concat([Buffer.from('CK'), deflateRawSync(Buffer.alloc(bytes), { level: 9 })]), cbUncomp: 0x8000 };
}

export const HEADER_AT = (field: Parameters<typeof cfHeaderLayout.offsetOf>[0]) => cfHeaderLayout.offsetOf(field);

/**
 * Recompute every CFDATA checksum in place, following the headers as far as they make sense (no
 * reserve): the fuzz uses it so mutated block data reaches the inflater instead of the checksum.
 */
export function refreshChecksums(buf: Buffer): Buffer {
  if (buf.length < cfHeaderLayout.size) return buf;
  const cFolders = buf.readUInt16LE(HEADER_AT('cFolders'));
  for (let i = 0; i < cFolders; i++) {
    const f = cfHeaderLayout.size + i * cfFolderLayout.size;
    if (f + cfFolderLayout.size > buf.length) return buf;
    let at = buf.readUInt32LE(f);
    for (let k = buf.readUInt16LE(f + 4); k > 0; k--) {
      if (at + cfDataLayout.size > buf.length) return buf;
      const end = at + cfDataLayout.size + buf.readUInt16LE(at + 4);
      if (end > buf.length) return buf;
      buf.writeUInt32LE(cabChecksum(buf.subarray(at + 4, at + 8), cabChecksum(buf.subarray(at + 8, end))), at);
      at = end;
    }
  }
  return buf;
}

/** Run gcab; throws with its stderr when it fails. */
export function gcab(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync('gcab', args, { cwd, encoding: 'utf8', env: { ...process.env, TZ: 'UTC', ...env } });
  if (r.error || r.status !== 0) throw new Error(`gcab ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}`);
  return r.stdout;
}
