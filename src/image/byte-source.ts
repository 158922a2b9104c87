import { createHash } from 'node:crypto';
import { FwupError } from '../errors/fwup-error.js';

/**
 * The bytes an image verifier reads: a file opened once, a region of flash, a buffer. Verifiers never
 * open anything themselves, so whoever hands in the source decides that the bytes verified are the
 * bytes written next (one file descriptor, one flash region).
 */
export interface ByteSource {
  /** What to call it in messages (a path, "STAGING"). */
  readonly name: string;
  /** Exact length in bytes: the image is all of it. */
  readonly size: number;
  /** Exactly `length` bytes at `offset` (inside size) into `into`; returns the filled view. */
  read(offset: number, length: number, into: Buffer): Buffer;
}

/** A source over bytes already in memory (tests, a capsule built in memory). */
export class BufferSource implements ByteSource {
  constructor(readonly bytes: Buffer, readonly name = 'buffer') {}

  get size(): number {
    return this.bytes.length;
  }

  read(offset: number, length: number, into: Buffer): Buffer {
    checkRead(this, offset, length);
    this.bytes.copy(into, 0, offset, offset + length);
    return into.subarray(0, length);
  }
}

export function checkRead(src: ByteSource, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > src.size) {
    throw new FwupError('IMAGE_TRUNCATED', `${src.name}: read of ${length} bytes at ${offset} is past its ${src.size} bytes`);
  }
}

export const CHUNK_BYTES = 1 << 20;
/** Bytes between yields to the event loop (so a progress spinner keeps turning and Ctrl-C is seen). */
const YIELD_EVERY = 8 << 20;

/**
 * Read [start, end) of a source front to back through one reused buffer, handing each chunk to `each`
 * (valid only during the call). The one loop every verifier and writer streams through.
 */
export async function streamSource(
  src: ByteSource,
  each: (chunk: Buffer, offset: number) => void | Promise<void>,
  opts: { start?: number; end?: number; onProgress?: (done: number, total: number) => void; buffer?: Buffer; checkpoint?: () => void } = {},
): Promise<void> {
  const start = opts.start ?? 0;
  const end = opts.end ?? src.size;
  const buf = opts.buffer ?? Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(1, end - start)));
  for (let pos = start; pos < end; ) {
    opts.checkpoint?.();
    const n = Math.min(buf.length, end - pos);
    const chunk = src.read(pos, n, buf);
    const r = each(chunk, pos);
    if (r) await r;
    pos += n;
    opts.onProgress?.(pos - start, end - start);
    if (((pos - start) % YIELD_EVERY) < n && pos < end) await new Promise((done) => setImmediate(done));
  }
}

/**
 * A whole source in one buffer, for a format parsed in memory (a capsule, a cabinet): read once in
 * chunks (each handed to `onChunk`, progress and checkpoint as the streaming verifiers do), the
 * SHA-256 of every byte computed as it is read.
 */
export async function readWhole(
  src: ByteSource,
  opts: { onChunk?: (chunk: Buffer, offset: number) => void | Promise<void>; onProgress?: (done: number, total: number) => void; checkpoint?: () => void },
): Promise<{ bytes: Buffer; sha256: string }> {
  const bytes = Buffer.allocUnsafe(src.size);
  const file = createHash('sha256');
  for (let pos = 0; pos < src.size; ) {
    opts.checkpoint?.();
    const n = Math.min(CHUNK_BYTES, src.size - pos);
    const chunk = src.read(pos, n, bytes.subarray(pos, pos + n));
    file.update(chunk);
    if (opts.onChunk) await opts.onChunk(chunk, pos);
    pos += n;
    opts.onProgress?.(pos, src.size);
  }
  return { bytes, sha256: file.digest('hex') };
}
