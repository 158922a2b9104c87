import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FwupError, fromSystemError } from '../errors/fwup-error.js';
import type { ImageReport } from '../image/report.js';
import { resolvePath, type Context } from './context.js';
import { downloadImage, type DownloadOptions } from './download.js';
import { openOrFail, readAt, writeAll, writeFileAtomic } from './files.js';
import { CHUNK_BYTES } from './image-reader.js';
import { loadPublicKeys } from './key-files.js';

export interface FetchImageOptions extends Omit<DownloadOptions, 'keys'> {
  /** The file to write (relative to ctx.cwd); replaced atomically, untouched on any failure. */
  output: string;
  /** Public key files to check the image's signature with (relative to ctx.cwd). */
  keyFiles: readonly string[];
}

export interface FetchImageResult {
  url: string;
  /** The file written. */
  path: string;
  /** The verified copy in the download cache it was copied from. */
  cachePath: string;
  size: number;
  /** SHA-256 of the whole file (what --sha256 pins). */
  fileSha256: string;
  /** SHA-256 of the firmware payload inside it (what pack and inspect print as payloadSha256). */
  payloadSha256: string;
  /** Bytes taken from an earlier interrupted attempt. */
  resumed: number;
  /** True when the cached copy was used without any request. */
  cached: boolean;
  image: ImageReport;
}

/** `fwup fetch`: download an image through the cache, verify it, and copy it atomically to `output`. */
export async function fetchImage(ctx: Context, url: string, opts: FetchImageOptions): Promise<FetchImageResult> {
  const output = resolvePath(ctx, opts.output);
  // Fail on a bad output location or key before spending a download on it.
  await requireDirectory(dirname(output));
  const keys = opts.keyFiles.length ? await loadPublicKeys(opts.keyFiles.map((k) => resolvePath(ctx, k))) : null;
  const { output: _output, keyFiles: _keyFiles, ...downloadOptions } = opts;
  const d = await downloadImage(ctx, url, { ...downloadOptions, keys });
  if (output === d.path) throw new FwupError('USAGE', `the output ${output} is the cached download itself`, { hint: 'write the image somewhere outside the cache' });
  await copyVerified(d.path, output, d.fileSha256, d.size);
  return {
    url: d.url,
    path: output,
    cachePath: d.path,
    size: d.size,
    fileSha256: d.fileSha256,
    payloadSha256: d.image.report.sha256,
    resumed: d.resumedBytes,
    cached: d.cached,
    image: d.image.report,
  };
}

async function requireDirectory(dir: string): Promise<void> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new FwupError('USAGE', `cannot write into ${dir}: not a directory`);
  } catch (e) {
    throw fromSystemError(e, dir, 'write into');
  }
}

/**
 * Copy the cached file to `dest` through a temporary file, hashing the bytes as they are copied: the
 * rename happens only if they are still the verified ones (the cache is just a directory others can touch).
 */
async function copyVerified(src: string, dest: string, sha256: string, size: number): Promise<void> {
  const input = await openOrFail(src, 'r', 'read');
  try {
    await writeFileAtomic(dest, async (out) => {
      const hash = createHash('sha256');
      const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(1, size)));
      let pos = 0;
      for (;;) {
        const n = await readAt(input, buf, buf.length, pos);
        if (n === 0) break;
        hash.update(buf.subarray(0, n));
        await writeAll(out, buf.subarray(0, n), pos);
        pos += n;
      }
      const actual = hash.digest('hex');
      if (pos !== size || actual !== sha256) {
        throw new FwupError('NET_DIGEST_MISMATCH', `${src} changed after it was verified (SHA-256 ${actual}, ${pos} bytes)`, {
          hint: 'something modified the download cache; run the command again',
          details: { expected: sha256, actual },
        });
      }
    });
  } finally {
    await input.close();
  }
}
