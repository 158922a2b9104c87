import { Digester } from '../../util/digest.js';
import type { RegionWriteStats } from '../../storage/region-writer.js';
import type { BootRecord } from '../../storage/boot-record.js';
import {
  LAST_ATTEMPT_STATUS, REQUEST_FLAGS, slotName, type LastAttemptStatus, type UpdateRequest,
} from '../../storage/variables.js';
import type { ImageVerdict } from '../../image/format.js';
import type { Chip } from '../chip.js';
import { decide, type BootAction, type BootFacts, type RequestKind, type ResetCause, type Validity } from './boot-table.js';
import { FirmwareLog, NO_VERSION } from './firmware-log.js';
import { firmwareView, runtimeLocks, slotRegion, type FirmwareView } from './firmware-view.js';
import { effectiveFloor, headerVersion, regionHeader } from './firmware-state.js';
import { handOff } from './handoff.js';
import { install, switchSlot } from './install.js';
import { rebuildRecord, repairRecords } from './maintenance.js';
import { requestProblem, requestRegion, stateProblem } from './request-check.js';
import { activateInPlace, inPlaceSlot } from './in-place.js';
import type { Region } from '../../storage/flash-map.js';
import { verifyStagedImage } from './staged-image.js';
import type { ParallelSha256 } from '../../image/format.js';
import type { Measured } from './slot-check.js';

export type FirmwarePhase = 'verify' | 'program' | 'activate';

export interface FirmwareDeps {
  chip: Chip;
  ram: Uint8Array;
  cpus: number;
  cause: ResetCause;
  now: () => Date;
  /** Marks the start of a downtime phase (for the apply report). */
  phase?: (p: FirmwarePhase) => void;
  /** The machine's SHA-256 engine (absent: the bootstrap CPU computes every digest itself). */
  hashEngine?: ParallelSha256;
}

export interface BootReport {
  cause: ResetCause;
  facts: BootFacts;
  decision: string;
  actions: BootAction[];
  /** What the firmware did, in order, in words. */
  events: string[];
  handoff: 'resume' | 'cold-boot';
  activeSlot: 'A' | 'B';
  activeVersion: string;
  activeVersionNumber: number;
  securityVersion: number;
  installed: { slot: 'A' | 'B'; version: string; versionNumber: number; write: RegionWriteStats } | null;
  rejected: { status: LastAttemptStatus; reason: string } | null;
  stateProblem: string | null;
}

/**
 * The pre-OS firmware, run by the bootstrap CPU after every reset, with the flash controller in
 * firmware mode and every protected range released (a reset). In order: repair the firmware's own
 * records from their second copies; finish or undo an interrupted update; revert an unconfirmed
 * trial; let the boot table decide from the reset cause, the request, and (only when a row needs
 * them) the staged image and the saved state; act; check the slot to run (recovering it if need be);
 * lock the firmware's regions until the next reset; hand over to the OS.
 */
export function firmwareBoot(d: FirmwareDeps): Promise<BootReport> {
  const controller = d.chip.controller;
  controller.reset();
  return controller.asFirmware(async () => {
    const view = firmwareView(d.chip);
    const log = new FirmwareLog(view, d.now);
    log.event(`reset cause: ${d.cause}`);
    repairRecords(view, log);
    let record = view.records.read().value ?? (await rebuildRecord(view, log));
    record = finishInterrupted(view, record, log);
    record = revertUnconfirmed(view, record, log);

    d.phase?.('verify');
    const facts = await gatherFacts(view, record, d);
    const row = decide(facts.boot);
    log.event(row.say);
    if (facts.stateError && d.cause === 'warm' && (facts.kind === 'apply-warm' || facts.kind === 'rollback-warm')) log.event(`state check: ${facts.stateError}`);

    let rejection = facts.rejection;
    let installed: BootReport['installed'] = null;
    const verified = new Map<number, Measured>();
    for (const action of row.then) {
      switch (action) {
        case 'install': {
          // Staged in place: the slot was verified where it is; nothing is copied in the downtime.
          log.hold();
          const r = facts.region && facts.region !== view.map.STAGING
            ? activateInPlace(view, record, facts.request!, facts.verdict!, log, d.phase)
            : install(view, record, facts.request!, facts.verdict!, log, d.phase);
          record = r.record;
          if (r.ok) {
            installed = r.installed;
            verified.set(record.active, r.image);
            // The outcome and the cleared request: one NVRAM commit, after the activating boot-record update.
            log.commit({ clearRequest: true });
          } else {
            log.commit({ clearRequest: false });
            rejection = { status: r.status, reason: r.reason };
            refuse(view, record, facts.request, rejection, log);
          }
          break;
        }
        case 'switch-slot': {
          d.phase?.('activate');
          const r = switchSlot(view, record, log);
          record = r.record;
          if (!r.ok) {
            rejection = { status: r.status, reason: r.reason };
            refuse(view, record, null, rejection, log);
          } else clearRequest(view);
          break;
        }
        case 'reject':
          rejection ??= { status: LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL, reason: 'refused' };
          refuse(view, record, facts.request, rejection, log);
          break;
        case 'drop-warm':
          dropWarm(view, record, facts.request, d.cause, log);
          break;
        case 'resume':
        case 'cold-boot':
          break;
      }
    }
    const out = handOff(view, record, log, { full: d.cause !== 'warm', verified });
    record = out.record;
    controller.lock(runtimeLocks(view.map));
    const handoff: BootReport['handoff'] = row.then.includes('resume') ? 'resume' : 'cold-boot';
    const v = out.image.header;
    log.event(handoff === 'resume' ? `resuming the OS on slot ${slotName(record.active)} (${v.version})` : `booting the OS from scratch on slot ${slotName(record.active)} (${v.version})`);
    return {
      cause: d.cause,
      facts: facts.boot,
      decision: row.say,
      actions: row.then,
      events: log.events,
      handoff,
      activeSlot: slotName(record.active),
      activeVersion: v.version,
      activeVersionNumber: v.versionNumber,
      securityVersion: effectiveFloor(view, record),
      installed,
      rejected: row.then.includes('reject') || row.then.includes('switch-slot') || (row.then.includes('install') && !installed) ? rejection : null,
      stateProblem: facts.stateError && (facts.kind === 'apply-warm' || facts.kind === 'rollback-warm') ? facts.stateError : null,
    };
  });
}

interface Facts {
  boot: BootFacts;
  kind: RequestKind;
  request: UpdateRequest | null;
  verdict: ImageVerdict | null;
  /** Where the request's image is: STAGING or the inactive slot staged in place (null: no usable request). */
  region: Region | null;
  rejection: { status: LastAttemptStatus; reason: string } | null;
  stateError: string | null;
}

/** Establish the facts the boot table needs, verifying the image and the saved state only when a row needs them. */
async function gatherFacts(view: FirmwareView, record: BootRecord, d: FirmwareDeps): Promise<Facts> {
  let request: UpdateRequest | null = null;
  let kind: RequestKind = 'none';
  let requestError: string | null = null;
  try {
    request = view.vars.request();
  } catch (e) {
    requestError = e instanceof Error ? e.message : String(e);
    kind = 'invalid';
  }
  const inPlace = inPlaceSlot(view, record);
  if (request) {
    requestError = requestProblem(request, view.map, inPlace);
    if (requestError) kind = 'invalid';
    else if (request.flags & REQUEST_FLAGS.ROLLBACK) kind = 'rollback-warm';
    else if (request.flags & REQUEST_FLAGS.APPLY) kind = request.flags & REQUEST_FLAGS.WARM ? 'apply-warm' : 'apply-cold';
    else kind = 'staged';
  }
  let state: Validity = 'n/a';
  let stateError: string | null = null;
  if (d.cause === 'warm') {
    stateError = request && (kind === 'apply-warm' || kind === 'rollback-warm') ? stateProblem(request, d.ram, d.cpus) : 'no state-save area was named';
    state = stateError ? 'invalid' : 'valid';
  }
  let image: Validity = 'n/a';
  let verdict: ImageVerdict | null = null;
  let rejection: Facts['rejection'] = kind === 'invalid' ? { status: LAST_ATTEMPT_STATUS.ERROR_INVALID_FORMAT, reason: `update request: ${requestError}` } : null;
  const needsImage = (kind === 'apply-warm' && d.cause === 'warm' && state === 'valid') || (kind === 'apply-cold' && d.cause !== 'warm');
  if (needsImage && request) {
    // Version rules compare with the installed firmware's header (its lowest supported version).
    const active = regionHeader(view, slotRegion(view.map, record.active));
    const trust = view.trust;
    const region = requestRegion(request, view.map, inPlace)!;
    const v = await verifyStagedImage(view, request, region, d.hashEngine, {
      platform: trust.platform,
      activeVersionNumber: active?.versionNumber ?? null,
      lowestSupportedVersion: active?.lowestSupportedVersion ?? 0,
      securityVersion: effectiveFloor(view, record),
      hasTrustedKeys: trust.keys.length > 0,
      hasTrustedCerts: trust.certs.length > 0,
      imageTypeId: trust.imageTypeId || null,
      development: trust.development,
      capacity: { image: region.size, slot: Math.min(view.map.SLOT_A.size, view.map.SLOT_B.size) },
    });
    image = v.ok ? 'valid' : 'invalid';
    if (v.ok) verdict = v.verdict;
    else rejection = { status: v.status, reason: v.reason };
  }
  if (kind === 'rollback-warm' && (d.cause !== 'warm' || stateError)) {
    rejection = d.cause === 'warm'
      ? { status: LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL, reason: `saved state: ${stateError}` }
      : { status: LAST_ATTEMPT_STATUS.ERROR_PWR_EVT_AC, reason: 'RAM was lost before the warm reset' };
  }
  const region = request && kind !== 'invalid' ? requestRegion(request, view.map, inPlace) : null;
  return { boot: { cause: d.cause, request: kind, image, state }, kind, request, verdict, region, rejection, stateError };
}

/** 1. An update interrupted before activation: the inactive slot holds part of an image; undo. */
function finishInterrupted(view: FirmwareView, record: BootRecord, log: FirmwareLog): BootRecord {
  if (record.progress !== 1) return record;
  const next: BootRecord = { ...record, progress: 0, progressSlot: 0, progressVersion: 0 };
  view.records.write(next);
  log.lastAttempt(LAST_ATTEMPT_STATUS.ERROR_PWR_EVT_AC, record.progressVersion, '');
  log.history('interrupted', headerVersion(view, record.active), { number: record.progressVersion, display: '' }, LAST_ATTEMPT_STATUS.ERROR_PWR_EVT_AC, `power lost while slot ${slotName(record.progressSlot)} was written: undone`);
  log.event(`an update of slot ${slotName(record.progressSlot)} was interrupted before activation: undone, slot ${slotName(record.active)} stays active`);
  return next;
}

/** 2. A trial slot that was not confirmed before this reset reverts, and a pending apply is withdrawn. */
function revertUnconfirmed(view: FirmwareView, record: BootRecord, log: FirmwareLog): BootRecord {
  if (record.trial !== 1) return record;
  const from = headerVersion(view, record.active);
  const next: BootRecord = { ...record, active: record.previous, trial: 0, trialBoots: 0 };
  view.records.write(next);
  log.lastAttempt(LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL, from.number, from.display);
  log.history('revert', from, headerVersion(view, next.active), LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL, 'trial not confirmed before reset');
  log.event(`slot ${slotName(record.active)} (${from.display}) was on trial and not confirmed: reverted to slot ${slotName(next.active)}`);
  // The attempt is over: a pending apply (the install was cut before clearing it) must not install again
  // at this boot, or a firmware that crashes would be retried forever.
  let r: UpdateRequest | null = null;
  try {
    r = view.vars.request();
  } catch {
    return next; // a damaged request is the request check's to discard
  }
  if (r && r.flags & REQUEST_FLAGS.APPLY) {
    view.vars.setRequest({ ...r, flags: r.flags & ~(REQUEST_FLAGS.APPLY | REQUEST_FLAGS.WARM), cpuCount: 0, stateSaveAddress: 0n, stateSaveLength: 0, stateSaveCrc32: 0 });
    log.event('the pending apply request is withdrawn (the image stays staged)');
  }
  return next;
}

function refuse(view: FirmwareView, record: BootRecord, request: UpdateRequest | null, r: { status: LastAttemptStatus; reason: string }, log: FirmwareLog): void {
  log.hold();
  log.lastAttempt(r.status, request?.versionNumber ?? 0, request?.version ?? '');
  log.history('reject', headerVersion(view, record.active), request ? { number: request.versionNumber, display: request.version } : NO_VERSION, r.status, r.reason);
  log.commit({ clearRequest: true });
  log.event(`refused: ${r.reason}`);
}

function dropWarm(view: FirmwareView, record: BootRecord, request: UpdateRequest | null, cause: ResetCause, log: FirmwareLog): void {
  if (!request || !(request.flags & REQUEST_FLAGS.APPLY) || !(request.flags & REQUEST_FLAGS.WARM)) return;
  view.vars.setRequest({ ...request, flags: request.flags & ~(REQUEST_FLAGS.WARM | REQUEST_FLAGS.APPLY), cpuCount: 0, stateSaveAddress: 0n, stateSaveLength: 0, stateSaveCrc32: 0 });
  const status = cause === 'warm' ? LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL : LAST_ATTEMPT_STATUS.ERROR_PWR_EVT_AC;
  log.lastAttempt(status, request.versionNumber, request.version);
  log.history('abandon', headerVersion(view, record.active), { number: request.versionNumber, display: request.version }, status, cause === 'warm' ? 'saved state invalid' : 'RAM lost before the warm reset');
  log.event('the warm update was abandoned; the image stays staged');
}

function clearRequest(view: FirmwareView): void {
  view.vars.clearRequest();
}

/**
 * Real firmware is native code; ours is JavaScript that the JIT compiles on first use. Run the digest
 * code once at power-on so the first update's downtime measures the work, not the compiler.
 */
export function warmUpFirmwareCode(): void {
  const buf = Buffer.alloc(256 * 1024, 0x5a);
  for (let i = 0; i < 4; i++) new Digester().update(buf).digest();
}
