import { FwupError } from '../errors/fwup-error.js';
import type { Flash, FlashGeometry, FlashStats } from './flash.js';
import { planFlashMap } from './flash-map.js';

const METADATA = ['MAP', 'KEYSTORE', 'BOOTREC', 'NVRAM', 'NVRAM_SPARE', 'MAP_BACKUP'] as const;
const ATTEMPTS = 50;

/**
 * A read-only view for commands that take no lock (status, history): the small metadata regions
 * (map, key store, boot record, NVRAM and its spare) are copied into memory until two consecutive
 * reads agree byte for byte, so a writer in another process (one at a time: writers hold the machine
 * lock) is seen before or after an operation, never half-way through a sequence; firmware slots are
 * read live.
 */
export class SnapshotFlash implements Flash {
  private constructor(private readonly live: Flash, private readonly ranges: Array<{ offset: number; bytes: Buffer }>) {}

  static capture(live: Flash): SnapshotFlash {
    const plan = planFlashMap(live.geometry);
    const read = () => METADATA.map((n) => ({ offset: plan[n].offset, bytes: live.read(plan[n].offset, plan[n].size) }));
    let last = read();
    for (let i = 0; i < ATTEMPTS; i++) {
      const again = read();
      if (again.every((r, k) => r.bytes.equals(last[k]!.bytes))) return new SnapshotFlash(live, again);
      last = again;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
    throw new FwupError('TARGET_BUSY', 'the machine\'s flash kept changing while it was read', { hint: 'another command is writing it; try again when it is done' });
  }

  get geometry(): FlashGeometry {
    return this.live.geometry;
  }

  get stats(): Readonly<FlashStats> {
    return this.live.stats;
  }

  read(offset: number, length: number, into?: Buffer): Buffer {
    const r = this.ranges.find((x) => offset >= x.offset && offset + length <= x.offset + x.bytes.length);
    if (!r) return this.live.read(offset, length, into);
    const out = into ?? Buffer.allocUnsafe(length);
    r.bytes.copy(out, 0, offset - r.offset, offset - r.offset + length);
    return out.subarray(0, length);
  }

  program(): void {
    throw new Error('a snapshot of the flash is read-only');
  }

  erase(): void {
    throw new Error('a snapshot of the flash is read-only');
  }

  sync(): void {}

  close(): void {
    this.live.close();
  }
}
