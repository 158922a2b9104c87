import { chipOf } from './chip.js';
import { firmwareBoot, warmUpFirmwareCode, type BootReport } from './firmware/firmware.js';
import { EmulatedMachine } from './machine.js';
import type { Platform } from './platform.js';

export interface MachineKnobs {
  idleCpus: number[];
  deafCpus: number[];
}

export interface PowerOnOptions {
  hostCpus: number;
  knobs: MachineKnobs;
  now: () => Date;
  /** Instructions every computing CPU runs before power-on is done, so the OS has state worth keeping. */
  warmupSteps?: number;
}

/**
 * Power on: the firmware's power-on boot (which first repairs and finishes or undoes anything a power
 * cut interrupted, and reverts an unconfirmed trial), then every CPU started at the reset vector.
 */
export async function powerOn(p: Platform, opts: PowerOnOptions): Promise<{ machine: EmulatedMachine; boot: BootReport }> {
  const machine = await EmulatedMachine.create({
    cpus: p.hardware.cpus,
    ramBytes: p.hardware.ramBytes,
    hostCpus: opts.hostCpus,
    seed: machineSeed(p),
    idleCpus: opts.knobs.idleCpus.filter((c) => c < p.hardware.cpus),
    deafCpus: opts.knobs.deafCpus.filter((c) => c < p.hardware.cpus),
  });
  try {
    warmUpFirmwareCode();
    const boot = await firmwareBoot({ chip: chipOf(p), ram: machine.ram, cpus: machine.cpus, cause: 'power-on', now: opts.now, hashEngine: machine.hashEngine });
    machine.start('cold');
    const target = opts.warmupSteps ?? 200_000;
    machine.waitProgress(new Array(machine.cpus).fill(target));
    return { machine, boot };
  } catch (e) {
    await machine.stop();
    throw e;
  }
}

/** The firmware alone, without processors: the recovery boot after a power cut, or `fwup machine boot`. */
export function recoveryBoot(p: Platform, now: () => Date): Promise<BootReport> {
  return firmwareBoot({ chip: chipOf(p), ram: new Uint8Array(0), cpus: p.hardware.cpus, cause: 'power-on', now });
}

/** The workload seed: fixed per machine, so a machine's OS behaves the same on every boot. */
export function machineSeed(p: Platform): number {
  let h = 0x811c9dc5;
  for (const ch of `fwup-emu/${p.hardware.createdAt}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return h >>> 0;
}
