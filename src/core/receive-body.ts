import type { Hash } from 'node:crypto';
import type { ReadableStreamReadResult } from 'node:stream/web';
import { FwupError, fromSystemError } from '../errors/fwup-error.js';
import { formatBytes } from '../util/units.js';
import { openOrFail, writeAll } from './files.js';
import type { OpenResponse } from './http-get.js';
import { networkError } from './net-errors.js';

export interface ReceiveBodyOptions {
  open: OpenResponse;
  partPath: string;
  /** Where the body's first byte goes: 0 for a fresh download (the part is truncated), else the part's length. */
  offset: number;
  /** Already fed the part's first `offset` bytes, so the digest covers the whole file. */
  hash: Hash;
  /** The whole file's length when the server announced it; the body must end exactly there. */
  length: number | null;
  maxBytes: number;
  idleTimeoutMs: number;
  /** Whether the part is kept for a later resume if this fails (for the error's hint). */
  resumable: boolean;
  onProgress(bytes: number): void;
  /** The user's interrupt: the transfer stops at once with the error `interrupted` makes. */
  signal?: AbortSignal;
  interrupted?: (bytes: number) => FwupError | null;
}

/**
 * Stream a response body into the part file at `offset`, hashing as it goes. Fails with NET_TIMEOUT
 * when no byte arrives for `idleTimeoutMs`, NET_TOO_LARGE as soon as the file would pass `maxBytes`,
 * NET_INTERRUPTED when the connection is cut or the body ends short. Returns the file's length.
 * The part file is synced to disk before this returns, so a later rename cannot expose unwritten bytes.
 */
export async function receiveBody(o: ReceiveBodyOptions): Promise<number> {
  const url = o.open.url.href;
  const host = o.open.url.host;
  const fh = await openOrFail(o.partPath, o.offset === 0 ? 'w' : 'r+', 'write');
  let pos = o.offset;
  let idle: NodeJS.Timeout | undefined;
  // Armed only while waiting for the network: time spent writing to disk is not the server's.
  const armIdle = () => {
    idle = setTimeout(
      () =>
        o.open.abort(
          new FwupError('NET_TIMEOUT', `no data from ${host} for ${o.idleTimeoutMs / 1000} s (after ${pos} bytes)`, {
            hint: o.resumable
              ? 'run the same command again to resume; for a slow server allow more time with --idle-timeout SECONDS'
              : 'try again; for a slow server allow more time with --idle-timeout SECONDS',
            details: { url, bytes: pos, idleTimeoutMs: o.idleTimeoutMs, resumable: o.resumable },
          }),
        ),
      o.idleTimeoutMs,
    );
  };
  const reader = o.open.response.body?.getReader();
  const onAbort = () => {
    const err = o.interrupted?.(pos);
    if (err) o.open.abort(err);
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (o.signal?.aborted) onAbort();
    for (;;) {
      if (!reader) break;
      armIdle();
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (e) {
        throw networkError(e, { url, bytesSoFar: pos, resumable: o.resumable });
      } finally {
        clearTimeout(idle);
      }
      if (next.done) break;
      const chunk = next.value;
      if (pos + chunk.length > o.maxBytes) {
        const err = tooLarge(url, o.maxBytes, `more than ${o.maxBytes} bytes arrived`);
        o.open.abort(err);
        throw err;
      }
      try {
        await writeAll(fh, chunk, pos);
      } catch (e) {
        throw fromSystemError(e, o.partPath, 'write');
      }
      o.hash.update(chunk);
      pos += chunk.length;
      o.onProgress(pos);
    }
    if (o.length !== null && pos !== o.length) {
      throw new FwupError('NET_INTERRUPTED', `the response from ${host} ended after ${pos} of ${o.length} bytes`, {
        hint: o.resumable ? 'run the same command again: the download resumes where it stopped' : 'run the same command again to retry',
        details: { url, bytes: pos, expected: o.length, resumable: o.resumable },
      });
    }
    await fh.sync();
  } catch (e) {
    // Stop the transfer: nothing more will be read from it.
    await reader?.cancel().catch(() => {});
    throw e;
  } finally {
    clearTimeout(idle);
    o.signal?.removeEventListener('abort', onAbort);
    await fh.close();
  }
  return pos;
}

export function tooLarge(url: string, maxBytes: number, what: string): FwupError {
  return new FwupError('NET_TOO_LARGE', `${url}: ${what}, the limit is ${maxBytes} bytes (${formatBytes(maxBytes)})`, {
    hint: 'check that the URL names a firmware image; if it really is that large, raise the limit with --max-size',
    details: { url, maxBytes },
  });
}
