import { mkdir, readFile, rm, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { FwupError, fromSystemError } from '../errors/fwup-error.js';
import { sha256Hex } from '../util/digest.js';
import { writeFileAtomic, writeAll } from './files.js';

/**
 * Where one download lives in the cache (docs/network.md). Every name of an entry starts with the
 * key: the SHA-256 of the URL and, when given, the pinned digest, so a pinned and an unpinned download
 * of the same URL never share a file.
 *
 *   <cacheDir>/downloads/<key>-<name>            complete: verified, then renamed into place
 *   <cacheDir>/downloads/<key>-<name>.part       bytes received so far
 *   <cacheDir>/downloads/<key>-<name>.part.json  what the next attempt needs to resume (PartSidecar)
 *   <cacheDir>/downloads/<key>-<name>.lock       held while a fwup process works on the entry
 */
export interface CacheEntry {
  dir: string;
  finalPath: string;
  partPath: string;
  sidecarPath: string;
  lockPath: string;
}

/** The suffixes of every file of an entry that is not a complete download. */
export const INCOMPLETE_SUFFIXES = ['.part', '.part.json', '.lock'] as const;

export function cacheEntry(cacheDir: string, url: URL, pinnedSha256: string | null): CacheEntry {
  const dir = join(cacheDir, 'downloads');
  const key = sha256Hex(Buffer.from(`${url.href}\n${pinnedSha256 ?? ''}`, 'utf8')).slice(0, 32);
  const base = join(dir, `${key}-${readableName(url)}`);
  return { dir, finalPath: base, partPath: `${base}.part`, sidecarPath: `${base}.part.json`, lockPath: `${base}.lock` };
}

/** The last path segment of the URL, reduced to safe characters, so people can tell entries apart. */
function readableName(url: URL): string {
  let last = url.pathname.split('/').filter(Boolean).pop() ?? '';
  try {
    last = decodeURIComponent(last);
  } catch {
    // keep it encoded
  }
  const safe = last.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 64);
  // Never end in one of the incomplete suffixes: the final name must not look unfinished, nor the reverse.
  const name = safe || 'download';
  return INCOMPLETE_SUFFIXES.some((s) => name.endsWith(s)) ? `${name}.img` : name;
}

/** What a `.part` file was downloaded from, so the next attempt can ask for the rest of the same thing. */
export interface PartSidecar {
  version: 1;
  url: string;
  etag: string | null;
  lastModified: string | null;
  /** The length of the whole file, when the server said (Content-Length or Content-Range). */
  length: number | null;
}

export async function readSidecar(path: string): Promise<PartSidecar | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return null;
  }
  try {
    const s = JSON.parse(text) as Partial<PartSidecar>;
    const optString = (v: unknown) => v === null || typeof v === 'string';
    if (
      s.version !== 1 ||
      typeof s.url !== 'string' ||
      !optString(s.etag) ||
      !optString(s.lastModified) ||
      !(s.length === null || (Number.isSafeInteger(s.length) && (s.length as number) >= 0))
    ) {
      return null;
    }
    return s as PartSidecar;
  } catch {
    return null;
  }
}

export async function writeSidecar(path: string, sidecar: PartSidecar): Promise<void> {
  await writeFileAtomic(path, (fh) => writeAll(fh, Buffer.from(`${JSON.stringify(sidecar, null, 2)}\n`, 'utf8')));
}

/** Remove the part file and its sidecar (sidecar first: a part without one is never resumed). */
export async function removePart(entry: CacheEntry): Promise<void> {
  await rm(entry.sidecarPath, { force: true });
  await rm(entry.partPath, { force: true });
}

export async function ensureCacheDir(entry: CacheEntry): Promise<void> {
  try {
    await mkdir(entry.dir, { recursive: true });
  } catch (e) {
    throw fromSystemError(e, entry.dir, 'create the download cache');
  }
}

interface LockOwner {
  pid: number;
  host: string;
}

/**
 * Take the entry's lock file, so two fwup processes never write the same part file. A lock left by a
 * process that no longer runs (on this host) is taken over. Returns the release function.
 */
export async function lockEntry(entry: CacheEntry): Promise<() => Promise<void>> {
  const me: LockOwner = { pid: process.pid, host: hostname() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      // Written beside and linked into place: the lock never exists without its owner in it.
      await writeFileAtomic(entry.lockPath, (fh) => writeAll(fh, Buffer.from(JSON.stringify(me), 'utf8')), { exclusive: true });
      return () => unlink(entry.lockPath).catch(() => {});
    } catch (e) {
      if (!(e instanceof FwupError && e.code === 'FILE_EXISTS')) throw e;
    }
    const owner = await readLockOwner(entry.lockPath);
    if (owner && isAlive(owner)) {
      throw new FwupError('CACHE_BUSY', `another fwup (pid ${owner.pid} on ${owner.host}) is downloading the same URL`, {
        hint: `wait for it to finish; if no such process runs, remove ${entry.lockPath}`,
        details: { lock: entry.lockPath, pid: owner.pid, host: owner.host },
      });
    }
    // Its owner is gone (or the file is garbage): take it over, once.
    await unlink(entry.lockPath).catch(() => {});
  }
  throw new FwupError('CACHE_BUSY', `cannot take the lock ${entry.lockPath}: another process keeps creating it`, {
    hint: 'wait for the other fwup to finish, then try again',
  });
}

async function readLockOwner(path: string): Promise<LockOwner | null> {
  try {
    const o = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    return Number.isSafeInteger(o.pid) && typeof o.host === 'string' ? (o as LockOwner) : null;
  } catch {
    return null;
  }
}

function isAlive(owner: LockOwner): boolean {
  // A process on another host (a shared cache) cannot be checked: assume it runs.
  if (owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
