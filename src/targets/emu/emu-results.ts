import type { ApplyReport } from '../../machine/apply.js';
import type { RollbackState, SlotStatus } from '../../machine/firmware/firmware-status.js';
import type { InstallStrategy } from '../../storage/key-store.js';
import type { RegionWriteStats } from '../../storage/region-writer.js';
import type { StagedSummary } from '../target.js';

/** What a stage on an emulated machine did, beside the summary every target gives. */
export interface EmuStageDetails {
  kind: 'emu';
  /** Where the image went: STAGING, or the inactive slot (SLOT_A / SLOT_B) when staged in place. */
  region: string;
  /** Staged in place: the inactive slot now holds the image, and the rollback image is gone. */
  inPlace: boolean;
  /** Blocks of STAGING written, skipped (already right) and erased; null for a dry run. */
  write: RegionWriteStats | null;
  replaced: boolean;
}

export interface EmuApplyReport extends ApplyReport {
  /** What the firmware said at power-on (a machine booted for this command). */
  powerOn: string[];
  /** The method ran on a machine started with `fwup machine start`, whose OS keeps running. */
  live: boolean;
}

export interface EmuStatus {
  target: string;
  kind: 'emu';
  machine: {
    dir: string;
    platform: string;
    cpus: number;
    ramBytes: number;
    flashBytes: number;
    development: boolean;
    imageTypeId: string;
    /** How updates are installed (from the key store): copy, or in place. */
    install: InstallStrategy;
    trustedKeys: Array<{ name: string; keyId: string }>;
    trustedCerts: Array<{ name: string }>;
    /** A background machine (`fwup machine start`) runs: its pid. */
    runningPid: number | null;
    /** Another fwup holds the machine's lock right now (an apply in progress): its pid. */
    busyPid: number | null;
    /** An injected power cut left the machine off: the next command runs the recovery boot. */
    poweredOff: boolean;
  };
  firmware: {
    activeSlot: 'A' | 'B';
    version: string | null;
    versionNumber: number | null;
    trial: boolean;
    previousSlot: 'A' | 'B';
    slots: { A: SlotStatus; B: SlotStatus };
    recovery: SlotStatus;
    /** Whether `fwup rollback` has an image to go back to (staging in place consumes it). */
    rollback: RollbackState;
  } | null;
  staged: StagedSummary | null;
  /** The region the staged image is in: STAGING, or the inactive slot when staged in place. */
  stagedIn: string | null;
  /** The staged request exists but does not parse (the next boot discards it). */
  stagedProblem: string | null;
  lastAttempt: { status: number; statusName: string; version: string; versionNumber: number; time: string } | null;
  /** The anti-rollback floor the firmware enforces; null when it cannot be read (see warnings). */
  securityVersion: number | null;
  nvram: { size: number; used: number; free: number; live: number; variables: number; generation: number };
  /** Damage and anything else not as it should be, in words. */
  warnings: string[];
}
