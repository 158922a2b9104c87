import { createHash } from 'node:crypto';
import { FwupError } from '../../errors/fwup-error.js';
import { CHUNK_BYTES } from '../../image/byte-source.js';
import type { Flash } from '../../storage/flash.js';
import type { Region } from '../../storage/flash-map.js';
import { RegionWriter } from '../../storage/region-writer.js';
import { checkSlot } from './slot-check.js';

/**
 * Copy a measured image from one region to another (a slot into the recovery copy, or back), hashing
 * the bytes as they are read, then verify the destination against the same measurement. Either the
 * destination holds exactly the image, or this throws and the caller records nothing as copied.
 */
export function copyImage(flash: Flash, from: Region, to: Region, length: number, sha256: string): void {
  const writer = new RegionWriter(flash, to);
  const seen = createHash('sha256');
  const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(1, length)));
  for (let pos = 0; pos < length; ) {
    const n = Math.min(buf.length, length - pos);
    const chunk = flash.read(from.offset + pos, n, buf);
    seen.update(chunk);
    writer.write(chunk);
    pos += n;
  }
  writer.finish();
  flash.sync();
  if (seen.digest('hex') !== sha256) {
    throw new FwupError('FLASH_VERIFY', `${from.name} changed while it was copied into ${to.name} (SHA-256 mismatch)`, { hint: 'the copy is not used' });
  }
  const check = checkSlot(flash, to, sha256);
  if (!check.ok) throw new FwupError('FLASH_VERIFY', `${to.name} does not verify after the copy: ${check.why}`, { hint: 'the copy is not used' });
}
