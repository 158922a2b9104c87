import { closeSync, fdatasyncSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { FwupError, fromSystemError } from '../errors/fwup-error.js';
import {
  checkEraseAlignment, checkProgramAlignment, checkProgramBits, checkRange, ERASED, newStats, validateGeometry,
  type Flash, type FlashGeometry, type FlashStats,
} from './flash.js';

const SCRATCH_BYTES = 1 << 20;

/**
 * NOR flash backed by a file (`flash.img`) with the same rules as the in-memory model: a program reads
 * the bytes it covers first and refuses any 0 -> 1. Synchronous I/O: an operation is one system call
 * pair, and a power cut (from the fault wrapper) always falls between two operations or inside a torn one.
 */
export class FileFlash implements Flash {
  readonly stats: FlashStats = newStats();
  private fd: number;
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  private readonly erased = Buffer.alloc(SCRATCH_BYTES, ERASED);
  /**
   * Blocks this process erased and has not programmed since: they read 0xFF, so a program there cannot
   * set a bit and its check needs no read (an install programs a freshly erased slot: one 16 MiB read
   * fewer in the downtime). Everything else is checked against the file.
   */
  private readonly blank = new Set<number>();

  private constructor(readonly path: string, fd: number, readonly geometry: FlashGeometry) {
    this.fd = fd;
  }

  /** Open an existing image; its size must match the geometry (a wrong-size flash.img is refused). */
  static open(path: string, geometry: FlashGeometry, options: { readOnly?: boolean } = {}): FileFlash {
    validateGeometry(geometry);
    let fd: number;
    try {
      fd = openSync(path, options.readOnly ? 'r' : 'r+');
    } catch (e) {
      throw fromSystemError(e, path, 'open flash image');
    }
    const size = fstatSync(fd).size;
    if (size !== geometry.size) {
      closeSync(fd);
      throw new FwupError('TARGET_CORRUPT', `${path} is ${size} bytes, the machine's flash is ${geometry.size}`, {
        hint: 'the flash image was truncated or replaced; re-create the machine with `fwup machine init --force`',
      });
    }
    return new FileFlash(path, fd, geometry);
  }

  /** Create a blank (all 0xFF) image, failing if it exists. */
  static create(path: string, geometry: FlashGeometry): FileFlash {
    validateGeometry(geometry);
    let fd: number;
    try {
      fd = openSync(path, 'wx+', 0o644);
    } catch (e) {
      throw fromSystemError(e, path, 'create flash image');
    }
    const f = new FileFlash(path, fd, geometry);
    try {
      for (let at = 0; at < geometry.size; at += SCRATCH_BYTES) {
        f.writeAll(f.erased.subarray(0, Math.min(SCRATCH_BYTES, geometry.size - at)), at);
      }
      fsyncSync(fd);
    } catch (e) {
      f.close();
      throw fromSystemError(e, path, 'create flash image');
    }
    return f;
  }

  read(offset: number, length: number, into?: Buffer): Buffer {
    checkRange(this.geometry, offset, length, 'read');
    this.stats.reads++;
    this.stats.bytesRead += length;
    const out = into ?? Buffer.allocUnsafe(length);
    this.readAll(out, length, offset);
    return out.subarray(0, length);
  }

  program(offset: number, data: Uint8Array): void {
    checkRange(this.geometry, offset, data.length, 'program');
    checkProgramAlignment(this.geometry, offset, data.length);
    // Check every byte before writing any, so a refused program changes nothing.
    const b = this.geometry.blockSize;
    const first = Math.floor(offset / b);
    const last = Math.floor((offset + Math.max(0, data.length - 1)) / b);
    let allBlank = data.length > 0;
    for (let k = first; k <= last && allBlank; k++) allBlank = this.blank.has(k);
    if (!allBlank) {
      for (let done = 0; done < data.length; done += SCRATCH_BYTES) {
        const n = Math.min(SCRATCH_BYTES, data.length - done);
        this.readAll(this.scratch, n, offset + done);
        checkProgramBits(this.scratch.subarray(0, n), data.subarray(done, done + n), offset + done);
      }
    }
    this.stats.programs++;
    this.stats.bytesProgrammed += data.length;
    for (let k = first; k <= last; k++) this.blank.delete(k);
    this.writeAll(data, offset);
  }

  erase(offset: number, length: number): void {
    checkRange(this.geometry, offset, length, 'erase');
    checkEraseAlignment(this.geometry, offset, length);
    this.stats.erases++;
    this.stats.bytesErased += length;
    for (let done = 0; done < length; done += SCRATCH_BYTES) {
      this.writeAll(this.erased.subarray(0, Math.min(SCRATCH_BYTES, length - done)), offset + done);
    }
    for (let k = offset / this.geometry.blockSize; k < (offset + length) / this.geometry.blockSize; k++) this.blank.add(k);
  }

  sync(): void {
    this.stats.syncs++;
    // The file's size never changes after creation, so data sync is enough for durability.
    try {
      fdatasyncSync(this.fd);
    } catch (e) {
      throw fromSystemError(e, this.path, 'sync flash image');
    }
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }

  private readAll(buf: Buffer, length: number, position: number): void {
    let got = 0;
    while (got < length) {
      let n: number;
      try {
        n = readSync(this.fd, buf, got, length - got, position + got);
      } catch (e) {
        throw fromSystemError(e, this.path, 'read flash image');
      }
      if (n === 0) throw new FwupError('TARGET_CORRUPT', `${this.path} ended early at ${position + got}`);
      got += n;
    }
  }

  private writeAll(data: Uint8Array, position: number): void {
    let done = 0;
    while (done < data.length) {
      try {
        done += writeSync(this.fd, data, done, data.length - done, position + done);
      } catch (e) {
        throw fromSystemError(e, this.path, 'write flash image');
      }
    }
  }
}
