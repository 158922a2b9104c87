import { createHash } from 'node:crypto';
import { appendFile, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FwupError } from '../errors/fwup-error.js';

/**
 * Records that hardware targets keep under fwup's state directory (the flashrom request, the uefi
 * pending attempt). Each file is `{ "record": {...}, "sha256": "<hex>" }` where sha256 is the SHA-256 of
 * `JSON.stringify(record)` exactly as written, so a record damaged or edited by hand is refused instead
 * of driving a write to the hardware.
 */
export interface SignedRecord<T> {
  record: T;
  sha256: string;
}

/** A file-system-safe, unique directory name for a target spec or sysroot path. */
export function stateName(text: string): string {
  const safe = text.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 60) || 'root';
  return `${safe}-${createHash('sha256').update(text).digest('hex').slice(0, 8)}`;
}

export function recordDigest(record: unknown): string {
  return createHash('sha256').update(JSON.stringify(record)).digest('hex');
}

export async function readRecord<T>(path: string, what: string): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new FwupError('FILE_IO', `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
  let parsed: Partial<SignedRecord<T>>;
  try {
    parsed = JSON.parse(text) as Partial<SignedRecord<T>>;
  } catch {
    throw corrupt(path, what, 'not JSON');
  }
  if (!parsed || typeof parsed !== 'object' || parsed.record === undefined || typeof parsed.sha256 !== 'string') {
    throw corrupt(path, what, 'missing record or sha256');
  }
  if (recordDigest(parsed.record) !== parsed.sha256) throw corrupt(path, what, 'its SHA-256 does not match its content');
  return parsed.record;
}

function corrupt(path: string, what: string, why: string): FwupError {
  return new FwupError('TARGET_CORRUPT', `${what} ${path} is damaged: ${why}`, {
    hint: 'nothing was written to the hardware; remove the file (fwup unstage) and stage again',
  });
}

/** Write a record atomically (temporary file, fsync, rename). */
export async function writeRecord<T>(path: string, record: T): Promise<void> {
  const body: SignedRecord<T> = { record, sha256: recordDigest(record) };
  await writeFileDurably(path, Buffer.from(`${JSON.stringify(body, null, 2)}\n`));
}

export async function writeFileDurably(path: string, data: Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
}

export async function removeIfPresent(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** history.jsonl: one JSON object per line, appended; a torn last line is skipped when read. */
export async function appendHistory(path: string, entry: object): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await appendFile(path, `${JSON.stringify(entry)}\n`);
}

export async function readHistory<T>(path: string): Promise<T[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // a line cut by a crash mid-append: the entries before it are intact
    }
  }
  return out;
}
