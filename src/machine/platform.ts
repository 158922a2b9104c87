import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FwupError, fromSystemError } from '../errors/fwup-error.js';
import type { Flash } from '../storage/flash.js';
import { FileFlash } from '../storage/file-flash.js';
import { FaultyFlash, type FaultPlan } from '../storage/fault-flash.js';
import { readFlashMap, type FlashMap } from '../storage/flash-map.js';
import { VariableStore } from '../storage/nvram/variable-store.js';
import { PlatformVariables } from '../storage/variables.js';
import { FLASH_FILE, MACHINE_FILE, parseMachineConfig, type MachineConfig } from './config.js';

/** An emulated machine's persistent parts, opened: its description, its flash, the map and NVRAM. */
export interface Platform {
  readonly dir: string;
  readonly config: MachineConfig;
  readonly flash: Flash;
  /** Present when FWUP_FAULT injects faults: counts the operations of this command. */
  readonly faults: FaultyFlash | null;
  readonly map: FlashMap;
  readonly vars: PlatformVariables;
  close(): void;
}

export interface OpenPlatformOptions {
  writable: boolean;
  faultPlan?: FaultPlan | null;
}

export function readMachineConfig(dir: string): MachineConfig {
  const path = join(dir, MACHINE_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const err = fromSystemError(e, path, 'read');
    if (err.code === 'FILE_NOT_FOUND') {
      throw new FwupError('TARGET_NOT_FOUND', `no emulated machine at ${dir} (${MACHINE_FILE} is missing)`, {
        hint: 'create one with `fwup machine init`',
      });
    }
    throw err;
  }
  return parseMachineConfig(text, path);
}

export function openPlatform(dir: string, opts: OpenPlatformOptions): Platform {
  const config = readMachineConfig(dir);
  const file = FileFlash.open(join(dir, FLASH_FILE), config.flash, { readOnly: !opts.writable });
  const faults = opts.faultPlan ? new FaultyFlash(file, opts.faultPlan) : null;
  const flash: Flash = faults ?? file;
  try {
    const map = readFlashMap(flash);
    const store = VariableStore.open(flash, map.NVRAM, map.NVRAM_SPARE, { writable: opts.writable });
    return { dir, config, flash, faults, map, vars: new PlatformVariables(store), close: () => flash.close() };
  } catch (e) {
    flash.close();
    throw e;
  }
}
