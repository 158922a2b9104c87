import { FwupError } from '../errors/fwup-error.js';
import { Digester } from '../util/digest.js';
import { fwupHeaderLayout, fwupHeaderSize, fwupReport, parseFwupHeader } from '../image/fwup-format.js';
import { rawReport, type RawMetadata } from '../image/raw-format.js';
import { DETECT_BYTES, requireFormat } from '../image/registry.js';
import type { PublicKey } from '../image/keys.js';
import type { TrustedCertificateInput } from '../image/capsule-verify.js';
import type { FormatName, ImageReport } from '../image/report.js';
import { ReadOnlyFile, yieldToEventLoop } from './files.js';

export const CHUNK_BYTES = 1 << 20;
/** Bytes between yields to the event loop (so a progress spinner keeps turning). */
const YIELD_EVERY = 32 << 20;

export interface ReadImageOptions {
  /** Keys to check a signature against; null = report 'not-verified'. */
  keys: readonly PublicKey[] | null;
  /** Certificates (DER) a capsule's PKCS#7 signatures must chain to; null or empty = 'not-verified'. */
  trustedCerts?: readonly TrustedCertificateInput[] | null;
  /** Given when the caller accepts a raw payload (the user passed --version). */
  raw?: RawMetadata;
  /**
   * Called with every chunk of the file in order (header included), while the digest is computed,
   * so a caller can copy the image in the same pass. The chunk is only valid until the promise settles.
   */
  onChunk?: (chunk: Buffer, fileOffset: number) => Promise<void> | void;
  onProgress?: (bytesDone: number, total: number) => void;
  /** What to call the file in error messages (default: its path), e.g. where a download came from. */
  name?: string;
}

export interface ImageFile {
  path: string;
  format: FormatName;
  fileSize: number;
  /** The header bytes (empty for raw), for callers that keep or forward them. */
  header: Buffer;
  report: ImageReport;
}

/**
 * Read an image file in one streaming pass: detect its format, parse the header, and run the whole
 * payload through CRC-32 and SHA-256 together with a single reused buffer, so a 256 MiB image never
 * exists twice in memory.
 */
export async function readImageFile(path: string, opts: ReadImageOptions): Promise<ImageFile> {
  const fh = ReadOnlyFile.open(path, 'read');
  try {
    if (!fh.isFile) throw new FwupError('USAGE', `${path} is not a regular file`);
    const name = opts.name ?? path;
    const fileSize = fh.size;
    const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(fileSize, fwupHeaderLayout.size)));
    const headLen = fh.read(buf, Math.min(buf.length, fileSize), 0);
    const format = requireFormat(buf.subarray(0, Math.min(headLen, DETECT_BYTES)), name, opts.raw !== undefined);

    switch (format) {
      case 'fwup':
        return await readFwup(path, fh, fileSize, buf.subarray(0, headLen), opts);
      case 'raw': {
        const digest = await streamDigest(fh, 0, fileSize, opts, buf);
        return { path, format, fileSize, header: Buffer.alloc(0), report: rawReport(opts.raw!, digest) };
      }
      case 'capsule': {
        // Loaded here only: capsule code (and pkijs behind it) costs nothing to other images.
        const { readCapsuleFile } = await import('./capsule-reader.js');
        return await readCapsuleFile(path, fh, fileSize, opts);
      }
    }
  } finally {
    fh.close();
  }
}

async function readFwup(path: string, fh: ReadOnlyFile, fileSize: number, head: Buffer, opts: ReadImageOptions): Promise<ImageFile> {
  const headerSize = fwupHeaderSize(head);
  let header: Buffer;
  if (headerSize <= head.length) {
    header = Buffer.from(head.subarray(0, headerSize));
  } else {
    header = Buffer.alloc(headerSize);
    const got = fh.read(header, headerSize, 0);
    header = header.subarray(0, got);
  }
  const parsed = parseFwupHeader(header);
  const expected = parsed.headerSize + parsed.payloadLength;
  if (fileSize < expected) {
    throw new FwupError('IMAGE_TRUNCATED', `${opts.name ?? path} is ${fileSize} bytes but its header announces ${expected} (payload truncated by ${expected - fileSize} bytes)`, {
      hint: 'the download or copy was cut short; fetch the image again',
    });
  }
  if (fileSize > expected) {
    throw new FwupError('IMAGE_BAD_FIELD', `${opts.name ?? path} has ${fileSize - expected} unexpected bytes after the payload`, {
      hint: 'the file was appended to, or the payload length field was changed',
    });
  }
  const digest = await streamDigest(fh, 0, fileSize, opts, Buffer.allocUnsafe(CHUNK_BYTES), parsed.headerSize);
  return { path, format: 'fwup', fileSize, header, report: fwupReport(parsed, digest, opts.keys) };
}

/**
 * Stream [start, end) through `onChunk`, hashing only the bytes from `hashFrom` on (the payload).
 */
async function streamDigest(
  fh: ReadOnlyFile,
  start: number,
  end: number,
  opts: ReadImageOptions,
  buf: Buffer,
  hashFrom = start,
): Promise<{ length: number; crc32: number; sha256: string }> {
  const d = new Digester();
  for (let pos = start; pos < end; ) {
    const n = fh.read(buf, Math.min(buf.length, end - pos), pos);
    if (n === 0) throw new FwupError('IMAGE_TRUNCATED', `file shrank while it was read (at byte ${pos})`);
    const chunk = buf.subarray(0, n);
    if (pos + n > hashFrom) d.update(pos >= hashFrom ? chunk : chunk.subarray(hashFrom - pos));
    if (opts.onChunk) await opts.onChunk(chunk, pos);
    pos += n;
    opts.onProgress?.(pos - start, end - start);
    if (((pos - start) & (YIELD_EVERY - 1)) < n) await yieldToEventLoop();
  }
  return d.digest();
}
