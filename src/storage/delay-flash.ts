import type { Flash } from './flash.js';
import { ForwardingFlash } from './forwarding-flash.js';

/**
 * A chip whose erases take real time (a test knob, FWUP_EMU_ERASE_DELAY_MS): a W25Q128-class part
 * needs ~45 ms per 4 KiB sector, so an update holds the machine long enough for a second command, a
 * kill or a Ctrl-C to arrive in the middle of it.
 */
export class DelayFlash extends ForwardingFlash {
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));

  constructor(inner: Flash, private readonly eraseMs: number) {
    super(inner);
  }

  override erase(offset: number, length: number): void {
    Atomics.wait(this.sleeper, 0, 0, this.eraseMs * Math.max(1, length / this.geometry.blockSize));
    this.inner.erase(offset, length);
  }
}
