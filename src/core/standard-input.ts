import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FwupError } from '../errors/fwup-error.js';
import { FORMATS } from '../image/registry.js';
import { stopIfInterrupted } from './interrupt.js';
import type { Context } from './context.js';

/** `-` names standard input wherever an image or payload file is read. */
export const STDIN_NAME = '-';

/** The largest file any image format accepts: more from standard input is refused while it streams. */
export const MAX_INPUT_BYTES = Math.max(...FORMATS.map((f) => f.maxBytes));

/**
 * Run `use` on a path for `name`: the file itself, or for `-` a private spool of standard input. The
 * engine reads an image twice through one descriptor (verify, then write) and a pipe can be read only
 * once, so the stream is copied (bounded by `limit`, never held in memory) into a file under the state
 * directory that only this process can read, and removed afterwards whatever happens.
 */
export async function withInputFile<T>(
  ctx: Context,
  name: string,
  use: (path: string, display: string) => Promise<T>,
  limit: number = MAX_INPUT_BYTES,
): Promise<T> {
  if (name !== STDIN_NAME) return use(name, name);
  const input = ctx.stdin;
  if (!input) throw new FwupError('USAGE', 'standard input (-) is not available here', { hint: 'give the image as a file' });
  if (input.isTTY) {
    throw new FwupError('USAGE', 'standard input (-) is a terminal, not an image', { hint: 'pipe the image in: cat image.fwup | fwup stage -' });
  }
  const dir = join(ctx.stateDir, 'tmp');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `stdin-${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    const fh = await open(path, 'wx', 0o600);
    try {
      let total = 0;
      for await (const chunk of input) {
        const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
        total += b.length;
        if (total > limit) {
          throw new FwupError('IMAGE_TOO_LARGE', `standard input is more than ${limit} bytes, the most any image format holds`, {
            hint: 'nothing was read further or changed; check what is piped in',
          });
        }
        await fh.write(b);
        stopIfInterrupted(ctx, 'reading standard input', 'nothing was changed');
      }
    } finally {
      await fh.close();
    }
    return await use(path, 'standard input');
  } finally {
    await rm(path, { force: true });
  }
}
