import { CAB_ATTRIBS, CAB_NAME_MAX } from './cab-layouts.js';
import { cabInvalid, cabTruncated, hex } from './cab-common.js';

/**
 * File names in a cabinet: '\'-separated paths, UTF-8 when the file's attribs say so, else in the
 * maker's code page (read as latin-1, which maps every byte). fwup hands names out with '/' and
 * refuses any name that could land outside the directory it is extracted to, or on another file.
 */

/** The bytes of a NUL-terminated string at `at`, which must end before `end` and hold at most 255 bytes. */
export function readCString(buf: Buffer, at: number, end: number, what: string): { bytes: Buffer; next: number } {
  const limit = Math.min(end, at + CAB_NAME_MAX + 1);
  const nul = buf.subarray(at, limit).indexOf(0);
  if (nul === -1) {
    if (limit === end) throw cabTruncated(`${what} at offset ${at} has no terminating NUL before the cabinet's end`);
    throw cabInvalid(`${what} at offset ${at} is longer than ${CAB_NAME_MAX} bytes`);
  }
  return { bytes: buf.subarray(at, at + nul), next: at + nul + 1 };
}

/** Decode a stored szName (fatal on bad UTF-8) and apply the path rules; returns the '/'-separated name. */
export function decodeCabName(bytes: Buffer, attribs: number, what: string): string {
  let text: string;
  if (attribs & CAB_ATTRIBS.NameIsUtf8) {
    text = bytes.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(bytes)) throw cabInvalid(`${what}: the name is flagged UTF-8 (attribs ${hex(attribs)}) but is not valid UTF-8`);
  } else {
    text = bytes.toString('latin1');
  }
  return checkCabName(text.replace(/\\/g, '/'), what);
}

/** The path rules, on a '/'-separated name; returns it unchanged. */
export function checkCabName(name: string, what: string): string {
  const bad = (why: string) => cabInvalid(`${what}: name ${JSON.stringify(name)} ${why}`, 'a cabinet entry must be a relative path inside the archive: rebuild the cabinet');
  if (name.length === 0) throw bad('is empty');
  if (name.includes('\0')) throw bad('contains a NUL');
  if (name.startsWith('/')) throw bad('is absolute');
  if (/^[A-Za-z]:/.test(name)) throw bad('starts with a drive letter');
  for (const seg of name.split('/')) {
    if (seg === '..') throw bad("has a '..' segment");
    if (seg === '' || seg === '.') throw bad("has an empty or '.' segment");
  }
  return name;
}

/** Stored form for the writer: '\' separators; UTF-8 (and the attribs bit) unless the name is ASCII. */
export function encodeCabName(name: string, what: string): { name: string; bytes: Buffer; utf8: boolean } {
  const norm = checkCabName(name.replace(/\\/g, '/'), what);
  const utf8 = /[^\x20-\x7e]/.test(norm);
  const bytes = Buffer.from(norm.replace(/\//g, '\\'), utf8 ? 'utf8' : 'latin1');
  if (bytes.length > CAB_NAME_MAX) throw cabInvalid(`${what}: name ${JSON.stringify(name)} is ${bytes.length} bytes, over the ${CAB_NAME_MAX} a cabinet holds`);
  return { name: norm, bytes, utf8 };
}

/**
 * Names seen so far: a repeat is refused, and so is a name that is also another's directory
 * ("a" and "a/b"), since extracting both would replace one with the other or fail half-way.
 */
export class CabNameSet {
  private readonly files = new Set<string>();
  private readonly dirs = new Set<string>();

  add(name: string, what: string): void {
    if (this.files.has(name)) throw cabInvalid(`${what}: name ${JSON.stringify(name)} appears twice`);
    if (this.dirs.has(name)) throw cabInvalid(`${what}: name ${JSON.stringify(name)} is also a directory of another entry`);
    const segs = name.split('/');
    for (let i = 1; i < segs.length; i++) {
      const dir = segs.slice(0, i).join('/');
      if (this.files.has(dir)) throw cabInvalid(`${what}: name ${JSON.stringify(name)} lies under ${JSON.stringify(dir)}, which is a file`);
      this.dirs.add(dir);
    }
    this.files.add(name);
  }
}
