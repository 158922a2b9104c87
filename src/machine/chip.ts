import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FwupError, fromSystemError } from '../errors/fwup-error.js';
import type { Flash } from '../storage/flash.js';
import { FileFlash } from '../storage/file-flash.js';
import { FaultyFlash, type FaultPlan } from '../storage/fault-flash.js';
import { FlashController, type WriteAudit } from '../storage/flash-controller.js';
import { DelayFlash } from '../storage/delay-flash.js';
import { readFlashMapCopies, REGION_NAMES, type FlashMap } from '../storage/flash-map.js';
import { SnapshotFlash } from '../storage/snapshot-flash.js';
import { OverlayFlash, RecordingFlash, type FlashOp } from '../storage/recording-flash.js';
import { TimedFlash } from '../storage/timed-flash.js';
import { FLASH_FILE, MACHINE_FILE, parseMachineConfig, type MachineConfig } from './config.js';

/**
 * An emulated machine's hardware, opened: its description, the flash chip behind the flash
 * controller (which gives the OS and the firmware their two views), and the flash map. Opened by the
 * firmware's code (a boot, a runtime service) and by the OS-side platform, which hands on only the
 * OS view.
 */
export interface Chip {
  readonly dir: string;
  readonly hardware: MachineConfig;
  readonly controller: FlashController;
  readonly map: FlashMap;
  /** Per copy of the flash map: null when it checks, else why not. */
  readonly mapProblems: readonly [string | null, string | null];
  /** Present when FWUP_FAULT injects faults: counts the operations of this command. */
  readonly faults: FaultyFlash | null;
  readonly writable: boolean;
  /** Every program and erase this command's code did (or, over an overlay, would have done), in order. */
  readonly ops: readonly FlashOp[];
  /** Present when machine.json names a flash timing model: the simulated time of this command's operations. */
  readonly timing: TimedFlash | null;
  close(): void;
}

export interface OpenChipOptions {
  writable: boolean;
  faultPlan?: FaultPlan | null;
  /**
   * Read-only commands (status, history) take no lock: the metadata regions are read into memory until
   * two reads agree, so a command writing at the same time is seen before or after, never half-way.
   */
  snapshot?: boolean;
  /** --dry-run: the flash file is opened read-only and every write lands in memory (and is recorded). */
  overlay?: boolean;
  /** Test knobs: append every write (offset, mode, view) to this file at close; make erases slow. */
  auditFile?: string | null;
  eraseDelayMs?: number;
}

export function readMachineConfig(dir: string): MachineConfig {
  const path = join(dir, MACHINE_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const err = fromSystemError(e, path, 'read');
    if (err.code === 'FILE_NOT_FOUND') {
      let isDir = false;
      try {
        isDir = statSync(dir).isDirectory();
      } catch {
        /* neither */
      }
      throw new FwupError('TARGET_NOT_FOUND', `no emulated machine at ${dir} (${MACHINE_FILE} is missing)`, {
        hint: isDir ? 'create one with `fwup machine init`' : `${dir} does not exist; create a machine there with \`fwup machine init ${dir}\``,
      });
    }
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw new FwupError('TARGET_INVALID', `${dir} is a file, not a machine directory`, { hint: 'give emu:DIR, the directory `fwup machine init DIR` made' });
    }
    throw damaged(err, path);
  }
  return parseMachineConfig(text, path);
}

/** Trouble reading a machine's own files is damage to the machine (exit 10), not a usage error. */
function damaged(e: FwupError, path: string): FwupError {
  if (e.code === 'PERMISSION_DENIED') return e;
  return new FwupError('TARGET_CORRUPT', `the machine's ${path} cannot be used: ${e.message}`, {
    hint: 're-create the machine with `fwup machine init --force` (its flash is lost)',
    cause: e,
  });
}

export function openChip(dir: string, opts: OpenChipOptions): Chip {
  const hardware = readMachineConfig(dir);
  const path = join(dir, FLASH_FILE);
  let file: FileFlash;
  const writable = opts.writable || Boolean(opts.overlay);
  try {
    file = FileFlash.open(path, hardware.flash, { readOnly: !opts.writable || Boolean(opts.overlay) });
  } catch (e) {
    const err = fromSystemError(e, path, 'open flash image');
    throw err.code === 'TARGET_CORRUPT' ? err : damaged(err, path);
  }
  let flash: Flash = file;
  try {
    if (opts.snapshot && !writable) flash = SnapshotFlash.capture(file);
    if (opts.overlay) flash = new OverlayFlash(flash);
    if (opts.eraseDelayMs) flash = new DelayFlash(flash, opts.eraseDelayMs);
    const chip = chipOn(dir, hardware, flash, { writable, faultPlan: opts.writable && !opts.overlay ? opts.faultPlan ?? null : null });
    return opts.auditFile ? audited(chip, opts.auditFile) : chip;
  } catch (e) {
    flash.close();
    throw e;
  }
}

/**
 * A chip over a Flash of the caller's (an in-memory model in tests and the benchmark, thousands of
 * boots a second), optionally behind the seeded fault wrapper.
 */
export function chipOn(dir: string, hardware: MachineConfig, flash: Flash, opts: { writable: boolean; faultPlan?: FaultPlan | null }): Chip {
  // Innermost, so it counts what reaches the chip: an operation a fault stops never took place.
  const timing = hardware.flashTiming ? new TimedFlash(flash, hardware.flashTiming) : null;
  let chip: Flash = timing ?? flash;
  const faults = opts.faultPlan ? new FaultyFlash(chip, opts.faultPlan) : null;
  if (faults) chip = faults;
  const recorder = new RecordingFlash(chip);
  chip = recorder;
  const copies = readFlashMapCopies(chip);
  const controller = new FlashController(chip, [copies.map.STAGING]);
  return {
    dir, hardware, controller, map: copies.map, mapProblems: copies.problems, faults, writable: opts.writable, ops: recorder.ops, timing,
    close: () => chip.close(),
  };
}

/** Every write this command makes, with the controller mode and view it came through, appended to a file at close. */
function audited(chip: Chip, file: string): Chip {
  const log: WriteAudit[] = [];
  chip.controller.audit = log;
  return {
    ...chip,
    close: () => {
      const regionOf = (o: number) => REGION_NAMES.find((n) => o >= chip.map[n].offset && o < chip.map[n].offset + chip.map[n].size) ?? 'unmapped';
      if (log.length) appendFileSync(file, log.map((a) => `${JSON.stringify({ ...a, region: regionOf(a.offset), dir: chip.dir })}\n`).join(''));
      chip.close();
    },
  };
}

const chips = new WeakMap<object, Chip>();

/** Tie an OS-side platform object to its chip, for the machine's own code (power-on, the reset in apply). */
export function registerChip(owner: object, chip: Chip): void {
  chips.set(owner, chip);
}

/** The chip behind an OS-side platform: for machine/ code that runs the firmware (a reset), never for the OS. */
export function chipOf(owner: object): Chip {
  const c = chips.get(owner);
  if (!c) throw new Error('not an opened machine platform');
  return c;
}
