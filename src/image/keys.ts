import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, createHash, type KeyObject } from 'node:crypto';
import { FwupError } from '../errors/fwup-error.js';

/** An Ed25519 public key that an image may be signed with, identified by its key id. */
export interface PublicKey {
  readonly keyId: string; // 16 hex digits
  readonly key: KeyObject;
  readonly name: string; // where it came from, for messages
}

export interface PrivateKey {
  readonly keyId: string;
  readonly key: KeyObject;
}

export const KEY_ID_BYTES = 8;
export const SIGNATURE_BYTES = 64;

/** Key id = the first 8 bytes of SHA-256 over the raw 32-byte public key. */
export function keyIdOf(publicKey: KeyObject): string {
  const raw = rawPublicKey(publicKey);
  return createHash('sha256').update(raw).digest().subarray(0, KEY_ID_BYTES).toString('hex');
}

function rawPublicKey(publicKey: KeyObject): Buffer {
  // SPKI DER for Ed25519 is a fixed 12-byte prefix followed by the 32 raw key bytes.
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return der.subarray(der.length - 32);
}

export function generateKeyPair(): { privatePem: string; publicPem: string; keyId: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

/** A private key where a public one is expected: refused, never parsed, stored or printed. */
export function refusePrivateKey(bytes: string | Buffer, name: string, want = 'a public key'): void {
  const text = typeof bytes === 'string' ? bytes : bytes.subarray(0, 65536).toString('latin1');
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
    throw new FwupError('KEY_INVALID', `${name} is a private key: ${want} is expected here`, {
      hint: 'give the public half (NAME.pub from `fwup keygen NAME`); a private key never leaves the machine that signs',
    });
  }
}

export function parsePublicKey(pem: string | Buffer, name: string): PublicKey {
  refusePrivateKey(pem, name);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new FwupError('KEY_INVALID', `${name} is not a PEM public key`, { hint: 'use the NAME.pub file made by `fwup keygen NAME`' });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new FwupError('KEY_INVALID', `${name} is a ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519`, { hint: 'fwup signs with Ed25519 keys made by `fwup keygen NAME`' });
  }
  return { keyId: keyIdOf(key), key, name };
}

export function parsePrivateKey(pem: string | Buffer, name: string): PrivateKey {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new FwupError('KEY_INVALID', `${name} is not a PEM private key`, { hint: 'use the NAME.key file made by `fwup keygen NAME`' });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new FwupError('KEY_INVALID', `${name} is a ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519`, { hint: 'fwup signs with Ed25519 keys made by `fwup keygen NAME`' });
  }
  return { keyId: keyIdOf(createPublicKey(key)), key };
}

export function signMessage(key: PrivateKey, message: Uint8Array): Buffer {
  return sign(null, message, key.key);
}

export function verifyMessage(key: PublicKey, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(null, message, key.key, signature);
  } catch {
    return false;
  }
}
