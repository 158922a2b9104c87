import type { PolicyFacts } from '../image/policy.js';
import type { PublicKey } from '../image/keys.js';
import type { TrustedCertificateInput } from '../image/capsule-verify.js';
import type { FormatName, ImageReport } from '../image/report.js';
import type { FaultPlan } from '../storage/fault-flash.js';

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
}

export interface TargetFacts extends PolicyFacts {
  kind: TargetKind;
  spec: string;
  activeVersion: string | null;
  /** Keys signatures are checked against before staging; null when the target verifies itself. */
  trustedKeys: PublicKey[] | null;
  /** Certificates capsule signatures are checked against before staging; null when the target verifies itself. */
  trustedCerts?: TrustedCertificateInput[] | null;
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
}

export interface ApplyRequest {
  mode: 'warm' | 'cold';
  timeoutMs: number;
  confirm: boolean;
}

/** What apply and rollback hand back: a verdict and the target's own report. */
export interface ApplyOutcome {
  target: string;
  kind: TargetKind;
  ok: boolean;
  report: Record<string, unknown>;
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
