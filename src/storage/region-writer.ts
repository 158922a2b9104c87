import { createHash } from 'node:crypto';
import { FwupError } from '../errors/fwup-error.js';
import { onlyClearsBits, type Flash } from './flash.js';
import type { Region } from './flash-map.js';

export interface RegionWriteStats {
  bytes: number;
  blocks: number;
  /** Blocks whose content was already right: neither erased nor programmed. */
  unchanged: number;
  /** Blocks programmed without an erase (only bits to clear). */
  programmedOnly: number;
  erased: number;
}

export interface RegionWriteResult extends RegionWriteStats {
  /** SHA-256 of what the region holds after the write, as read back from the flash. */
  readBackSha256: string;
}

/** Blocks processed together: one read, at most one erase and one program per run of blocks. */
export const GROUP_BYTES = 64 * 1024;

/**
 * Sequential writer of an image into a region: per block it skips what is already there, programs
 * without erasing when only bits need clearing, erases otherwise, and reads every group back to verify;
 * the SHA-256 of what was read back is the caller's proof that the region holds the bytes it meant.
 * Re-staging an unchanged image therefore reads but never writes.
 */
export class RegionWriter {
  private readonly pending: Buffer;
  private fill = 0;
  private at: number;
  private readonly stats: RegionWriteStats = { bytes: 0, blocks: 0, unchanged: 0, programmedOnly: 0, erased: 0 };
  private readonly readBack = createHash('sha256');
  /** What a group's blocks hold before and after the write: read into these, reused for every group. */
  private readonly before: Buffer;
  private readonly after: Buffer;

  constructor(private readonly flash: Flash, private readonly region: Region, startOffset = 0) {
    const b = flash.geometry.blockSize;
    if (startOffset % b !== 0) throw new Error('region writes start on a block boundary');
    this.at = startOffset;
    this.pending = Buffer.allocUnsafe(Math.max(GROUP_BYTES, b));
    this.before = Buffer.allocUnsafe(Math.ceil(this.pending.length / b) * b);
    this.after = Buffer.allocUnsafe(this.pending.length);
  }

  write(chunk: Uint8Array): void {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    const group = this.pending.length;
    let off = 0;
    while (off < bytes.length) {
      // Whole groups straight from the caller's chunk (no copy); only a partial group waits in `pending`.
      if (this.fill === 0 && bytes.length - off >= group) {
        this.flushGroup(bytes.subarray(off, off + group));
        off += group;
        continue;
      }
      const n = Math.min(group - this.fill, bytes.length - off);
      this.pending.set(bytes.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
      if (this.fill === group) this.flushPending();
    }
  }

  finish(): RegionWriteResult {
    if (this.fill > 0) this.flushPending();
    return { ...this.stats, readBackSha256: this.readBack.digest('hex') };
  }

  private flushPending(): void {
    this.flushGroup(this.pending.subarray(0, this.fill));
    this.fill = 0;
  }

  private flushGroup(data: Buffer): void {
    const b = this.flash.geometry.blockSize;
    const len = data.length;
    const start = this.region.offset + this.at;
    if (this.at + len > this.region.size) {
      throw new FwupError('POLICY_TOO_LARGE', `${this.region.name} is ${this.region.size} bytes; the image does not fit`);
    }
    const blocks = Math.ceil(len / b);
    const current = this.flash.read(start, blocks * b, this.before);
    type Action = 'skip' | 'program' | 'erase';
    const actions: Action[] = [];
    for (let i = 0; i < blocks; i++) {
      const lo = i * b;
      const hi = Math.min(len, lo + b);
      const want = data.subarray(lo, hi);
      const have = current.subarray(lo, hi);
      if (have.equals(want)) actions.push('skip');
      else if (onlyClearsBits(have, want)) actions.push('program');
      else actions.push('erase');
    }
    // Erase runs of blocks, then program runs of every block that is not skipped.
    for (let i = 0; i < blocks; ) {
      if (actions[i] !== 'erase') {
        i++;
        continue;
      }
      let j = i;
      while (j < blocks && actions[j] === 'erase') j++;
      this.flash.erase(start + i * b, (j - i) * b);
      i = j;
    }
    for (let i = 0; i < blocks; ) {
      if (actions[i] === 'skip') {
        i++;
        continue;
      }
      let j = i;
      while (j < blocks && actions[j] !== 'skip') j++;
      this.flash.program(start + i * b, data.subarray(i * b, Math.min(len, j * b)));
      i = j;
    }
    if (actions.some((a) => a !== 'skip')) {
      const back = this.flash.read(start, len, this.after);
      if (!back.equals(data)) {
        let k = 0;
        while (back[k] === data[k]) k++;
        throw new FwupError('FLASH_VERIFY', `read-back of ${this.region.name} differs at offset ${this.at + k}`, {
          hint: 'the flash did not keep what was written; the staged image is not used',
        });
      }
      this.readBack.update(back);
    } else {
      this.readBack.update(current.subarray(0, len));
    }
    for (const a of actions) {
      this.stats.blocks++;
      if (a === 'skip') this.stats.unchanged++;
      else if (a === 'program') this.stats.programmedOnly++;
      else this.stats.erased++;
    }
    this.stats.bytes += len;
    this.at += blocks * b;
  }
}

