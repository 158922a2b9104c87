import type { Flash, FlashGeometry, FlashStats } from './flash.js';

/**
 * A chip whose erases take real time (a test knob, FWUP_EMU_ERASE_DELAY_MS): a W25Q128-class part
 * needs ~45 ms per 4 KiB sector, so an update holds the machine long enough for a second command, a
 * kill or a Ctrl-C to arrive in the middle of it.
 */
export class DelayFlash implements Flash {
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));

  constructor(private readonly inner: Flash, private readonly eraseMs: number) {}

  get geometry(): FlashGeometry {
    return this.inner.geometry;
  }

  get stats(): Readonly<FlashStats> {
    return this.inner.stats;
  }

  read(offset: number, length: number, into?: Buffer): Buffer {
    return this.inner.read(offset, length, into);
  }

  program(offset: number, data: Uint8Array): void {
    this.inner.program(offset, data);
  }

  erase(offset: number, length: number): void {
    Atomics.wait(this.sleeper, 0, 0, this.eraseMs * Math.max(1, length / this.geometry.blockSize));
    this.inner.erase(offset, length);
  }

  sync(): void {
    this.inner.sync();
  }

  close(): void {
    this.inner.close();
  }
}
