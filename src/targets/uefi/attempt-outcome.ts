import { attemptStatusName, type EsrtEntry } from './esrt.js';
import type { CapsuleResult } from './capsule-results.js';

/**
 * What became of a capsule, judged after the fact from the ESRT: the firmware records the version it
 * last tried (last_attempt_version) and how that went (last_attempt_status). The judgement combines
 * whether the machine has rebooted since (boot_id changed) with what the ESRT entry says now.
 */
export type OutcomeState = 'awaiting-reboot' | 'success' | 'failed' | 'not-attempted' | 'other-attempt';

/** The ESRT entry as it was when the capsule was handed over, and the version the capsule carries. */
export interface AttemptBaseline {
  esrt: string;
  fwClass: string;
  targetVersion: number;
  fwVersionBefore: number;
  lastAttemptVersionBefore: number;
  lastAttemptStatusBefore: number;
}

export interface EntryOutcome {
  esrt: string;
  fwClass: string;
  state: OutcomeState;
  targetVersion: number;
  fwVersion: number | null;
  lastAttemptVersion: number | null;
  lastAttemptStatus: number | null;
  statusName: string | null;
  detail: string;
  /** The firmware's own Capsule#### record for this image type, when there is one (after a reboot). */
  firmwareResult?: CapsuleResult | null;
  /** The ESRT and the result variable tell different stories: both are shown, the failure wins. */
  disagreement?: string | null;
}

/**
 * Put the firmware's result variable beside the ESRT's judgement. The ESRT says what the firmware last
 * tried per image type; Capsule#### says how processing the capsule itself went. When one reports a
 * failure and the other success, the outcome is a failure, with both named.
 */
export function withResult(o: EntryOutcome, r: CapsuleResult | null): EntryOutcome {
  if (!r) return { ...o, firmwareResult: null, disagreement: null };
  const esrtSays = o.state === 'success' ? true : o.state === 'failed' ? false : null;
  if (esrtSays === null || esrtSays === r.ok) return { ...o, firmwareResult: r, disagreement: null };
  const disagreement = `the ESRT says ${esrtSays ? 'success' : o.statusName ?? 'failure'}, the firmware's ${r.variable} says ${r.statusName} (${r.status})`;
  return { ...o, state: 'failed', firmwareResult: r, disagreement, detail: `${o.detail}; but ${disagreement}` };
}

type Rebooted = 'yes' | 'no' | 'unknown';
/** this-version: the firmware tried our version; unchanged: the entry is as before; other: it tried something else. */
type Attempt = 'this-version' | 'unchanged' | 'other';

/** The decision, as data: (rebooted, attempt) -> state; 'by-status' reads last_attempt_status. */
const DECISIONS: Record<Rebooted, Record<Attempt, OutcomeState | 'by-status'>> = {
  no: { 'this-version': 'awaiting-reboot', unchanged: 'awaiting-reboot', other: 'awaiting-reboot' },
  yes: { 'this-version': 'by-status', unchanged: 'not-attempted', other: 'other-attempt' },
  unknown: { 'this-version': 'by-status', unchanged: 'awaiting-reboot', other: 'other-attempt' },
};

export function rebootedSince(bootIdThen: string | null, bootIdNow: string | null): Rebooted {
  if (!bootIdThen || !bootIdNow) return 'unknown';
  return bootIdThen === bootIdNow ? 'no' : 'yes';
}

export function judgeEntry(base: AttemptBaseline, now: EsrtEntry | undefined, rebooted: Rebooted): EntryOutcome {
  const common = { esrt: base.esrt, fwClass: base.fwClass, targetVersion: base.targetVersion };
  if (!now) {
    return { ...common, state: rebooted === 'no' ? 'awaiting-reboot' : 'not-attempted', fwVersion: null, lastAttemptVersion: null, lastAttemptStatus: null, statusName: null, detail: `the ESRT no longer lists ${base.fwClass}` };
  }
  const changed = now.lastAttemptVersion !== base.lastAttemptVersionBefore || now.lastAttemptStatus !== base.lastAttemptStatusBefore;
  // After a reboot, an ESRT that names our version as the last attempt is our attempt even when the
  // numbers equal the old ones (the same version installed again with the same result).
  const attempt: Attempt =
    now.lastAttemptVersion === base.targetVersion && (changed || rebooted === 'yes') ? 'this-version' : changed ? 'other' : 'unchanged';
  const decided = DECISIONS[rebooted][attempt];
  const state: OutcomeState = decided === 'by-status' ? (now.lastAttemptStatus === 0 ? 'success' : 'failed') : decided;
  const hex = (n: number) => `0x${n.toString(16).toUpperCase().padStart(8, '0')}`;
  const statusName = attempt === 'unchanged' && state === 'awaiting-reboot' ? null : attemptStatusName(now.lastAttemptStatus);
  const details: Record<OutcomeState, string> = {
    'awaiting-reboot': 'the firmware processes the capsule at the next reboot',
    success: `the firmware installed ${hex(base.targetVersion)}${now.fwVersion === base.targetVersion ? '' : ` but reports fw_version ${hex(now.fwVersion)}`}`,
    failed: `the firmware tried ${hex(base.targetVersion)} and failed: ${attemptStatusName(now.lastAttemptStatus)} (last_attempt_status ${now.lastAttemptStatus})`,
    'not-attempted': `the machine rebooted but the firmware did not try the capsule (last attempt still ${hex(now.lastAttemptVersion)})`,
    'other-attempt': `the firmware's last attempt was ${hex(now.lastAttemptVersion)}, not ${hex(base.targetVersion)}`,
  };
  return {
    ...common,
    state,
    fwVersion: now.fwVersion,
    lastAttemptVersion: now.lastAttemptVersion,
    lastAttemptStatus: now.lastAttemptStatus,
    statusName,
    detail: details[state],
  };
}

/** One state for the whole capsule: a failure anywhere wins, success needs every payload to succeed. */
export function overallState(entries: readonly EntryOutcome[]): OutcomeState {
  const order: OutcomeState[] = ['failed', 'other-attempt', 'not-attempted', 'awaiting-reboot', 'success'];
  return order.find((s) => entries.some((e) => e.state === s)) ?? 'awaiting-reboot';
}
