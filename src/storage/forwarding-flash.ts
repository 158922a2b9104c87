import type { Flash, FlashGeometry, FlashStats } from './flash.js';

/**
 * A chip wrapped by another: every operation goes to `inner` unless the wrapper overrides it. The
 * test and dry-run wrappers (delays, faults, recording, copy-on-write) change one or two operations each.
 */
export class ForwardingFlash implements Flash {
  constructor(protected readonly inner: Flash) {}

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
    this.inner.erase(offset, length);
  }

  sync(): void {
    this.inner.sync();
  }

  close(): void {
    this.inner.close();
  }
}
