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
    const file = createHash('sha256');
    const payload = new Digester();
    await streamSource(
      src,
      async (chunk, at) => {
        file.update(chunk);
        if (at + chunk.length > parsed.headerSize) payload.update(at >= parsed.headerSize ? chunk : chunk.subarray(parsed.headerSize - at));
        if (opts.onChunk) await opts.onChunk(chunk, at);
      },
      { ...(opts.onProgress ? { onProgress: opts.onProgress } : {}), ...(opts.checkpoint ? { checkpoint: opts.checkpoint } : {}) },
    );
    return { format: fwupFormat, report: fwupReport(parsed, payload.digest(), opts.trust.keys), fileSha256: file.digest('hex'), fileSize: src.size };
  },

  slotHeader: () => null,
};

/** The complete header (fixed part and TLV area) at the start of a source. */
export function readHeader(src: ByteSource): Buffer {
  const fixed = src.read(0, Math.min(src.size, fwupHeaderLayout.size), Buffer.allocUnsafe(fwupHeaderLayout.size));
  const size = fwupHeaderLayout.parse(fixed).headerSize;
  if (size > src.size) {
    throw new FwupError('IMAGE_TRUNCATED', `${src.name}: header announces ${size} bytes but the source holds only ${src.size}`);
  }
  return Buffer.from(src.read(0, size, Buffer.allocUnsafe(size)));
}
