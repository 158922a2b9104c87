import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { FwupError, fromSystemError } from '../errors/fwup-error.js';
import { checkRead, type ByteSource } from '../image/byte-source.js';

/**
 * An image file opened once: every pass over it (verify, then write) reads through this one file
 * descriptor, so a file renamed over the path in between changes nothing we read; a writer that
 * changes the same inode in place is caught because each pass hashes what it reads (SHA-256) and the
 * write pass must match the verify pass. Synchronous reads: the first asynchronous file operation of
 * a process starts libuv's thread pool, milliseconds of every cold start.
 */
export class FileSource implements ByteSource {
  /** Test hook: called between two passes (see `nextPass`), e.g. to change the file under us. */
  betweenPasses: (() => void | Promise<void>) | null = null;

  private constructor(private fd: number, readonly name: string, readonly path: string, readonly size: number) {}

  static open(path: string, name = path): FileSource {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw fromSystemError(e, path, 'read');
    }
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      throw new FwupError('USAGE', `${path} is not a regular file`, {
        hint: st.isDirectory() ? 'give the image file inside it' : 'give an image file (a device or pipe cannot be read twice)',
      });
    }
    return new FileSource(fd, name, path, st.size);
  }

  read(offset: number, length: number, into: Buffer): Buffer {
    checkRead(this, offset, length);
    let got = 0;
    while (got < length) {
      let n: number;
      try {
        n = readSync(this.fd, into, got, length - got, offset + got);
      } catch (e) {
        throw fromSystemError(e, this.path, 'read');
      }
      if (n === 0) {
        throw new FwupError('FILE_IO', `${this.path} shrank while it was read (at byte ${offset + got} of ${this.size})`, {
          hint: 'nothing was written from it; run the command again once the file is stable',
        });
      }
      got += n;
    }
    return into.subarray(0, length);
  }

  /** Marks the end of one pass over the file (the verification) before the next (the write). */
  async nextPass(): Promise<void> {
    if (this.betweenPasses) await this.betweenPasses();
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
