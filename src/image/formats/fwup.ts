import { createHash } from 'node:crypto';
import { FwupError } from '../../errors/fwup-error.js';
import { Digester } from '../../util/digest.js';
import { streamSource, type ByteSource } from '../byte-source.js';
import type { ImageFormat } from '../format.js';
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
    const payloadPart = (chunk: Buffer, at: number) => {
      if (at + chunk.length > parsed.headerSize) payload.update(at >= parsed.headerSize ? chunk : chunk.subarray(parsed.headerSize - at));
    };
    const progress = { ...(opts.onProgress ? { onProgress: opts.onProgress } : {}), ...(opts.checkpoint ? { checkpoint: opts.checkpoint } : {}) };
    let fileSha256: string;
    const engine = opts.fileHash;
    if (engine) {
      // The file's SHA-256 on the engine, over the very buffer the chunk was read into, while this
      // thread hashes the payload part: one read of every byte, two digests in the time of about one.
      engine.start();
      await streamSource(src, async (chunk, at) => {
        // A source may hand back its own bytes instead of filling the buffer: then they go to the engine.
        if (chunk.buffer !== engine.buffer.buffer || chunk.byteOffset !== engine.buffer.byteOffset) chunk.copy(engine.buffer);
        engine.begin(chunk.length);
        payloadPart(chunk, at);
        engine.wait();
        if (opts.onChunk) await opts.onChunk(chunk, at);
      }, { ...progress, buffer: engine.buffer });
      fileSha256 = engine.digest();
    } else {
      const file = createHash('sha256');
      await streamSource(src, async (chunk, at) => {
        file.update(chunk);
        payloadPart(chunk, at);
        if (opts.onChunk) await opts.onChunk(chunk, at);
      }, progress);
      fileSha256 = file.digest('hex');
    }
    return { format: fwupFormat, report: fwupReport(parsed, payload.digest(), opts.trust.keys), fileSha256, fileSize: src.size };
  },

  slotHeader: () => null,
};

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
