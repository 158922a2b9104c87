import type { PolicyFacts } from '../image/policy.js';
import type { PublicKey } from '../image/keys.js';
import type { TrustedCertificateInput } from '../image/capsule-verify.js';
import type { FormatName, ImageReport } from '../image/report.js';
import type { FaultPlan } from '../storage/fault-flash.js';
import type { Exec } from './exec.js';
import type { PlannedAction } from './plan.js';

export type TargetKind = 'emu' | 'flashrom' | 'uefi';

/** What a target needs from the world, passed in by core (targets never read globals). */
export interface TargetDeps {
  readonly now: () => Date;
  readonly log: { verbose(m: string): void; info(m: string): void; warn(m: string): void };
  /** Where targets without storage of their own keep records (flashrom, uefi). */
  readonly stateDir: string;
  /** FWUP_FAULT, for the emulated target only. */
  readonly faultPlan: FaultPlan | null;
  /** Host cores, for sizing worker pools. */
  readonly hostCpus: number;
  /** How to run fwup again (for `machine start`). */
  readonly selfCommand: readonly string[];
  /** Emulated-machine test knobs (FWUP_EMU_*: docs/testing.md). */
  readonly emuKnobs: { idleCpus: number[]; deafCpus: number[]; corruptSaveCpu: number | null };
  /** Runs helpers (flashrom, sudo, chattr, the reboot command): the only way targets start programs. */
  readonly exec: Exec;
  /** Where the host's /sys, /dev, /proc and ESP are looked up: "/" on a real system, a fixture tree in tests. */
  readonly sysroot: string;
  /** The working directory helpers run in (relative paths in a flashrom spec are relative to it). */
  readonly cwd: string;
  /** fwup runs as root: helpers that need root can run directly. */
  readonly isRoot: boolean;
  /** FWUP_REBOOT_COMMAND: replaces `systemctl reboot` / `reboot` (tests, unusual systems); null = detect. */
  readonly rebootCommand: readonly string[] | null;
}

/** How to reach a hardware target, from the command line; the emulated target ignores them. */
export interface TargetOptions {
  /** Run helpers and privileged writes through `sudo -n` when fwup is not root. */
  sudo: boolean;
  /** flashrom: write one named region instead of the whole chip. */
  region?: string;
  /** flashrom: the layout file naming the regions (flashrom -l). */
  layout?: string;
  /** flashrom: take the regions from the chip's Intel Flash Descriptor (flashrom --ifd). */
  ifd: boolean;
  /** uefi: how the capsule reaches the firmware; auto picks the loader when present, else capsule on disk. */
  capsuleDelivery: 'auto' | 'loader' | 'disk';
  /** uefi: the EFI system partition's mount point inside the sysroot (default: /boot/efi, /efi, /boot). */
  esp?: string;
}

export const DEFAULT_TARGET_OPTIONS: TargetOptions = { sudo: false, ifd: false, capsuleDelivery: 'auto' };

export interface TargetFacts extends PolicyFacts {
  kind: TargetKind;
  spec: string;
  activeVersion: string | null;
  /** Keys signatures are checked against before staging; null when the target verifies itself. */
  trustedKeys: PublicKey[] | null;
  /** Certificates capsule signatures are checked against before staging; null when the target verifies itself. */
  trustedCerts?: TrustedCertificateInput[] | null;
  /** A raw image needs no --version here (a whole-chip dump has none): flashrom. */
  rawWithoutVersion?: boolean;
}

/** An image that passed every check in `stage`, ready to be written. */
export interface VerifiedImage {
  path: string;
  format: FormatName;
  size: number;
  report: ImageReport;
  /** CRC-32 of the whole file as read while verifying: the write pass must see the same bytes. */
  fileCrc32: number;
}

export interface StageOptions {
  allowOlder: boolean;
  allowUnsigned: boolean;
  /** Targets that check versions themselves (uefi: against the ESRT) honour it. */
  allowReinstall: boolean;
  /** Validate and describe, change nothing: the result carries the plan. */
  dryRun: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface StagedSummary {
  version: string;
  versionNumber: number;
  format: FormatName;
  size: number;
  sha256: string;
  crc32: number;
  stagedAt: string;
  flags: string[];
}

export interface StageResult {
  staged: StagedSummary;
  /** A previous staged update was invalidated and replaced. */
  replaced: boolean;
  /** Blocks written / skipped, where the target knows. */
  write: { bytes: number; blocks: number; unchanged: number; programmedOnly: number; erased: number } | null;
  /** Every helper run and write, in order; with --dry-run none of them was performed. */
  plan: PlannedAction[];
  dryRun: boolean;
  /** Target-specific facts about where the image went (flashrom region, uefi delivery path). */
  details?: Record<string, unknown>;
}

export interface ApplyRequest {
  mode: 'warm' | 'cold';
  timeoutMs: number;
  confirm: boolean;
  /**
   * Hardware targets: reboot the host in `mode` afterwards (the user asked for --warm or --cold and not
   * --no-reboot). The emulated target resets its own processors and never reboots the host.
   */
  reboot: boolean;
  dryRun: boolean;
  onProgress?: (p: { phase: string; done: number; total: number }) => void;
}

/** What apply and rollback hand back: a verdict and the target's own report. */
export interface ApplyOutcome {
  target: string;
  kind: TargetKind;
  ok: boolean;
  report: Record<string, unknown>;
  plan: PlannedAction[];
  dryRun: boolean;
}

export interface HistoryItem {
  time: string;
  action: string;
  fromVersion: number;
  toVersion: number;
  status: number;
  statusName: string;
  detail: string;
}

export interface TargetStatus {
  target: string;
  kind: TargetKind;
  [key: string]: unknown;
}

export interface Target {
  readonly kind: TargetKind;
  readonly spec: string;
  /** Exclusive access for a mutating command; waits up to `timeoutMs`, then fails with TARGET_BUSY. */
  lock(timeoutMs: number): Promise<() => Promise<void>>;
  facts(): Promise<TargetFacts>;
  stage(image: VerifiedImage, opts: StageOptions): Promise<StageResult>;
  /** Remove the staged update; false when there was none. */
  unstage(): Promise<boolean>;
  status(): Promise<TargetStatus>;
  /** Install the staged update (the method's steps 4 to 7) and check the outcome. */
  apply(req: ApplyRequest): Promise<ApplyOutcome>;
  /** Back to the previous firmware by the same path. */
  rollback(req: ApplyRequest): Promise<ApplyOutcome>;
  history(): Promise<HistoryItem[]>;
}
