import { FwupError } from '../errors/fwup-error.js';
import type { Flash, FlashGeometry, FlashStats } from './flash.js';
import type { Region } from './flash-map.js';

/**
 * The flash controller between the chip and the software, as real platforms have it (Intel's SPI
 * controller with BIOS write protection, SMM-only writes and protected ranges): two views of one chip.
 *
 * - The **OS view** may read everything and write only the ranges the platform gives the OS (STAGING).
 * - The **firmware view** writes only while the firmware's code runs (`asFirmware`, the model of SMM
 *   entry or of the pre-OS boot), and never a range the firmware locked: locks hold until the next reset,
 *   as protected-range registers do.
 *
 * A refused write changes nothing. Only the firmware's code path (machine/firmware) gets the controller;
 * the OS side gets `os` alone.
 */
export type FlashMode = 'os' | 'firmware';

export interface WriteAudit {
  op: 'program' | 'erase';
  offset: number;
  length: number;
  mode: FlashMode;
  view: 'os' | 'firmware';
}

export class FlashController {
  readonly os: Flash;
  readonly firmware: Flash;
  private mode: FlashMode = 'os';
  private depth = 0;
  private locks: Region[] = [];
  /** Ranges the firmware opened to the OS until the next reset (the inactive slot, for staging in place). */
  private granted: Region[] = [];
  /** Every write that reached the chip, with the mode and view it came through (tests audit it). */
  audit: WriteAudit[] | null = null;

  constructor(readonly chip: Flash, private readonly osWritable: readonly Region[]) {
    this.os = new ViewFlash(chip, (op, offset, length) => this.checkOs(op, offset, length));
    this.firmware = new ViewFlash(chip, (op, offset, length) => this.checkFirmware(op, offset, length));
  }

  get currentMode(): FlashMode {
    return this.mode;
  }

  /** Run firmware code (a boot, a runtime service): the firmware view may write for its duration. */
  asFirmware<T>(fn: () => T): T {
    this.enter();
    let async = false;
    try {
      const r = fn();
      if (r instanceof Promise) {
        async = true;
        return r.finally(() => this.leave()) as T;
      }
      return r;
    } finally {
      if (!async) this.leave();
    }
  }

  /** Lock ranges against every write until the next reset (the firmware does this before the OS runs). */
  lock(regions: readonly Region[]): void {
    this.locks.push(...regions);
  }

  /**
   * Open a range to the OS view until the next reset. Only firmware code may (a runtime service that
   * first recorded that the range holds nothing the firmware trusts).
   */
  grantOs(region: Region): void {
    if (this.mode !== 'firmware') throw new Error('only the firmware opens a range to the OS');
    if (!this.granted.some((r) => r.offset === region.offset && r.size === region.size)) this.granted.push(region);
  }

  /** A reset: the protected ranges are released and the ranges opened to the OS closed, for the firmware that runs next. */
  reset(): void {
    this.locks = [];
    this.granted = [];
  }

  lockedRegions(): readonly Region[] {
    return this.locks;
  }

  private enter(): void {
    this.depth++;
    this.mode = 'firmware';
  }

  private leave(): void {
    if (--this.depth === 0) this.mode = 'os';
  }

  private checkOs(op: 'program' | 'erase', offset: number, length: number): void {
    const writable = [...this.osWritable, ...this.granted];
    const inside = writable.find((r) => offset >= r.offset && offset + length <= r.offset + r.size);
    if (!inside) {
      throw new FwupError('FLASH_WRITE_PROTECTED', `the OS may not ${op} flash at 0x${offset.toString(16)} (+${length}): only ${writable.map((r) => r.name).join(', ')} is writable from the OS`, {
        hint: 'firmware state (slots, boot record, key store, NVRAM) is written by the firmware alone; nothing was changed',
        details: { offset, length, op },
      });
    }
    this.record(op, offset, length, 'os');
  }

  private checkFirmware(op: 'program' | 'erase', offset: number, length: number): void {
    if (this.mode !== 'firmware') {
      throw new FwupError('FLASH_WRITE_PROTECTED', `firmware-view ${op} at 0x${offset.toString(16)} while the OS runs: refused`, {
        hint: 'only the firmware writes through its view (a bug in fwup if you see this); nothing was changed',
      });
    }
    const locked = this.locks.find((r) => offset < r.offset + r.size && offset + length > r.offset);
    if (locked) {
      throw new FwupError('FLASH_WRITE_PROTECTED', `flash region ${locked.name} is locked until the next reset: ${op} at 0x${offset.toString(16)} refused`, {
        hint: 'the firmware locks its regions before the OS runs; nothing was changed',
      });
    }
    this.record(op, offset, length, 'firmware');
  }

  private record(op: 'program' | 'erase', offset: number, length: number, view: 'os' | 'firmware'): void {
    this.audit?.push({ op, offset, length, mode: this.mode, view });
  }
}

/** A view of the chip whose writes pass a check first (reads, sync and close go straight through). */
class ViewFlash implements Flash {
  constructor(private readonly chip: Flash, private readonly check: (op: 'program' | 'erase', offset: number, length: number) => void) {}

  get geometry(): FlashGeometry {
    return this.chip.geometry;
  }

  get stats(): Readonly<FlashStats> {
    return this.chip.stats;
  }

  read(offset: number, length: number, into?: Buffer): Buffer {
    return this.chip.read(offset, length, into);
  }

  program(offset: number, data: Uint8Array): void {
    this.check('program', offset, data.length);
    this.chip.program(offset, data);
  }

  erase(offset: number, length: number): void {
    this.check('erase', offset, length);
    this.chip.erase(offset, length);
  }

  sync(): void {
    this.chip.sync();
  }

  close(): void {
    this.chip.close();
  }
}
