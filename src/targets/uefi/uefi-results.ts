import type { CapsuleResult } from './capsule-results.js';
import type { RebootReport } from '../host-reboot.js';
import type { StagedSummary } from '../target.js';
import type { AttemptBaseline, EntryOutcome, OutcomeState } from './attempt-outcome.js';
import type { Delivery } from './capsule-delivery.js';
import type { EsrtEntry } from './esrt.js';
import type { FwupdEfiRecord } from './fwupd-efi.js';
import type { HelperReport } from './fwupd-efi-state.js';

/**
 * The handed-over capsule of one ESRT entry: `request-<GUID>.json` after stage, `pending-<GUID>.json`
 * after apply (uefi-records.ts). Written first as an intent (`intent-<GUID>.json`, `state:
 * 'delivering'`, before any write to the ESP or efivarfs) and then `'delivered'`, so a delivery cut
 * half-way is known and `unstage` undoes it.
 */
export interface UefiRequest {
  recordVersion: 2;
  state: 'delivering' | 'delivered';
  sysroot: string;
  delivery: Delivery;
  capsule: { source: string; size: number; fileSha256: string; payloadSha256: string; flags: number; flagNames: string[]; version: string; versionNumber: number };
  /** The loader, or the capsule's file on the ESP. */
  deliveredTo: string;
  /**
   * Hex strings: what OsIndications was before fwup's first capsule still on the ESP (a later stage
   * inherits it) and what it became (disk delivery), so unstaging the last capsule undoes exactly that.
   */
  osIndications: { path: string; before: string | null; after: string } | null;
  entries: AttemptBaseline[];
  stagedAt: string;
  bootIdAtStage: string | null;
  /** The capsule file a previous stage left on the ESP that this one replaces (removed once delivered). */
  replaces: string | null;
  /** Delivery fwupd-efi: every file and variable written, with the variables' content before (for unstage). */
  fwupdEfi?: FwupdEfiRecord | null;
}

export interface UefiPending extends UefiRequest {
  appliedAt: string;
  bootIdAtApply: string | null;
  reboot: { mode: 'warm' | 'cold'; command: string[] } | null;
}

export interface UefiHistoryLine {
  time: string;
  action: 'apply' | 'superseded';
  /** The ESRT entry (fw_class) the capsule was staged for (absent in lines of older fwup versions). */
  entry?: string;
  versionNumber: number;
  fromVersion: number;
  state: OutcomeState | 'delivered';
  status: number;
  detail: string;
  /** What was installed and how, and what the firmware said (absent in lines of older fwup versions). */
  attempt?: UefiAttemptRecord;
}

/** The depth fwupd keeps per attempt: the capsule's digests, the ESRT entries, the delivery, the firmware's result. */
export interface UefiAttemptRecord {
  capsule: { version: string; versionNumber: number; size: number; fileSha256: string; payloadSha256: string; source: string };
  entries: Array<{ esrt: string; fwClass: string; fwVersionBefore: number }>;
  delivery: Delivery;
  deliveredTo: string;
  /** Per ESRT entry after the reboot: the ESRT's verdict and the result variable's (null before the reboot). */
  firmware: Array<{ esrt: string; state: string; statusName: string | null; lastAttemptStatus: number | null; result: { variable: string; statusName: string; status: string } | null; disagreement: string | null }> | null;
  /** Delivery fwupd-efi, after the reboot: what fwupd's helper wrote back into the update-info variable. */
  helper?: HelperReport | null;
}

export interface UefiStageDetails {
  kind: 'uefi';
  delivery: Delivery;
  why: string;
  deliveredTo: string;
  entries: AttemptBaseline[];
  osIndications: UefiRequest['osIndications'];
  /** The firmware quirks (src/targets/uefi/uefi-quirks.json) that matched this machine's DMI strings. */
  quirks: string[];
  /** Why OsIndications was left alone (a read-only efivarfs), or null. */
  osIndicationsSkipped: string | null;
  /** The ESRT entry (fw_class) this capsule is staged for: a later stage for it replaces this one alone. */
  entry: string;
  /** The capsules of other ESRT entries the firmware also gets at the next boot (left as they were). */
  alsoStaged: Array<{ entry: string; deliveredTo: string; version: string }>;
}

/** apply's report: the first capsule's fields (as with one capsule), and every capsule handed over. */
export interface UefiApplyReport {
  delivery: Delivery;
  deliveredTo: string;
  capsule: UefiRequest['capsule'];
  entries: AttemptBaseline[];
  pending: string;
  capsules: Array<{ entry: string; delivery: Delivery; deliveredTo: string; capsule: UefiRequest['capsule']; entries: AttemptBaseline[]; pending: string }>;
  reboot: RebootReport | null;
  next: string;
}

export interface UefiStatus {
  target: string;
  kind: 'uefi';
  sysroot: string;
  stateDir: string;
  esrt: Array<EsrtEntry & { fwTypeName: string; lastAttemptStatusName: string }> | null;
  /** fwupdEfiHelper: fwupd's UEFI helper for the fallback delivery, when installed. */
  delivery: { loader: string | null; capsuleOnDisk: boolean; osIndications: string | null; esp: string | null; fwupdEfiHelper: string | null };
  /** Every capsule fwup handed over, one per ESRT entry (staged, or applied and pending), by entry. */
  capsules: UefiCapsuleStatus[];
  /** The first staged and the first pending capsule (all of them are in `capsules`). */
  staged: { version: string; fileSha256: string; payloadSha256: string; delivery: Delivery; deliveredTo: string; stagedAt: string; state: UefiRequest['state'] } | null;
  pending: { version: string; fileSha256: string; delivery: Delivery; appliedAt: string; reboot: UefiPending['reboot'] } | null;
  /** Every capsule's outcome together: a failure anywhere wins; `entries` per ESRT entry. */
  outcome: UefiOutcome | null;
  /** The firmware's Capsule#### result variables, newest first (CapsuleLast's first). */
  capsuleResults: CapsuleResult[];
  warnings: string[];
}

export interface UefiOutcome {
  state: OutcomeState;
  rebooted: string;
  entries: EntryOutcome[];
  /** Delivery fwupd-efi, after the reboot: what fwupd's helper wrote back into its update-info variable. */
  helper?: HelperReport;
}

export interface UefiCapsuleStatus {
  /** The ESRT entry (fw_class) it is staged for: its key. */
  entry: string;
  /** The ESRT entries (entry0, …) its payloads update. */
  esrt: string[];
  state: 'staged' | 'pending';
  version: string;
  versionNumber: number;
  size: number;
  fileSha256: string;
  payloadSha256: string;
  delivery: Delivery;
  /** The capsule's file on the ESP, or the loader. */
  file: string;
  stagedAt: string;
  appliedAt: string | null;
  /** What the firmware did with it (judged from the ESRT and the result variables). */
  outcome: UefiOutcome | null;
}

export function uefiSummary(r: UefiRequest): StagedSummary {
  return {
    version: r.capsule.version, versionNumber: r.capsule.versionNumber, format: 'capsule', size: r.capsule.size,
    fileSha256: r.capsule.fileSha256, payloadSha256: r.capsule.payloadSha256, stagedAt: r.stagedAt, flags: r.capsule.flagNames,
  };
}
