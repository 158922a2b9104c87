import { ForwardingFlash } from './forwarding-flash.js';
import { checkEraseAlignment, checkProgramAlignment, checkProgramBits, checkRange, ERASED } from './flash.js';

/** One write that reached the chip, in order. */
export interface FlashOp {
  op: 'program' | 'erase';
  offset: number;
  length: number;
}

/**
 * Records every program and erase that reaches the chip, so a command's plan is the list of what its
 * code did: a real run records what it wrote, a dry run (over an OverlayFlash) what it would have.
 */
export class RecordingFlash extends ForwardingFlash {
  readonly ops: FlashOp[] = [];

  override program(offset: number, data: Uint8Array): void {
    this.inner.program(offset, data);
    this.ops.push({ op: 'program', offset, length: data.length });
  }

  override erase(offset: number, length: number): void {
    this.inner.erase(offset, length);
    this.ops.push({ op: 'erase', offset, length });
  }
}

/**
 * A copy-on-write layer over a chip opened read-only: programs and erases change an in-memory copy of
 * the blocks they touch (with the NOR rules), reads see them, and the chip underneath never changes.
 * `--dry-run` runs the real code path over it.
 */
export class OverlayFlash extends ForwardingFlash {
  private readonly blocks = new Map<number, Buffer>();

  override read(offset: number, length: number, into?: Buffer): Buffer {
    checkRange(this.geometry, offset, length, 'read');
    const out = this.inner.read(offset, length, into);
    if (this.blocks.size === 0) return out;
    const b = this.geometry.blockSize;
    for (let blk = Math.floor(offset / b); blk * b < offset + length; blk++) {
      const shadow = this.blocks.get(blk);
      if (!shadow) continue;
      const lo = Math.max(offset, blk * b);
      const hi = Math.min(offset + length, (blk + 1) * b);
      shadow.copy(out, lo - offset, lo - blk * b, hi - blk * b);
    }
    return out;
  }

  override program(offset: number, data: Uint8Array): void {
    checkRange(this.geometry, offset, data.length, 'program');
    checkProgramAlignment(this.geometry, offset, data.length);
    checkProgramBits(this.read(offset, data.length), data, offset);
    const b = this.geometry.blockSize;
    for (let at = 0; at < data.length; ) {
      const blk = Math.floor((offset + at) / b);
      const shadow = this.block(blk);
      const start = offset + at - blk * b;
      const n = Math.min(b - start, data.length - at);
      shadow.set(data.subarray(at, at + n), start);
      at += n;
    }
  }

  override erase(offset: number, length: number): void {
    checkRange(this.geometry, offset, length, 'erase');
    checkEraseAlignment(this.geometry, offset, length);
    const b = this.geometry.blockSize;
    for (let blk = offset / b; blk < (offset + length) / b; blk++) this.blocks.set(blk, Buffer.alloc(b, ERASED));
  }

  /** Nothing reaches the chip, so there is nothing to make durable. */
  override sync(): void {}

  private block(blk: number): Buffer {
    let s = this.blocks.get(blk);
    if (!s) {
      const b = this.geometry.blockSize;
      s = Buffer.from(this.inner.read(blk * b, b));
      this.blocks.set(blk, s);
    }
    return s;
  }
}
