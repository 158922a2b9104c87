import { createHash, type Hash } from 'node:crypto';
import { FwupError } from '../errors/fwup-error.js';
import { crc32 } from './crc32.js';

/** CRC-32 and SHA-256 over the same bytes in one pass, fed chunk by chunk. */
export class Digester {
  private readonly sha: Hash = createHash('sha256');
  private crc = 0;
  private count = 0;

  update(chunk: Uint8Array): this {
    this.sha.update(chunk);
    this.crc = crc32(chunk, this.crc);
    this.count += chunk.length;
    return this;
  }

  digest(): { crc32: number; sha256: string; length: number } {
    return { crc32: this.crc, sha256: this.sha.digest('hex'), length: this.count };
  }
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

/** A SHA-256 as 64 hex digits (any case, an optional `sha256:` prefix), returned in lower case. */
export function parseSha256(text: string, what = '--sha256'): string {
  const t = text.trim().replace(/^sha256:/i, '');
  if (!/^[0-9a-f]{64}$/i.test(t)) {
    throw new FwupError('USAGE', `${what} ${JSON.stringify(text)} is not a SHA-256 (64 hex digits)`, {
      hint: 'copy the digest as printed by `sha256sum FILE` or `fwup fetch --json`',
    });
  }
  return t.toLowerCase();
}
