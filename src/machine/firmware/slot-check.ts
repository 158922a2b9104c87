import { createHash } from 'node:crypto';
import { FwupError } from '../../errors/fwup-error.js';
import { CHUNK_BYTES } from '../../image/byte-source.js';
import { readHeader } from '../../image/formats/fwup.js';
import { parseFwupHeader, verifyFwupSignature, type FwupHeader } from '../../image/fwup-format.js';
import type { PublicKey } from '../../image/keys.js';
import type { Flash } from '../../storage/flash.js';
import type { Region } from '../../storage/flash-map.js';
import { NO_DIGEST } from '../../storage/boot-record.js';
import { RegionSource } from '../../storage/region-source.js';
import { isPowerCut } from '../../storage/fault-flash.js';

/**
 * What a firmware slot (or the recovery copy) holds: a `.fwup` image at its start, whose bytes the
 * firmware measured (SHA-256) when it wrote them. A slot is trusted only when its bytes still hash to
 * that measurement: then they are exactly the bytes the firmware verified in full (digests, signature,
 * policy) before it wrote them, so one SHA-256 pass re-verifies every byte.
 */
export interface Measured {
  header: FwupHeader;
  /** Header and payload bytes. */
  size: number;
  sha256: string;
}

export type SlotCheck = ({ ok: true } & Measured) | { ok: false; why: string; header: FwupHeader | null };

/** Parse the image at the start of a region and hash all of it (no expectation). */
export function measureRegion(flash: Flash, region: Region): Measured | { why: string; header: FwupHeader | null } {
  let header: FwupHeader;
  try {
    header = parseFwupHeader(readHeader(new RegionSource(flash, region, 0, region.size)));
  } catch (e) {
    if (isPowerCut(e)) throw e;
    return { why: e instanceof FwupError ? e.message : String(e), header: null };
  }
  const size = header.headerSize + header.payloadLength;
  if (size > region.size) return { why: `the image (${size} bytes) runs past the ${region.size}-byte region`, header };
  return { header, size, sha256: hashRegion(flash, region, size) };
}

/** A slot verifies when its image parses and hashes to what the firmware recorded for it. */
export function checkSlot(flash: Flash, region: Region, expected: string): SlotCheck {
  if (expected === NO_DIGEST) return { ok: false, why: 'holds no image the firmware wrote', header: null };
  const m = measureRegion(flash, region);
  if (!('sha256' in m)) return { ok: false, ...m };
  if (m.sha256 !== expected) return { ok: false, why: 'its bytes changed since the firmware wrote them (SHA-256 mismatch)', header: m.header };
  return { ok: true, ...m };
}

/** Signature check of a slot image's header against the trusted keys ("unsigned" is acceptable here). */
export function slotSignatureOk(header: FwupHeader, keys: readonly PublicKey[]): boolean {
  const s = verifyFwupSignature(header, keys.length ? keys : null).status;
  return s !== 'invalid' && s !== 'unknown-key';
}

export function hashRegion(flash: Flash, region: Region, length: number): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(1, length)));
  for (let pos = 0; pos < length; ) {
    const n = Math.min(buf.length, length - pos);
    h.update(flash.read(region.offset + pos, n, buf));
    pos += n;
  }
  return h.digest('hex');
}
