import {
  checkEraseAlignment, checkProgramAlignment, checkProgramBits, checkRange, ERASED, newStats, validateGeometry,
  type Flash, type FlashGeometry, type FlashStats,
} from './flash.js';

/** The strict in-memory NOR model: the reference the file-backed model and the fault wrapper are tested against. */
export class MemoryFlash implements Flash {
  readonly stats: FlashStats = newStats();
  private readonly bytes: Buffer;

  constructor(readonly geometry: FlashGeometry, initial?: Uint8Array) {
    validateGeometry(geometry);
    this.bytes = Buffer.alloc(geometry.size, ERASED);
    if (initial) Buffer.from(initial.buffer, initial.byteOffset, Math.min(initial.byteLength, geometry.size)).copy(this.bytes);
  }

  read(offset: number, length: number, into?: Buffer): Buffer {
    checkRange(this.geometry, offset, length, 'read');
    this.stats.reads++;
    this.stats.bytesRead += length;
    const out = into ?? Buffer.allocUnsafe(length);
    this.bytes.copy(out, 0, offset, offset + length);
    return out.subarray(0, length);
  }

  program(offset: number, data: Uint8Array): void {
    checkRange(this.geometry, offset, data.length, 'program');
    checkProgramAlignment(this.geometry, offset, data.length);
    checkProgramBits(this.bytes.subarray(offset, offset + data.length), data, offset);
    this.stats.programs++;
    this.stats.bytesProgrammed += data.length;
    this.bytes.set(data, offset);
  }

  erase(offset: number, length: number): void {
    checkRange(this.geometry, offset, length, 'erase');
    checkEraseAlignment(this.geometry, offset, length);
    this.stats.erases++;
    this.stats.bytesErased += length;
    this.bytes.fill(ERASED, offset, offset + length);
  }

  sync(): void {
    this.stats.syncs++;
  }

  close(): void {}

  /** The whole chip, for tests and snapshots. */
  snapshot(): Buffer {
    return Buffer.from(this.bytes);
  }
}
