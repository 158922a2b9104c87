import type { Flash } from '../storage/flash.js';
import type { FaultyFlash } from '../storage/fault-flash.js';
import type { FlashMap } from '../storage/flash-map.js';
import type { FlashOp } from '../storage/recording-flash.js';
import type { Flash as AnyFlash } from '../storage/flash.js';
import type { FaultPlan } from '../storage/fault-flash.js';
import { chipOn, openChip, registerChip, type Chip, type OpenChipOptions } from './chip.js';
import type { MachineConfig } from './config.js';
import { runtimeLocks } from './firmware/firmware-view.js';
import { RuntimeServices } from './firmware/runtime-services.js';

export { readMachineConfig } from './chip.js';

/**
 * An emulated machine as the OS sees it: its hardware description, the OS view of the flash (it may
 * write STAGING and nothing else) and the firmware's runtime services (the update request, confirm and
 * revert, and read-only firmware state). Everything the OS side of fwup does goes through this.
 */
export interface Platform {
  readonly dir: string;
  readonly hardware: MachineConfig;
  readonly map: FlashMap;
  /** The OS view: writes outside STAGING are refused (FLASH_WRITE_PROTECTED) and change nothing. */
  readonly flash: Flash;
  readonly services: RuntimeServices;
  /** Present when FWUP_FAULT injects faults: counts the operations of this command. */
  readonly faults: FaultyFlash | null;
  /** Every program and erase of this command so far (a dry run: what it would have written). */
  readonly ops: readonly FlashOp[];
  close(): void;
}

export function openPlatform(dir: string, opts: OpenChipOptions & { now?: () => Date }): Platform {
  return platformOf(openChip(dir, opts), opts.now);
}

/** A platform over a Flash of the caller's (in-memory machines in tests and the benchmark). */
export function platformOn(dir: string, hardware: MachineConfig, flash: AnyFlash, opts: { faultPlan?: FaultPlan | null; now?: () => Date } = {}): Platform {
  return platformOf(chipOn(dir, hardware, flash, { writable: true, faultPlan: opts.faultPlan ?? null }), opts.now);
}

function platformOf(chip: Chip, now?: () => Date): Platform {
  // The machine booted before this command: its firmware locked its regions until the next reset.
  chip.controller.lock(runtimeLocks(chip.map));
  const p: Platform = {
    dir: chip.dir, hardware: chip.hardware, map: chip.map, flash: chip.controller.os,
    services: new RuntimeServices(chip, now ?? (() => new Date())), faults: chip.faults, ops: chip.ops, close: () => chip.close(),
  };
  registerChip(p, chip);
  return p;
}
