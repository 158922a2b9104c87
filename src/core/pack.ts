import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { buildFwupHeader, LIMITS, type FwupMetadata } from '../image/fwup-format.js';
import { FwupError, fromSystemError } from '../errors/fwup-error.js';
import { Digester } from '../util/digest.js';
import { openOrFail, readAt, writeAll, writeFileAtomic } from './files.js';
import { CHUNK_BYTES } from './image-reader.js';
import { resolvePath, type Context } from './context.js';
import { loadPrivateKey } from './key-files.js';
import { withInputFile } from './standard-input.js';

export interface PackOptions {
  payload: string;
  output: string;
  /** Replace OUT when it exists (otherwise an existing file is never overwritten). */
  force?: boolean;
  meta: Omit<FwupMetadata, 'buildTime'> & { buildTime?: Date | null };
  signKey?: string;
}

export interface PackResult {
  output: string;
  size: number;
  headerSize: number;
  payloadSize: number;
  /** SHA-256 of the whole file written (what a download's --sha256 pins). */
  fileSha256: string;
  /** SHA-256 of the payload (what the header holds). */
  payloadSha256: string;
  crc32: number;
  keyId: string | null;
}

/**
 * Pack a payload into a `.fwup` image: one pass to digest the payload, build (and sign) the header,
 * then a second pass copying the payload behind it into a temporary file that replaces OUT atomically.
 */
export async function pack(ctx: Context, opts: PackOptions): Promise<PackResult> {
  return withInputFile(ctx, opts.payload, (file) => packFile(ctx, { ...opts, payload: file }, opts.payload), LIMITS.maxPayloadBytes);
}

async function packFile(ctx: Context, opts: PackOptions, payloadName: string): Promise<PackResult> {
  const payloadPath = resolvePath(ctx, opts.payload);
  const outPath = resolvePath(ctx, opts.output);
  const signer = opts.signKey ? await loadPrivateKey(resolvePath(ctx, opts.signKey)) : undefined;
  let size: number;
  try {
    const s = await stat(payloadPath);
    if (!s.isFile()) throw new FwupError('USAGE', `${payloadPath} is not a regular file`, { hint: 'give the firmware payload file' });
    size = s.size;
  } catch (e) {
    throw fromSystemError(e, payloadPath, 'read');
  }
  if (size > LIMITS.maxPayloadBytes) {
    throw new FwupError('IMAGE_TOO_LARGE', `payload is ${size} bytes, the limit is ${LIMITS.maxPayloadBytes}`, { hint: 'a firmware payload is never this large' });
  }
  if (outPath === payloadPath) throw new FwupError('USAGE', 'the output would overwrite the payload', { hint: 'give -o another file' });

  const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(size, 1)));
  const fh = await openOrFail(payloadPath, 'r', 'read');
  try {
    const task = ctx.progress.start(`packing ${payloadName}`, size * 2);
    const d = new Digester();
    for (let pos = 0; pos < size; ) {
      const n = await readAt(fh, buf, Math.min(buf.length, size - pos), pos);
      if (n === 0) throw new FwupError('FILE_IO', `${payloadPath} shrank while it was read`);
      d.update(buf.subarray(0, n));
      pos += n;
      task.update(pos);
    }
    const digest = d.digest();
    const header = buildFwupHeader({ buildTime: null, ...opts.meta }, digest, signer);
    const file = createHash('sha256').update(header);
    await writeFileAtomic(outPath, async (out) => {
      await writeAll(out, header, 0);
      // The second pass hashes what it copies: an image is never written around a payload that changed.
      const again = new Digester();
      for (let pos = 0; pos < size; ) {
        const n = await readAt(fh, buf, Math.min(buf.length, size - pos), pos);
        if (n === 0) throw new FwupError('FILE_IO', `${payloadPath} shrank while it was read`, { hint: 'nothing was written; pack again once the file is stable' });
        again.update(buf.subarray(0, n));
        file.update(buf.subarray(0, n));
        await writeAll(out, buf.subarray(0, n), header.length + pos);
        pos += n;
        task.update(size + pos);
      }
      if (again.digest().sha256 !== digest.sha256) {
        throw new FwupError('FILE_IO', `${payloadPath} changed while it was packed`, { hint: 'nothing was written; pack again once the file is stable' });
      }
    }, { exclusive: !opts.force });
    task.succeed(`packed ${opts.output}`);
    return {
      output: outPath,
      size: header.length + size,
      headerSize: header.length,
      payloadSize: size,
      fileSha256: file.digest('hex'),
      payloadSha256: digest.sha256,
      crc32: digest.crc32,
      keyId: signer?.keyId ?? null,
    };
  } finally {
    await fh.close();
  }
}
