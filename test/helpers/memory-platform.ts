import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createMachine } from '../../src/machine/factory.js';
import { platformOn, readMachineConfig, type Platform } from '../../src/machine/platform.js';
import type { MachineConfig } from '../../src/machine/config.js';
import { parsePublicKey } from '../../src/image/keys.js';
import { MemoryFlash } from '../../src/storage/memory-flash.js';
import type { InstallStrategy } from '../../src/storage/key-store.js';
import type { FaultPlan } from '../../src/storage/fault-flash.js';
import { chipOf } from '../../src/machine/chip.js';
import { firmwareView, type FirmwareView } from '../../src/machine/firmware/firmware-view.js';
import { firmwareBoot } from '../../src/machine/firmware/firmware.js';
import { parseFwupHeader, type FwupHeader } from '../../src/image/fwup-format.js';
import { readHeader } from '../../src/image/formats/fwup.js';
import { RegionSource } from '../../src/storage/region-source.js';

/** A freshly made machine's flash and hardware description, kept in memory: thousands of boots per second, no files. */
export interface MemoryMachine {
  config: MachineConfig;
  chip: Buffer;
}

export function makeMemoryMachine(opts: { cpus?: number; flashBytes?: number; trustPem?: string[]; development?: boolean; certs?: Array<{ name: string; der: Buffer }>; install?: InstallStrategy } = {}): MemoryMachine {
  const dir = mkdtempSync(join(tmpdir(), 'fwup-mem-'));
  try {
    const m = join(dir, 'm');
    createMachine(m, {
      cpus: opts.cpus ?? 2,
      flashBytes: opts.flashBytes ?? 2 << 20,
      platform: 'fwup-emu',
      trusted: (opts.trustPem ?? []).map((pem, i) => parsePublicKey(pem, `key${i}.pub`)),
      trustedCerts: opts.certs ?? [],
      development: opts.development ?? false,
      install: opts.install ?? 'copy',
      now: new Date(1_800_000_000_000),
      force: false,
    });
    return { config: readMachineConfig(m), chip: readFileSync(join(m, 'flash.img')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An OS-side platform over a memory flash (a copy of a chip, or its live bytes), optionally behind a fault plan. */
export function memoryPlatform(config: MachineConfig, flash: MemoryFlash, plan: FaultPlan | null = null, now = () => new Date(1_800_000_000_000)): Platform {
  return platformOn('(memory)', config, flash, { faultPlan: plan, now });
}

/**
 * What only the firmware may do, for test set-up and for attacks a test plays out (as a debugger on
 * the chip would): run `fn` with the firmware view of a platform's flash.
 */
export function asFirmware<T>(p: Platform, fn: (view: FirmwareView) => T): T {
  const chip = chipOf(p);
  return chip.controller.asFirmware(() => fn(firmwareView(chip)));
}

/** Raise the firmware's security-version floor in the boot record (what a confirm of such an image does). */
export function setSecurityFloor(view: FirmwareView, value: number): void {
  const r = view.records.read().value!;
  view.records.write({ ...r, securityVersion: value });
}

/** What a machine boots after its last boot, as the firmware sees it: the active slot, verified or not. */
export function activeImage(p: Platform): { slot: 'A' | 'B'; version: string | null; verified: boolean; staged: boolean } {
  const st = p.services.status();
  const slot = st.record!.active === 0 ? 'A' : 'B';
  let staged = false;
  try {
    staged = p.services.request() !== null;
  } catch {
    staged = false;
  }
  return { slot, version: st.slots[slot].version, verified: st.slots[slot].state === 'verified', staged };
}

/** The header of the image in a platform's active slot (after checking that the slot verifies). */
export function activeSlotHeader(p: Platform): FwupHeader {
  const a = activeImage(p);
  if (!a.verified) throw new Error(`the active slot ${a.slot} does not verify`);
  const region = a.slot === 'A' ? p.map.SLOT_A : p.map.SLOT_B;
  return parseFwupHeader(readHeader(new RegionSource(p.flash, region, 0, region.size)));
}

/** Run the pre-OS firmware on a platform's chip (a reset of the given cause). */
export function bootFirmware(p: Platform, cause: 'power-on' | 'warm' | 'cold' = 'power-on', ram: Uint8Array = new Uint8Array(0)) {
  return firmwareBoot({ chip: chipOf(p), ram, cpus: p.hardware.cpus, cause, now: () => new Date(1_800_000_000_000) });
}
