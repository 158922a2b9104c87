import { deflateRawSync } from 'node:zlib';
import { writeCabinet } from '../../src/image/cab/cab-write.js';
import type { CabLimits } from '../../src/image/cab/cab-read.js';
import { cfFolderLayout, cfHeaderLayout } from '../../src/image/cab/cab-layouts.js';
import type { ErrorCode } from '../../src/errors/codes.js';
import { prngBytes } from './cli.js';
import { HEADER_AT, bombBlock, craftCabinet, mszipBlocks, storedBlocks, type RawFile } from './cab-craft.js';

/**
 * Every way readCabinet refuses a cabinet, one entry each: how the cabinet is damaged, and the code
 * and message rule the refusal must carry. test/cab-format.test.ts runs them.
 */
export interface Rejection {
  what: string;
  cab: () => Buffer;
  code: ErrorCode;
  message: RegExp;
  limits?: Partial<CabLimits>;
}

const DATA = prngBytes(11, 40000);
const written = (compress = false) =>
  writeCabinet([{ name: 'a.txt', data: Buffer.from('hello\n') }, { name: 'b.bin', data: DATA }], { compress });
const FOLDER0 = cfHeaderLayout.size;
const FILES = FOLDER0 + cfFolderLayout.size;

function patch(b: Buffer, edit: (b: Buffer) => void): Buffer {
  const c = Buffer.from(b);
  edit(c);
  return c;
}
const u16 = (at: number, v: number) => (b: Buffer) => b.writeUInt16LE(v, at);
const u32 = (at: number, v: number) => (b: Buffer) => b.writeUInt32LE(v, at);
const firstBlock = (b: Buffer) => b.readUInt32LE(FOLDER0);
/** Cut to `n` bytes and make cbCabinet agree, so the reader gets past the size check. */
const cutAt = (b: Buffer, n: number) => patch(b.subarray(0, n), u32(HEADER_AT('cbCabinet'), n));
const RESERVED = () => craftCabinet({ reserve: { header: Buffer.alloc(0), perFolder: 0, perData: 0 }, folders: [], files: [] });
const RESERVE_AT = cfHeaderLayout.size;

/** One stored folder holding `data`, and the given files (default: one file of all of it). */
const stored = (data: Buffer, files: RawFile[] = [{ name: 'f', cbFile: data.length }], typeCompress = 0) =>
  craftCabinet({ folders: [{ typeCompress, blocks: storedBlocks(data) }], files });
const named = (name: string | Buffer, attribs?: number) => stored(Buffer.from('x'), [{ name, cbFile: 1, ...(attribs === undefined ? {} : { attribs }) }]);
const files = (...names: string[]) => stored(Buffer.from('xyz'), names.map((name) => ({ name, cbFile: 1 })));

export const REJECTIONS: Rejection[] = [
  // The header.
  { what: "a bad signature ('MSCX')", cab: () => patch(written(), (b) => b.write('MSCX', 0, 'latin1')), code: 'IMAGE_BAD_FIELD', message: /CFHEADER\.signature is "MSCX", expected "MSCF"/ },
  { what: 'a ZIP file', cab: () => Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(60)]), code: 'IMAGE_BAD_FIELD', message: /CFHEADER\.signature/ },
  { what: 'format version 1.4', cab: () => patch(written(), (b) => b.writeUInt8(4, cfHeaderLayout.offsetOf('versionMinor'))), code: 'IMAGE_BAD_FIELD', message: /CFHEADER\.versionMinor is 0x4, expected 0x3/ },
  { what: 'a non-zero reserved1', cab: () => patch(written(), u32(HEADER_AT('reserved1'), 1)), code: 'IMAGE_BAD_FIELD', message: /CFHEADER\.reserved1 is 0x1, expected 0x0/ },
  { what: 'a file shorter than CFHEADER', cab: () => written().subarray(0, 20), code: 'IMAGE_TRUNCATED', message: /20 bytes, shorter than the 36-byte CFHEADER/ },
  { what: 'a cbCabinet past the end of the file', cab: () => patch(written(), (b) => b.writeUInt32LE(b.length + 1, HEADER_AT('cbCabinet'))), code: 'IMAGE_TRUNCATED', message: /cbCabinet says \d+ bytes, the file has \d+/ },
  { what: 'bytes after cbCabinet', cab: () => Buffer.concat([written(), Buffer.alloc(3)]), code: 'CAB_INVALID', message: /3 bytes follow the end of the cabinet/ },
  { what: 'a cbCabinet smaller than CFHEADER', cab: () => patch(written().subarray(0, 36), u32(HEADER_AT('cbCabinet'), 20)), code: 'CAB_INVALID', message: /cbCabinet \(20\) is smaller than the 36-byte CFHEADER/ },
  { what: 'a cabinet over maxCabinetBytes', cab: () => written(), limits: { maxCabinetBytes: 1000 }, code: 'IMAGE_TOO_LARGE', message: /over the limit of 1000/ },
  { what: 'unknown header flags', cab: () => patch(written(), u16(HEADER_AT('flags'), 0x0008)), code: 'CAB_INVALID', message: /CFHEADER\.flags 0x0008 has unknown bits/ },
  { what: 'a cabinet continued from a previous one (flag 0x0001)', cab: () => craftCabinet({ prev: ['disk1.cab', 'Disk 1'], folders: [], files: [] }), code: 'CAB_INVALID', message: /multi-cabinet set \(flags 0x0001 prev cabinet\): it continues "disk1\.cab" \(disk "Disk 1"\)/ },
  { what: 'a cabinet continued in a next one (flag 0x0002)', cab: () => craftCabinet({ next: ['disk3.cab', 'Disk 3'], folders: [], files: [] }), code: 'CAB_INVALID', message: /multi-cabinet set \(flags 0x0002 next cabinet\): it continues in "disk3\.cab"/ },
  { what: 'a multi-cabinet flag without the names it promises', cab: () => craftCabinet({ flags: 0x0001, folders: [], files: [] }), code: 'CAB_INVALID', message: /multi-cabinet set \(flags 0x0001 prev cabinet\)$/ },
  { what: 'a header reserve running past the end', cab: () => patch(RESERVED(), u16(RESERVE_AT, 1000)), code: 'IMAGE_TRUNCATED', message: /the 1000-byte header reserve at offset 40 runs past the cabinet's end/ },
  { what: 'a header reserve over 60,000 bytes', cab: () => patch(RESERVED(), u16(RESERVE_AT, 60001)), code: 'IMAGE_BAD_FIELD', message: /CFHEADER reserve sizes\.cbCFHeader is 60001, above the maximum 60000/ },
  { what: 'a file split across cabinets (iFolder 0xFFFD)', cab: () => stored(Buffer.from('x'), [{ name: 'f', cbFile: 1, iFolder: 0xfffd }]), code: 'CAB_INVALID', message: /iFolder 0xFFFD marks a file split across the cabinets of a set/ },

  // Counts and limits.
  { what: 'more files than maxFiles (1025 > 1024)', cab: () => patch(written(), u16(HEADER_AT('cFiles'), 1025)), code: 'IMAGE_TOO_LARGE', message: /cFiles is 1025, over the limit of 1024/ },
  { what: 'more files than a lowered maxFiles', cab: () => files('a', 'b', 'c'), limits: { maxFiles: 2 }, code: 'IMAGE_TOO_LARGE', message: /cFiles is 3, over the limit of 2/ },
  { what: 'more folders than maxFolders', cab: () => patch(written(), u16(HEADER_AT('cFolders'), 65)), code: 'IMAGE_TOO_LARGE', message: /cFolders is 65, over the limit of 64/ },
  { what: 'more blocks than maxBlocks', cab: () => written(), limits: { maxBlocks: 1 }, code: 'IMAGE_TOO_LARGE', message: /more than 1 CFDATA blocks/ },
  { what: 'files adding up past maxTotalBytes', cab: () => written(), limits: { maxTotalBytes: 30000 }, code: 'IMAGE_TOO_LARGE', message: /files add up to more than 30000 bytes/ },
  { what: 'folders uncompressing past maxTotalBytes', cab: () => stored(DATA, [{ name: 'f', cbFile: 1 }]), limits: { maxTotalBytes: 30000 }, code: 'IMAGE_TOO_LARGE', message: /folders uncompress to more than 30000 bytes/ },

  // Offsets and counts that point outside the file, or into the wrong structure.
  { what: 'a folder count pointing past the end of the file', cab: () => patch(written(), u16(HEADER_AT('cFolders'), 0xffff)), limits: { maxFolders: 0xffff }, code: 'IMAGE_TRUNCATED', message: /the 65535 CFFOLDER entries \(524280 bytes at offset 36\) run past the cabinet's end/ },
  { what: 'a folder count reaching into the file entries', cab: () => patch(written(), u16(HEADER_AT('cFolders'), 2)), code: 'CAB_INVALID', message: /coffFiles \(44\) points inside the header and CFFOLDER entries, which end at 52/ },
  { what: 'coffFiles past the end', cab: () => patch(written(), (b) => b.writeUInt32LE(b.length + 5, HEADER_AT('coffFiles'))), code: 'IMAGE_TRUNCATED', message: /coffFiles \(\d+\) is past the cabinet's end/ },
  { what: 'a folder offset past the end', cab: () => patch(written(), (b) => b.writeUInt32LE(b.length + 100, FOLDER0)), code: 'IMAGE_TRUNCATED', message: /CFFOLDER\[0\]\.coffCabStart \(\d+\) is past the cabinet's end/ },
  { what: 'a folder offset inside the file entries', cab: () => patch(written(), u32(FOLDER0, FILES + 4)), code: 'CAB_INVALID', message: /CFFOLDER\[0\]\.coffCabStart \(48\) points inside the header and file entries/ },
  { what: 'a block count past the last block', cab: () => patch(written(), (b) => b.writeUInt16LE(b.readUInt16LE(FOLDER0 + 4) + 1, FOLDER0 + 4)), code: 'IMAGE_TRUNCATED', message: /CFDATA block 2 of folder 0 header at offset \d+ runs past the cabinet's end/ },
  { what: 'a cbData past the end', cab: () => patch(written(), (b) => b.writeUInt16LE(0x8000, firstBlock(b) + 8 + 0x8000 + 4)), code: 'IMAGE_TRUNCATED', message: /CFDATA block 1 of folder 0 \(32768 bytes at offset \d+\) runs past the cabinet's end/ },
  { what: 'two folders sharing their blocks', cab: () => patch(craftCabinet({ folders: [{ blocks: storedBlocks(Buffer.from('abc')) }, { blocks: [], cCFData: 1 }], files: [{ name: 'f', cbFile: 3 }] }), (b) => b.writeUInt32LE(b.readUInt32LE(FOLDER0), FILES)), code: 'CAB_INVALID', message: /the data of folders 0 and 1 overlap \(bytes \d+\.\.\d+\)/ },
  { what: 'a file reaching past its folder', cab: () => stored(Buffer.from('abc'), [{ name: 'f', cbFile: 3, uoffFolderStart: 1 }]), code: 'CAB_INVALID', message: /CFFILE\[0\] "f" spans bytes 1\.\.4 of folder 0, which holds 3/ },
  { what: 'a file in a folder that does not exist', cab: () => stored(Buffer.from('abc'), [{ name: 'f', cbFile: 1, iFolder: 1 }]), code: 'CAB_INVALID', message: /CFFILE\[0\]\.iFolder is 1, but the cabinet has 1 folder/ },

  // Blocks.
  { what: 'a CFDATA checksum lie', cab: () => patch(written(true), (b) => b.writeUInt32LE(b.readUInt32LE(firstBlock(b)) ^ 0x10, firstBlock(b))), code: 'CAB_INVALID', message: /CFDATA block 0 of folder 0: checksum mismatch \(stored 0x[0-9A-F]{8}, computed 0x[0-9A-F]{8}\)/ },
  { what: 'a flipped data byte under a valid-looking checksum', cab: () => patch(written(), (b) => b.writeUInt8(b[firstBlock(b) + 20]! ^ 1, firstBlock(b) + 20)), code: 'CAB_INVALID', message: /checksum mismatch/ },
  { what: 'an uncompressed block whose cbUncomp lies', cab: () => craftCabinet({ folders: [{ blocks: [{ data: Buffer.from('abcd'), cbUncomp: 5 }] }], files: [{ name: 'f', cbFile: 4 }] }), code: 'CAB_INVALID', message: /uncompressed, yet cbData \(4\) != cbUncomp \(5\)/ },
  { what: 'an MSZIP block whose cbUncomp lies', cab: () => craftCabinet({ folders: [{ typeCompress: 1, blocks: mszipBlocks(DATA.subarray(0, 1000)).map((b) => ({ ...b, cbUncomp: 1500 })) }], files: [{ name: 'f', cbFile: 1000 }] }), code: 'CAB_INVALID', message: /CFDATA block 0 of folder 0 inflates to 1000 bytes, but its cbUncomp says 1500/ },
  { what: 'a zip bomb (16 MiB of zeros in one block declared 32 KiB)', cab: () => craftCabinet({ folders: [{ typeCompress: 1, blocks: [bombBlock(16 << 20)] }], files: [{ name: 'bomb', cbFile: 0x8000 }] }), code: 'CAB_INVALID', message: /CFDATA block 0 of folder 0 inflates past its cbUncomp of 32768 bytes/ },
  { what: 'a block that inflates one byte past its cbUncomp', cab: () => craftCabinet({ folders: [{ typeCompress: 1, blocks: mszipBlocks(DATA.subarray(0, 1001)).map((b) => ({ ...b, cbUncomp: 1000 })) }], files: [{ name: 'f', cbFile: 1000 }] }), code: 'CAB_INVALID', message: /inflates past its cbUncomp of 1000 bytes/ },
  { what: 'a cbUncomp over 32 KiB', cab: () => patch(craftCabinet({ folders: [{ typeCompress: 1, blocks: [bombBlock(0x8001)] }], files: [{ name: 'f', cbFile: 1 }] }), (b) => b.writeUInt16LE(0x8001, firstBlock(b) + 6)), code: 'IMAGE_BAD_FIELD', message: /CFDATA\.cbUncomp is 32769, above the maximum 32768/ },
  { what: 'a block with cbUncomp 0', cab: () => patch(written(), (b) => b.writeUInt16LE(0, firstBlock(b) + 6)), code: 'IMAGE_BAD_FIELD', message: /CFDATA\.cbUncomp is 0, below the minimum 1/ },
  { what: 'a block with cbData over 32 KiB + 6 KiB', cab: () => patch(written(), (b) => b.writeUInt16LE(0x9801, firstBlock(b) + 4)), code: 'IMAGE_BAD_FIELD', message: /CFDATA\.cbData is 38913, above the maximum 38912/ },
  { what: 'an uncompressed folder with parameter bits', cab: () => stored(Buffer.from('x'), undefined, 0x0010), code: 'CAB_INVALID', message: /typeCompress 0x0010: no compression takes no parameters/ },
  { what: "an MSZIP block without 'CK'", cab: () => stored(Buffer.from('abcdef'), undefined, 1), code: 'CAB_INVALID', message: /does not start with the MSZIP signature 'CK'/ },
  { what: 'an MSZIP block that is not deflate', cab: () => craftCabinet({ folders: [{ typeCompress: 1, blocks: [{ data: Buffer.from('CK\xff\xff\xff', 'latin1'), cbUncomp: 10 }] }], files: [{ name: 'f', cbFile: 10 }] }), code: 'CAB_INVALID', message: /is not a valid deflate stream \(invalid block type\)/ },
  { what: 'an MSZIP block cut inside its deflate stream', cab: () => craftCabinet({ folders: [{ typeCompress: 1, blocks: [{ data: Buffer.concat([Buffer.from('CK'), deflateRawSync(DATA.subarray(0, 500)).subarray(0, 100)]), cbUncomp: 500 }] }], files: [{ name: 'f', cbFile: 500 }] }), code: 'CAB_INVALID', message: /not a valid deflate stream \(unexpected end of file\)/ },

  // Compression types.
  { what: 'LZX compression (type bits 0x1503)', cab: () => stored(Buffer.from('x'), undefined, 0x1503), code: 'CAB_INVALID', message: /typeCompress 0x1503: LZX compression \(window 2\^21\) is not supported/ },
  { what: 'Quantum compression (type bits 0x1472)', cab: () => stored(Buffer.from('x'), undefined, 0x1472), code: 'CAB_INVALID', message: /typeCompress 0x1472: Quantum compression \(level 7, window 2\^20\) is not supported/ },
  { what: 'an unknown compression type', cab: () => stored(Buffer.from('x'), undefined, 5), code: 'CAB_INVALID', message: /unknown compression type 5/ },
  { what: 'MSZIP with parameter bits', cab: () => stored(Buffer.from('x'), undefined, 0x0101), code: 'CAB_INVALID', message: /MSZIP takes no parameters/ },

  // Names.
  { what: "a '../' name", cab: () => named('../evil'), code: 'CAB_INVALID', message: /name "\.\.\/evil" has a '\.\.' segment/ },
  { what: "a '..\\' name", cab: () => named('a\\..\\..\\evil'), code: 'CAB_INVALID', message: /has a '\.\.' segment/ },
  { what: 'an absolute name', cab: () => named('/etc/passwd'), code: 'CAB_INVALID', message: /name "\/etc\/passwd" is absolute/ },
  { what: 'a backslash-absolute name', cab: () => named('\\Windows\\evil.dll'), code: 'CAB_INVALID', message: /name "\/Windows\/evil\.dll" is absolute/ },
  { what: 'a drive-letter name', cab: () => named('C:\\evil'), code: 'CAB_INVALID', message: /starts with a drive letter/ },
  { what: 'an empty name', cab: () => named(''), code: 'CAB_INVALID', message: /name "" is empty/ },
  { what: "a name with an empty or '.' segment", cab: () => named('a\\.\\b'), code: 'CAB_INVALID', message: /empty or '\.' segment/ },
  { what: 'a name flagged UTF-8 that is not', cab: () => named(Buffer.from([0x61, 0xc3, 0x28]), 0xa0), code: 'CAB_INVALID', message: /flagged UTF-8 \(attribs 0x00A0\) but is not valid UTF-8/ },
  { what: 'a name over 255 bytes', cab: () => named('n'.repeat(300)), code: 'CAB_INVALID', message: /szName at offset \d+ is longer than 255 bytes/ },
  { what: 'a name with no NUL before the end', cab: () => cutAt(named('abc'), 62), code: 'IMAGE_TRUNCATED', message: /CFFILE\[0\]\.szName at offset 60 has no terminating NUL before the cabinet's end/ },
  { what: 'duplicate names', cab: () => files('dup.bin', 'b', 'dup.bin'), code: 'CAB_INVALID', message: /CFFILE\[2\]: name "dup\.bin" appears twice/ },
  { what: 'duplicate names spelt with / and \\', cab: () => files('d/x', 'd\\x'), code: 'CAB_INVALID', message: /name "d\/x" appears twice/ },
  { what: 'a name under another file', cab: () => files('a', 'a\\b'), code: 'CAB_INVALID', message: /name "a\/b" lies under "a", which is a file/ },
  { what: 'a name that is another entry\'s directory', cab: () => files('a\\b', 'a'), code: 'CAB_INVALID', message: /name "a" is also a directory of another entry/ },
];
