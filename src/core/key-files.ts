import { parsePrivateKey, parsePublicKey, type PrivateKey, type PublicKey } from '../image/keys.js';
import { FwupError } from '../errors/fwup-error.js';
import { readFileOrFail } from './files.js';

async function readKeyFile(path: string): Promise<Buffer> {
  try {
    return await readFileOrFail(path, 'read key');
  } catch (e) {
    if (e instanceof FwupError && e.code === 'FILE_NOT_FOUND') {
      throw new FwupError('KEY_NOT_FOUND', e.message, { hint: 'make a key pair with `fwup keygen NAME`' });
    }
    throw e;
  }
}

export async function loadPublicKeys(paths: readonly string[]): Promise<PublicKey[]> {
  return Promise.all(paths.map(async (p) => parsePublicKey(await readKeyFile(p), p)));
}

export async function loadPrivateKey(path: string): Promise<PrivateKey> {
  return parsePrivateKey(await readKeyFile(path), path);
}
