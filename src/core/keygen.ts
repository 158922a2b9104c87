import { chmod, link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { generateKeyPair } from '../image/keys.js';
import { fromSystemError, FwupError } from '../errors/fwup-error.js';
import { resolvePath, type Context } from './context.js';

export interface KeygenResult {
  keyId: string;
  privateKey: string;
  publicKey: string;
}

/**
 * Write NAME.key (Ed25519 private, 0600) and NAME.pub. Each goes to a temporary file in the same
 * directory first (written, synced) and is then moved into place: a full disk leaves no empty key
 * behind, and `--force` replaces a symlink instead of writing through it to wherever it points.
 * Without `force` an existing file is never replaced (link(2) refuses to).
 */
export async function keygen(ctx: Context, name: string, options: { force: boolean }): Promise<KeygenResult> {
  if (name.trim() === '') throw new FwupError('USAGE', 'key name is empty', { hint: 'give a name, e.g. fwup keygen release' });
  const privateKey = resolvePath(ctx, `${name}.key`);
  const publicKey = resolvePath(ctx, `${name}.pub`);
  const pair = generateKeyPair();
  await place(privateKey, pair.privatePem, 0o600, options.force);
  try {
    await place(publicKey, pair.publicPem, 0o644, options.force);
  } catch (e) {
    // Do not leave half a key pair behind (the private key just placed is ours to remove).
    await unlink(privateKey).catch(() => {});
    throw e;
  }
  ctx.log.verbose(`key id ${pair.keyId}`);
  return { keyId: pair.keyId, privateKey, publicKey };
}

async function place(path: string, text: string, mode: number, force: boolean): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  let fh;
  try {
    fh = await open(tmp, 'wx', mode);
  } catch (e) {
    throw fromSystemError(e, path, 'create key');
  }
  try {
    await fh.writeFile(text);
    await fh.chmod(mode); // the umask may have taken bits the key's mode needs (or left some it must not have)
    await fh.sync();
    await fh.close();
    if (force) await rename(tmp, path);
    else {
      await link(tmp, path);
      await unlink(tmp);
    }
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw fromSystemError(e, path, 'create key');
  }
  await chmod(path, mode).catch(() => {});
}
