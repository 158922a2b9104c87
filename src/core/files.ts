import { open, rename, unlink, readFile, link, type FileHandle } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { fromSystemError } from '../errors/fwup-error.js';

export async function readFileOrFail(path: string, what = 'read'): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw fromSystemError(e, path, what);
  }
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
      // link() fails if the target exists, so a concurrent writer cannot be clobbered.
      await link(tmp, path);
      await unlink(tmp);
    } else {
      await rename(tmp, path);
    }
  } catch (e) {
    await unlink(tmp).catch(() => {});
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
