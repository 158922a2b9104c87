import { FwupError } from '../errors/fwup-error.js';
import { Digester } from '../util/digest.js';
import { fwupHeaderLayout, fwupReport, parseFwupHeader, type FwupHeader } from '../image/fwup-format.js';
import type { ImageReport } from '../image/report.js';
import type { PublicKey } from '../image/keys.js';
import type { Flash } from '../storage/flash.js';
import type { Region } from '../storage/flash-map.js';

const CHUNK = 1 << 20;

/** The header of the image stored at the start of a region (a firmware slot or STAGING). */
export function readRegionHeader(flash: Flash, region: Region, at = 0): FwupHeader {
  const fixed = flash.read(region.offset + at, Math.min(fwupHeaderLayout.size, region.size - at));
  const size = fwupHeaderLayout.parse(fixed).headerSize;
  if (at + size > region.size) throw new FwupError('IMAGE_TRUNCATED', `${region.name}: header runs past the region`);
  const h = parseFwupHeader(flash.read(region.offset + at, size));
  if (at + h.headerSize + h.payloadLength > region.size) {
    throw new FwupError('IMAGE_TRUNCATED', `${region.name}: image of ${h.headerSize + h.payloadLength} bytes does not fit the region`);
  }
  return h;
}

/**
 * Verify the image in a region in one pass over the flash: header, payload CRC-32 and SHA-256, signature.
 * Throws for a structurally broken image; a digest or signature failure is in the report.
 */
export function verifyRegionImage(flash: Flash, region: Region, keys: readonly PublicKey[] | null, at = 0): ImageReport {
  const h = readRegionHeader(flash, region, at);
  const d = new Digester();
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, h.payloadLength)));
  for (let pos = 0; pos < h.payloadLength; ) {
    const n = Math.min(buf.length, h.payloadLength - pos);
    d.update(flash.read(region.offset + at + h.headerSize + pos, n, buf));
    pos += n;
  }
  return fwupReport(h, d.digest(), keys);
}
