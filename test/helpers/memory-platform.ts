import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createMachine } from '../../src/machine/factory.js';
import { readMachineConfig, type Platform } from '../../src/machine/platform.js';
import type { MachineConfig } from '../../src/machine/config.js';
import { parsePublicKey } from '../../src/image/keys.js';
import { MemoryFlash } from '../../src/storage/memory-flash.js';
import { FaultyFlash, type FaultPlan } from '../../src/storage/fault-flash.js';
import type { Flash } from '../../src/storage/flash.js';
import { readFlashMap } from '../../src/storage/flash-map.js';
import { VariableStore } from '../../src/storage/nvram/variable-store.js';
import { PlatformVariables } from '../../src/storage/variables.js';

/** A freshly made machine's flash and config, kept in memory: thousands of boots per second, no files. */
export interface MemoryMachine {
  config: MachineConfig;
  chip: Buffer;
}

export function makeMemoryMachine(opts: { cpus?: number; flashBytes?: number; trustPem?: string[]; development?: boolean } = {}): MemoryMachine {
  const dir = mkdtempSync(join(tmpdir(), 'fwup-mem-'));
  try {
    const m = join(dir, 'm');
    createMachine(m, {
      cpus: opts.cpus ?? 2,
      flashBytes: opts.flashBytes ?? 2 << 20,
      platform: 'fwup-emu',
      trusted: (opts.trustPem ?? []).map((pem, i) => ({ ...parsePublicKey(pem, `key${i}.pub`), pem })),
      development: opts.development ?? false,
      now: new Date(1_800_000_000_000),
      force: false,
    });
    return { config: readMachineConfig(m), chip: readFileSync(join(m, 'flash.img')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Open a Platform over a copy (or the live bytes) of a chip, optionally behind a fault plan. */
export function memoryPlatform(config: MachineConfig, flash: MemoryFlash, plan: FaultPlan | null = null): Platform & { faults: FaultyFlash | null } {
  const faults = plan ? new FaultyFlash(flash, plan) : null;
  const f: Flash = faults ?? flash;
  const map = readFlashMap(f);
  const vars = new PlatformVariables(VariableStore.open(f, map.NVRAM, map.NVRAM_SPARE, { writable: true }));
  return { dir: '(memory)', config, flash: f, faults, map, vars, close: () => {} };
}
