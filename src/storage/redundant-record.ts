import { FwupError } from '../errors/fwup-error.js';
import { isErased, type Flash } from './flash.js';
import { regionCopies, type Region } from './flash-map.js';

/**
 * A small record kept twice, in two blocks, each a log of fixed-size slots (the firmware's critical
 * state: which slot boots, the security version). Every record carries a sequence number and its own
 * CRC; the newest valid record of either copy wins.
 *
 * A write appends the record (sequence + 1) to copy 1, syncs, then appends the same record to copy 2:
 * a power cut leaves the old record or the new one, and once both are written one damaged byte
 * anywhere (a torn or flipped slot, a bit cleared, an erased block) still leaves the newest record in
 * the other copy. A copy whose log is full is erased and restarted; the other copy holds the record
 * meanwhile. Nothing here trusts a length: slots are fixed, so a damaged slot is skipped, never parsed.
 */
export interface RecordCodec<T> {
  /** Bytes of one encoded record (at most the slot size). */
  readonly size: number;
  encode(value: T, sequence: number): Buffer;
  /** Throws when the bytes are not a valid record (magic, CRC, fields). */
  decode(bytes: Buffer): { value: T; sequence: number };
}

export interface CopyHealth {
  /** The newest valid record's sequence in this copy, or null when it holds none. */
  newest: number | null;
  usedSlots: number;
  damagedSlots: number;
}

export interface RecordRead<T> {
  value: T | null;
  sequence: number;
  copies: [CopyHealth, CopyHealth];
  /** Both copies hold the newest record and no slot is damaged. */
  healthy: boolean;
}

export class RedundantRecord<T> {
  private readonly copies: [Region, Region];
  private readonly slots: number;

  constructor(private readonly flash: Flash, region: Region, private readonly codec: RecordCodec<T>, private readonly slotBytes = 128) {
    this.copies = regionCopies(region);
    if (codec.size > slotBytes || this.copies[0].size % slotBytes !== 0) throw new Error(`${region.name}: a record does not fit its slot`);
    this.slots = this.copies[0].size / slotBytes;
  }

  read(): RecordRead<T> {
    let best: { value: T; sequence: number } | null = null;
    const health = this.copies.map((c) => {
      const h: CopyHealth = { newest: null, usedSlots: 0, damagedSlots: 0 };
      const bytes = this.flash.read(c.offset, c.size);
      for (let i = 0; i < this.slots; i++) {
        const slot = bytes.subarray(i * this.slotBytes, (i + 1) * this.slotBytes);
        if (isErased(slot)) continue;
        h.usedSlots++;
        let r;
        try {
          r = this.codec.decode(Buffer.from(slot.subarray(0, this.codec.size)));
        } catch {
          h.damagedSlots++;
          continue;
        }
        if (h.newest === null || r.sequence > h.newest) h.newest = r.sequence;
        if (!best || r.sequence > best.sequence) best = r;
      }
      return h;
    }) as [CopyHealth, CopyHealth];
    const found = best as { value: T; sequence: number } | null;
    const sequence = found?.sequence ?? 0;
    const healthy = found !== null && health.every((h) => h.newest === sequence && h.damagedSlots === 0);
    return { value: found?.value ?? null, sequence, copies: health, healthy };
  }

  /** Write a new record (newest sequence + 1) into both copies, one after the other. */
  write(value: T): void {
    const sequence = this.read().sequence + 1;
    const bytes = this.codec.encode(value, sequence);
    // Copy 1, then copy 2: each holds the whole record, so the order of the two programs is the only
    // thing that matters and one barrier at the end makes the pair durable.
    for (const copy of this.copies) this.append(copy, bytes);
    this.flash.sync();
  }

  /** Bring both copies back to the newest record (after damage); false when there was nothing to do. */
  repair(): boolean {
    const r = this.read();
    if (r.healthy || r.value === null) return false;
    const bytes = this.codec.encode(r.value, r.sequence);
    this.copies.forEach((copy, i) => {
      const h = r.copies[i]!;
      if (h.newest === r.sequence && h.damagedSlots === 0) return;
      // A damaged copy is rewritten from scratch, so its damaged slots are gone too.
      this.flash.erase(copy.offset, copy.size);
      this.program(copy, 0, bytes);
      this.flash.sync();
    });
    return true;
  }

  /** The used bytes of both copies (every slot that is not erased), for tests that attack them. */
  usedRanges(): Array<{ offset: number; length: number }> {
    const out: Array<{ offset: number; length: number }> = [];
    for (const c of this.copies) {
      const bytes = this.flash.read(c.offset, c.size);
      for (let i = 0; i < this.slots; i++) {
        if (!isErased(bytes.subarray(i * this.slotBytes, (i + 1) * this.slotBytes))) out.push({ offset: c.offset + i * this.slotBytes, length: this.codec.size });
      }
    }
    return out;
  }

  private append(copy: Region, bytes: Buffer): void {
    const all = this.flash.read(copy.offset, copy.size);
    let last = -1;
    for (let i = 0; i < this.slots; i++) if (!isErased(all.subarray(i * this.slotBytes, (i + 1) * this.slotBytes))) last = i;
    let slot = last + 1;
    if (slot >= this.slots) {
      this.flash.erase(copy.offset, copy.size);
      slot = 0;
    }
    this.program(copy, slot, bytes);
  }

  private program(copy: Region, slot: number, bytes: Buffer): void {
    const at = copy.offset + slot * this.slotBytes;
    this.flash.program(at, bytes);
    if (!this.flash.read(at, bytes.length).equals(bytes)) {
      throw new FwupError('FLASH_VERIFY', `read-back of the ${copy.name} record at 0x${at.toString(16)} differs`, {
        hint: 'the flash did not keep what was written; the other copy still holds the record',
      });
    }
  }
}
