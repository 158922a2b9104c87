import { open, rename, unlink, link, type FileHandle } from 'node:fs/promises';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { FwupError, fromSystemError } from '../errors/fwup-error.js';

/**
 * Small files (keys, certificates) are read synchronously: the first asynchronous file operation of a
 * process starts libuv's thread pool, a few milliseconds of every cold start of `fwup inspect`.
 */
export async function readFileOrFail(path: string, what = 'read'): Promise<Buffer> {
  try {
    return readFileSync(path);
  } catch (e) {
    throw fromSystemError(e, path, what);
  }
}

/** A file read front to back with synchronous calls (see readFileOrFail for why). */
export class ReadOnlyFile {
  private constructor(private fd: number, readonly path: string, readonly size: number, readonly isFile: boolean) {}

  static open(path: string, what = 'read'): ReadOnlyFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw fromSystemError(e, path, what);
    }
    const st = fstatSync(fd);
    return new ReadOnlyFile(fd, path, st.size, st.isFile());
  }

  /** Read up to `length` bytes at `position` into `buf` (fewer only at the end of the file). */
  read(buf: Uint8Array, length: number, position: number): number {
    let got = 0;
    while (got < length) {
      const n = readSync(this.fd, buf, got, length - got, position + got);
      if (n === 0) break;
      got += n;
    }
    return got;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Let timers (a progress spinner) run between chunks of a long synchronous loop. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

export async function openOrFail(path: string, flags: string, what: string, mode?: number): Promise<FileHandle> {
  try {
    return await open(path, flags, mode);
  } catch (e) {
    throw fromSystemError(e, path, what);
  }
}

/**
 * Write a file so that a crash leaves either the old file or the new one: a temporary file beside it,
 * fsync, then rename. `write` gets the open handle.
 */
export async function writeFileAtomic(
  path: string,
  write: (fh: FileHandle) => Promise<void>,
  options: { mode?: number; exclusive?: boolean } = {},
): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await openOrFail(tmp, 'wx', 'create', options.mode ?? 0o644);
  try {
    await write(fh);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  try {
    if (options.exclusive) {
      // link() fails if the target exists, so an existing file (or a concurrent writer's) is never clobbered.
      await link(tmp, path);
      await unlink(tmp);
    } else {
      await rename(tmp, path);
    }
  } catch (e) {
    await unlink(tmp).catch(() => {});
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new FwupError('FILE_EXISTS', `${path} already exists`, { hint: 'pass --force to replace it' });
    }
    throw fromSystemError(e, path, 'write');
  }
}

export async function writeAll(fh: FileHandle, data: Uint8Array, position?: number): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, data.length - off, position === undefined ? null : position + off);
    off += bytesWritten;
  }
}

/** Read exactly `length` bytes at `position` (fewer only at end of file). */
export async function readAt(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<number> {
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}
