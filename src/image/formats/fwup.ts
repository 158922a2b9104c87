import { createHash } from 'node:crypto';
import { FwupError } from '../../errors/fwup-error.js';
import { Digester } from '../../util/digest.js';
import { streamSource, type ByteSource } from '../byte-source.js';
import type { ImageFormat, ParallelSha256 } from '../format.js';
import { fwupHeaderLayout, fwupReport, isFwupImage, LIMITS, parseFwupHeader } from '../fwup-format.js';

/**
 * The native `.fwup` image as a format: header (CRC-32, TLVs, Ed25519 signature over the header, which
 * holds the payload's SHA-256), then the payload. A `.fwup` is its own slot image: installed as it is.
 */
export const fwupFormat: ImageFormat = {
  name: 'fwup',
  id: 1,
  description: 'fwup native image',
  detect: isFwupImage,
  maxBytes: LIMITS.maxPayloadBytes + 65536,

  async verify(src, opts) {
    const header = readHeader(src);
    const parsed = parseFwupHeader(header);
    const expected = parsed.headerSize + parsed.payloadLength;
    if (src.size < expected) {
      throw new FwupError('IMAGE_TRUNCATED', `${src.name} is ${src.size} bytes but its header announces ${expected} (payload truncated by ${expected - src.size} bytes)`, {
        hint: 'the download or copy was cut short; fetch the image again',
      });
    }
    if (src.size > expected) {
      throw new FwupError('IMAGE_BAD_FIELD', `${src.name} has ${src.size - expected} unexpected bytes after the payload`, {
        hint: 'the file was appended to, or the payload length field was changed',
      });
    }
    const payload = opts.payloadCrc === false ? new Sha256Only() : new Digester();
    // With the machine's hash engine the file's SHA-256 runs on it, over the very buffer the chunk was
    // read into, while this thread hashes the payload part: one read, two digests in about the time of one.
    const file = opts.fileHash ?? inlineSha256();
    file.start();
    await streamSource(
      src,
      async (chunk, at) => {
        file.update(chunk);
        if (at + chunk.length > parsed.headerSize) payload.update(at >= parsed.headerSize ? chunk : chunk.subarray(parsed.headerSize - at));
        file.wait();
        if (opts.onChunk) await opts.onChunk(chunk, at);
      },
      {
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
        ...(opts.checkpoint ? { checkpoint: opts.checkpoint } : {}),
        ...(file.buffer ? { buffer: file.buffer } : {}),
      },
    );
    const fileSha256 = file.digest();
    return { format: fwupFormat, report: fwupReport(parsed, payload.digest(), opts.trust.keys), fileSha256, fileSize: src.size };
  },

  slotHeader: () => null,
};

/** The file's SHA-256 on this thread, as each chunk comes. */
function inlineSha256(): ParallelSha256 {
  let hash = createHash('sha256');
  return {
    start: () => void (hash = createHash('sha256')),
    update: (chunk) => void hash.update(chunk),
    wait: () => undefined,
    digest: () => hash.digest('hex'),
  };
}

/** The payload's SHA-256 alone, digested in the shape the report takes: no CRC-32 (reported as n/a). */
class Sha256Only {
  private readonly sha = createHash('sha256');
  private count = 0;

  update(chunk: Uint8Array): this {
    this.sha.update(chunk);
    this.count += chunk.length;
    return this;
  }

  digest(): { crc32: null; sha256: string; length: number } {
    return { crc32: null, sha256: this.sha.digest('hex'), length: this.count };
  }
}

/** The complete header (fixed part and TLV area) at the start of a source. */
export function readHeader(src: ByteSource): Buffer {
  const fixed = src.read(0, Math.min(src.size, fwupHeaderLayout.size), Buffer.allocUnsafe(fwupHeaderLayout.size));
  const size = fwupHeaderLayout.parse(fixed).headerSize;
  if (size > src.size) {
    throw new FwupError('IMAGE_TRUNCATED', `${src.name}: header announces ${size} bytes but the source holds only ${src.size}`);
  }
  return Buffer.from(src.read(0, size, Buffer.allocUnsafe(size)));
}
