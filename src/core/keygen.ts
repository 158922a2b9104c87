import { writeFile, unlink, chmod } from 'node:fs/promises';
import { generateKeyPair } from '../image/keys.js';
import { fromSystemError, FwupError } from '../errors/fwup-error.js';
import { resolvePath, type Context } from './context.js';

export interface KeygenResult {
  keyId: string;
  privateKey: string;
  publicKey: string;
}

/** Write NAME.key (Ed25519 private, 0600) and NAME.pub. Never overwrites without `force`. */
export async function keygen(ctx: Context, name: string, options: { force: boolean }): Promise<KeygenResult> {
  if (name.trim() === '') throw new FwupError('USAGE', 'key name is empty');
  const privateKey = resolvePath(ctx, `${name}.key`);
  const publicKey = resolvePath(ctx, `${name}.pub`);
  const pair = generateKeyPair();
  const flag = options.force ? 'w' : 'wx';
  try {
    await writeFile(privateKey, pair.privatePem, { mode: 0o600, flag });
  } catch (e) {
    throw fromSystemError(e, privateKey, 'create key');
  }
  try {
    await writeFile(publicKey, pair.publicPem, { mode: 0o644, flag });
  } catch (e) {
    // Do not leave half a key pair behind.
    await unlink(privateKey).catch(() => {});
    throw fromSystemError(e, publicKey, 'create key');
  }
  if (options.force) {
    // writeFile keeps the mode of an existing file; make sure the private key is private.
    await chmod(privateKey, 0o600);
  }
  ctx.log.verbose(`key id ${pair.keyId}`);
  return { keyId: pair.keyId, privateKey, publicKey };
}
