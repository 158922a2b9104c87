import type { ErrorCode } from '../../errors/codes.js';
import type { RebootReport } from '../host-reboot.js';
import type { StagedSummary } from '../target.js';
import type { BlockCounts } from './flashrom-output.js';

/** The staged request: `request.json` beside `image.bin` (the bytes flashrom will write). */
export interface FlashromRequest {
  recordVersion: 2;
  target: string;
  programmer: string;
  /** null: the whole chip. layoutFile is fwup's copy (layout.txt), so an edit of the user's file cannot move the write. */
  region: { name: string; start: number; end: number; source: 'layout' | 'ifd'; layoutFile: string | null; layoutSource: string | null } | null;
  image: { size: number; fileSha256: string; payloadSha256: string; format: StagedSummary['format']; version: string; versionNumber: number; source: string };
  /** The chip as read at stage time; apply refuses if it changed since. */
  chipBefore: { size: number; sha256: string };
  stagedAt: string;
}

/** The chip's content before the last write (saved before that write started), kept for `fwup rollback`. */
export interface FlashromBackup {
  recordVersion: 1;
  size: number;
  sha256: string;
  savedAt: string;
  /** What was about to replace it. */
  replacedBy: string;
}

export interface FlashromHistoryLine {
  time: string;
  action: 'install' | 'rollback' | 'failed';
  version: string;
  versionNumber: number;
  region: string | null;
  before: string;
  after: string;
  status: number;
  detail: string;
}

export interface FlashromStageDetails {
  kind: 'flashrom';
  programmer: string;
  chipSize: number;
  region: FlashromRequest['region'];
  /** The chip as read at stage time (null for a dry run: nothing was read). */
  chipBefore: { size: number; sha256: string } | null;
}

export interface FlashromApplyReport {
  action: 'install' | 'rollback';
  programmer: string;
  chipSize: number;
  region: { name: string; start: number; end: number } | null;
  version: string;
  before: { sha256: string | null };
  after: { sha256: string | null };
  blocks: BlockCounts | null;
  verified: boolean;
  backup: string | null;
  reboot: RebootReport | null;
  durationMs: number;
  phases: Array<{ name: string; ms: number }>;
}

export interface FlashromStatus {
  target: string;
  kind: 'flashrom';
  programmer: string;
  stateDir: string;
  /** The chip's size, or why flashrom could not reach it (status then exits with that error's code). */
  chip: { size: number } | { error: { code: ErrorCode; message: string; hint: string } };
  staged: (StagedSummary & { region: FlashromRequest['region']; chipBefore: FlashromRequest['chipBefore'] }) | null;
  backup: { sha256: string; size: number; savedAt: string; replacedBy: string } | null;
  lastWrite: FlashromHistoryLine | null;
}

export function flashromSummary(r: FlashromRequest): StagedSummary {
  return {
    version: r.image.version,
    versionNumber: r.image.versionNumber,
    format: r.image.format,
    size: r.image.size,
    fileSha256: r.image.fileSha256,
    payloadSha256: r.image.payloadSha256,
    stagedAt: r.stagedAt,
    flags: r.region ? [`region:${r.region.name}`] : [],
  };
}
