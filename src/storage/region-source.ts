import { checkRead, type ByteSource } from '../image/byte-source.js';
import type { Flash } from './flash.js';
import type { Region } from './flash-map.js';

/** A byte source over part of a flash region: how the firmware hands STAGING or a slot to a verifier. */
export class RegionSource implements ByteSource {
  readonly name: string;

  constructor(private readonly flash: Flash, readonly region: Region, readonly start: number, readonly size: number) {
    if (start < 0 || size < 0 || start + size > region.size) throw new Error(`${region.name}: [${start}, +${size}) is outside the region`);
    this.name = region.name;
  }

  read(offset: number, length: number, into: Buffer): Buffer {
    checkRead(this, offset, length);
    return this.flash.read(this.region.offset + this.start + offset, length, into);
  }
}
