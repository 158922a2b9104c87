import type { PolicyFacts } from '../image/policy.js';
import type { PublicKey } from '../image/keys.js';
import type { TrustedCertificateInput } from '../image/capsule-verify.js';
import type { ImageVerdict } from '../image/format.js';
import type { FormatName } from '../image/report.js';
import type { Exec } from './exec.js';
import type { PlannedAction } from './plan.js';
import type { EmuApplyReport, EmuStageDetails, EmuStatus } from './emu/emu-results.js';
import type { FlashromApplyReport, FlashromStageDetails, FlashromStatus } from './flashrom/flashrom-results.js';
import type { UefiApplyReport, UefiStageDetails, UefiStatus } from './uefi/uefi-results.js';
import type { RedfishApplyReport, RedfishStageDetails, RedfishStatus } from './redfish/redfish-results.js';

export type TargetKind = 'emu' | 'flashrom' | 'uefi' | 'redfish';

/** What every target needs from the world, passed in by core (targets never read globals). */
export interface TargetDeps {
  readonly now: () => Date;
  readonly log: { verbose(m: string): void; info(m: string): void; warn(m: string): void };
  /** Where targets without storage of their own keep records (flashrom, uefi). */
  readonly stateDir: string;
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
  /** Called after every write or command a host target performs (a crash sweep snapshots the world there). */
  readonly afterAction?: import('./plan.js').AfterAction;
}

/** What only the emulated target needs: handed to it alone by the target opener. */
export interface EmuDeps {
  /** FWUP_FAULT: injected power cuts, torn writes, read bit flips. */
  readonly faultPlan: import('../storage/fault-flash.js').FaultPlan | null;
  /** Host cores, for sizing the CPU worker pool. */
  readonly hostCpus: number;
  /** How to run fwup again (for `machine start`). */
  readonly selfCommand: readonly string[];
  /** Test knobs (FWUP_EMU_*: docs/testing.md). */
  readonly knobs: { idleCpus: number[]; deafCpus: number[]; corruptSaveCpu: number | null; auditFile: string | null; eraseDelayMs: number };
  /** The environment a background machine is started with. */
  readonly env: Readonly<Record<string, string | undefined>>;
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
  /** uefi: how the capsule reaches the firmware; auto picks the loader when present, else capsule on disk, else fwupd's UEFI helper. */
  capsuleDelivery: 'auto' | 'loader' | 'disk' | 'fwupd-efi';
  /** uefi: the EFI system partition's mount point inside the sysroot (default: /boot/efi, /efi, /boot). */
  esp?: string;
  /** uefi: stage even on battery or with the battery below 10%. */
  ignorePower?: boolean;
  /** redfish: the account file (JSON or two lines, mode 0600), instead of FWUP_REDFISH_USER/PASSWORD. */
  credentials?: string;
  /** redfish: the CA certificate (PEM) the BMC's certificate must chain to, instead of the system store. */
  ca?: string;
  /** redfish: do not verify the BMC's certificate. */
  insecure: boolean;
  /** redfish: allow a plain-http BMC URL. */
  allowHttp: boolean;
  /** redfish: where fwup's image server binds for SimpleUpdate (ADDRESS[:PORT]). */
  serveAddress?: string;
  /** redfish: the FirmwareInventory item to update (its Id), when fwup cannot tell. */
  component?: string;
  /** redfish: how to send the image (auto: multipart, else SimpleUpdate, else HttpPushUri). */
  pushMethod: 'auto' | 'multipart' | 'simple-update' | 'http-push';
  /** redfish: how long the BMC's task may go without progress while staging (ms; default 600 s). */
  taskTimeoutMs?: number;
  /** redfish: the @Redfish.OperationApplyTime to stage with (default: the latest one the BMC offers). */
  applyTime?: string;
}

export const DEFAULT_TARGET_OPTIONS: TargetOptions = { sudo: false, ifd: false, capsuleDelivery: 'auto', insecure: false, allowHttp: false, pushMethod: 'auto' };

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

/** An image that passed every check of stage's verify and policy steps. */
export interface StageInput {
  path: string;
  verdict: ImageVerdict;
}

export interface StageOptions {
  allowOlder: boolean;
  allowUnsigned: boolean;
  /** Targets that check versions themselves (uefi: against the ESRT) honour it. */
  allowReinstall: boolean;
  /** Validate and describe, change nothing: the result carries the plan. */
  dryRun: boolean;
}

/**
 * Where a stage writes its bytes. The engine (core) streams the verified bytes through it from the one
 * open file, hashing them; the target writes them and reads back what it stored.
 */
export interface StageSink {
  write(chunk: Buffer): void | Promise<void>;
  /** Everything is written and durable: the SHA-256 of what the target's storage holds, read back. */
  finish(): Promise<{ readBackSha256: string }>;
}

/**
 * One stage, as a target implements it: `beginStage` checks everything target-specific and writes
 * nothing; `open` starts writing (after the previous request is invalidated); `commit` records the
 * request once the engine has checked the bytes; `close` always runs.
 */
export interface StageSession {
  /** The bytes the target stores: the whole file, or the payload alone (its header stripped). */
  readonly range: 'file' | 'payload';
  readonly replaces: boolean;
  open(): Promise<StageSink>;
  /** `progress(fraction)`: targets whose record step takes long (a BMC's upload and task) move the bar. */
  commit(written: { sha256: string; bytes: number }, progress?: (fraction: number) => void): Promise<StageCommit>;
  close(): Promise<void>;
}

export interface StagedSummary {
  version: string;
  versionNumber: number;
  format: FormatName;
  size: number;
  /** SHA-256 of the file that was staged (what `--sha256` pins). */
  fileSha256: string;
  /** SHA-256 of the firmware payload inside it (null where the target cannot tell without parsing it again). */
  payloadSha256: string | null;
  stagedAt: string;
  flags: string[];
}

export type StageDetails = EmuStageDetails | FlashromStageDetails | UefiStageDetails | RedfishStageDetails;

export interface StageCommit {
  staged: StagedSummary;
  details: StageDetails;
  /** Every helper run and write, in order; with --dry-run none of them was performed. */
  plan: PlannedAction[];
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

interface OutcomeBase {
  target: string;
  ok: boolean;
  plan: PlannedAction[];
  dryRun: boolean;
}

/** What apply and rollback hand back: a verdict and the target's own typed report. */
export type ApplyOutcome =
  | (OutcomeBase & { kind: 'emu'; report: EmuApplyReport })
  | (OutcomeBase & { kind: 'flashrom'; report: FlashromApplyReport })
  | (OutcomeBase & { kind: 'uefi'; report: UefiApplyReport })
  | (OutcomeBase & { kind: 'redfish'; report: RedfishApplyReport });

export interface HistoryItem {
  time: string;
  action: string;
  fromVersion: number;
  toVersion: number;
  /** Versions as their display strings where the target knows them (raw numbers stay beside). */
  fromDisplay?: string;
  toDisplay?: string;
  status: number;
  statusName: string;
  detail: string;
  /** Target-specific depth (uefi: the capsule's digests, ESRT entries, delivery path, firmware result). */
  attempt?: unknown;
}

export type TargetStatus = EmuStatus | FlashromStatus | UefiStatus | RedfishStatus;

export interface Target {
  readonly kind: TargetKind;
  readonly spec: string;
  /** Exclusive access for a mutating command; waits up to `timeoutMs`, then fails with TARGET_BUSY. */
  lock(timeoutMs: number): Promise<() => Promise<void>>;
  facts(): Promise<TargetFacts>;
  beginStage(input: StageInput, opts: StageOptions): Promise<StageSession>;
  /** Remove the staged update; false when there was none. */
  unstage(opts: { dryRun: boolean }): Promise<{ removed: boolean; plan: PlannedAction[] }>;
  status(): Promise<TargetStatus>;
  /** Install the staged update (the method's steps 4 to 7) and check the outcome. */
  apply(req: ApplyRequest): Promise<ApplyOutcome>;
  /** Back to the previous firmware by the same path. */
  rollback(req: ApplyRequest): Promise<ApplyOutcome>;
  history(): Promise<HistoryItem[]>;
}
