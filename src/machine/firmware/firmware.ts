import { FwupError } from '../../errors/fwup-error.js';
import { Digester } from '../../util/digest.js';
import { isPowerCut } from '../../storage/fault-flash.js';
import { buildFwupHeader } from '../../image/fwup-format.js';
import type { PublicKey } from '../../image/keys.js';
import type { TrustedCertificateInput } from '../../image/capsule-verify.js';
import type { ImageReport } from '../../image/report.js';
import { RegionWriter, type RegionWriteStats } from '../../storage/region-writer.js';
import {
  LAST_ATTEMPT_STATUS, REQUEST_FLAGS, slotName, type BootState, type LastAttemptStatus, type SlotId, type UpdateRequest,
} from '../../storage/variables.js';
import type { Platform } from '../platform.js';
import { readRegionHeader, verifyRegionImage } from '../slot-image.js';
import { decide, type BootAction, type BootFacts, type RequestKind, type ResetCause, type Validity } from './boot-table.js';
import { requestProblem, stateProblem } from './request-check.js';
import { verifyStagedImage } from './staged-image.js';

export type FirmwarePhase = 'verify' | 'program' | 'activate';

export interface FirmwareDeps {
  platform: Platform;
  ram: Uint8Array;
  cpus: number;
  cause: ResetCause;
  /** Ed25519 keys for .fwup images, X.509 certificates (DER) for capsules: the firmware's own trust. */
  keys: readonly PublicKey[];
  certs: readonly TrustedCertificateInput[];
  now: () => Date;
  /** Marks the start of a downtime phase (for the apply report). */
  phase?: (p: FirmwarePhase) => void;
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
  installed: { slot: 'A' | 'B'; version: string; versionNumber: number; write: RegionWriteStats } | null;
  rejected: { status: LastAttemptStatus; reason: string } | null;
  stateProblem: string | null;
}

const CHUNK = 1 << 20;

/**
 * The pre-OS firmware, run by the bootstrap CPU after every reset. First question at every boot: was an
 * update interrupted? Then: is a trial slot unconfirmed? Then the boot table decides, from the reset
 * cause, the request, and (only when a row needs them) the staged image and the saved state.
 */
export async function firmwareBoot(d: FirmwareDeps): Promise<BootReport> {
  const { platform: p } = d;
  const events: string[] = [`reset cause: ${d.cause}`];
  const now = () => BigInt(d.now().getTime());

  // 1. An update interrupted before activation: the inactive slot holds a partial image; undo.
  let progress = null;
  try {
    progress = p.vars.progress();
  } catch {
    progress = { targetSlot: 0, versionNumber: 0 } as const; // a damaged record is still a sign of interruption
  }
  let boot = p.vars.bootState();
  if (progress) {
    const activated = boot.trial === 1 && boot.active === progress.targetSlot;
    p.vars.clearProgress();
    if (!activated) {
      p.vars.setLastAttempt({ status: LAST_ATTEMPT_STATUS.ERROR_PWR_EVT_AC, versionNumber: progress.versionNumber, version: '', time: now() });
      addHistory(d, 'interrupted', activeVersionNumber(d, boot), progress.versionNumber, LAST_ATTEMPT_STATUS.ERROR_PWR_EVT_AC, `slot ${slotName(progress.targetSlot)} write undone`);
      events.push(`an update of slot ${slotName(progress.targetSlot)} was interrupted before activation: undone, slot ${slotName(boot.active)} stays active`);
    }
  }

  // 2. A trial slot that was not confirmed before this reset reverts.
  if (boot.trial === 1) {
    const from = boot.active;
    boot = { active: boot.previous as SlotId, previous: boot.previous, trial: 0, trialBoots: 0, counter: boot.counter + 1 };
    p.vars.setBootState(boot);
    const v = slotVersion(d, from);
    p.vars.setLastAttempt({ status: LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL, versionNumber: v.number, version: v.display, time: now() });
    addHistory(d, 'revert', v.number, activeVersionNumber(d, boot), LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL, 'trial not confirmed before reset');
    events.push(`slot ${slotName(from)} (${v.display}) was on trial and not confirmed: reverted to slot ${slotName(boot.active)}`);
    // The attempt is over: an apply request still pending (the install was cut before it cleared it) must
    // not install again at this boot, or a firmware that crashes would be retried forever.
    dropPendingApply(d, events);
  }

  // 3. Boot only a slot that verifies.
  boot = ensureBootableSlot(d, boot, events);

  // 4. The facts the table needs.
  d.phase?.('verify');
  let request: UpdateRequest | null = null;
  let kind: RequestKind = 'none';
  let requestError: string | null = null;
  try {
    request = p.vars.request();
  } catch (e) {
    requestError = e instanceof Error ? e.message : String(e);
    kind = 'invalid';
  }
  if (request) {
    requestError = requestProblem(request, p.map);
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
  let imageReport: ImageReport | null = null;
  let rejection: { status: LastAttemptStatus; reason: string } | null = kind === 'invalid' ? { status: LAST_ATTEMPT_STATUS.ERROR_INVALID_FORMAT, reason: `update request: ${requestError}` } : null;
  const needsImage = (kind === 'apply-warm' && d.cause === 'warm' && state === 'valid') || (kind === 'apply-cold' && d.cause !== 'warm');
  if (needsImage && request) {
    const active = readRegionHeader(p.flash, slotRegion(d, boot.active));
    const v = await verifyStagedImage(p.flash, p.map, request, { keys: d.keys, certs: d.certs }, {
      platform: p.config.platform,
      activeVersionNumber: active.versionNumber,
      lowestSupportedVersion: active.lowestSupportedVersion,
      securityVersion: p.vars.securityVersion(),
      hasTrustedKeys: d.keys.length > 0,
      hasTrustedCerts: d.certs.length > 0,
      imageTypeId: p.config.imageTypeId ?? null,
      development: p.config.development,
      capacity: Math.min(p.map.SLOT_A.size, p.map.SLOT_B.size),
    });
    image = v.ok ? 'valid' : 'invalid';
    if (v.ok) imageReport = v.report;
    else rejection = { status: v.status, reason: v.reason };
  }
  if (kind === 'rollback-warm' && (d.cause !== 'warm' || stateError)) {
    rejection = d.cause === 'warm'
      ? { status: LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL, reason: `saved state: ${stateError}` }
      : { status: LAST_ATTEMPT_STATUS.ERROR_PWR_EVT_AC, reason: 'RAM was lost before the warm reset' };
  }
  const facts: BootFacts = { cause: d.cause, request: kind, image, state };
  const row = decide(facts);
  events.push(row.say);
  if (stateError && d.cause === 'warm' && (kind === 'apply-warm' || kind === 'rollback-warm')) events.push(`state check: ${stateError}`);

  // 5. Act.
  let installed: BootReport['installed'] = null;
  for (const action of row.then) {
    switch (action) {
      case 'install': {
        const r = install(d, boot, request!, imageReport!, events);
        boot = r.boot;
        installed = r.installed;
        break;
      }
      case 'switch-slot': {
        const r = switchSlot(d, boot, events);
        if (r.ok) boot = r.boot;
        else rejection = { status: r.status, reason: r.reason };
        break;
      }
      case 'reject': {
        const r = rejection ?? { status: LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL, reason: 'refused' };
        p.vars.setLastAttempt({ status: r.status, versionNumber: request?.versionNumber ?? 0, version: request?.version ?? '', time: now() });
        addHistory(d, 'reject', activeVersionNumber(d, boot), request?.versionNumber ?? 0, r.status, r.reason);
        clearRequestSafely(d);
        events.push(`refused: ${r.reason}`);
        break;
      }
      case 'drop-warm': {
        if (request && kind === 'apply-warm') {
          p.vars.setRequest({ ...request, flags: request.flags & ~(REQUEST_FLAGS.WARM | REQUEST_FLAGS.APPLY), cpuCount: 0, stateSaveAddress: 0n, stateSaveLength: 0, stateSaveCrc32: 0 });
          const status = d.cause === 'warm' ? LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL : LAST_ATTEMPT_STATUS.ERROR_PWR_EVT_AC;
          p.vars.setLastAttempt({ status, versionNumber: request.versionNumber, version: request.version, time: now() });
          addHistory(d, 'abandon', activeVersionNumber(d, boot), request.versionNumber, status, d.cause === 'warm' ? 'saved state invalid' : 'RAM lost before the warm reset');
          events.push('the warm update was abandoned; the image stays staged');
        }
        break;
      }
      case 'resume':
      case 'cold-boot':
        break;
    }
  }
  const handoff = row.then.includes('resume') ? 'resume' : 'cold-boot';
  const active = slotVersion(d, boot.active);
  events.push(handoff === 'resume' ? `resuming the OS on slot ${slotName(boot.active)} (${active.display})` : `booting the OS from scratch on slot ${slotName(boot.active)} (${active.display})`);
  return {
    cause: d.cause,
    facts,
    decision: row.say,
    actions: row.then,
    events,
    handoff,
    activeSlot: slotName(boot.active) as 'A' | 'B',
    activeVersion: active.display,
    activeVersionNumber: active.number,
    installed,
    rejected: row.then.includes('reject') || row.then.includes('switch-slot') ? rejection : null,
    stateProblem: stateError && (kind === 'apply-warm' || kind === 'rollback-warm') ? stateError : null,
  };
}

/** Rollback: the other slot becomes active on trial, if it verifies and its security version is allowed. */
function switchSlot(d: FirmwareDeps, boot: BootState, events: string[]):
  | { ok: true; boot: BootState }
  | { ok: false; status: LastAttemptStatus; reason: string } {
  const p = d.platform;
  const target = (boot.active === 0 ? 1 : 0) as SlotId;
  const fail = (status: LastAttemptStatus, reason: string) => {
    p.vars.setLastAttempt({ status, versionNumber: 0, version: '', time: BigInt(d.now().getTime()) });
    addHistory(d, 'reject', activeVersionNumber(d, boot), 0, status, reason);
    clearRequestSafely(d);
    events.push(`rollback refused: ${reason}`);
    return { ok: false as const, status, reason };
  };
  let report;
  try {
    report = verifyRegionImage(p.flash, slotRegion(d, target), null);
  } catch (e) {
    if (isPowerCut(e)) throw e;
    return fail(LAST_ATTEMPT_STATUS.ERROR_INVALID_FORMAT, `slot ${slotName(target)} holds no valid image`);
  }
  if (report.checks.sha256 !== 'ok' || report.checks.payloadCrc !== 'ok') return fail(LAST_ATTEMPT_STATUS.ERROR_INVALID_FORMAT, `slot ${slotName(target)} does not verify`);
  if (report.securityVersion < p.vars.securityVersion()) {
    return fail(LAST_ATTEMPT_STATUS.ERROR_INCORRECT_VERSION, `slot ${slotName(target)} has security version ${report.securityVersion}, below ${p.vars.securityVersion()}`);
  }
  d.phase?.('activate');
  const next: BootState = { active: target, previous: boot.active, trial: 1, trialBoots: 1, counter: boot.counter + 1 };
  p.vars.setBootState(next);
  p.vars.setLastAttempt({ status: LAST_ATTEMPT_STATUS.SUCCESS, versionNumber: report.versionNumber, version: report.version, time: BigInt(d.now().getTime()) });
  addHistory(d, 'rollback', activeVersionNumber(d, boot), report.versionNumber, LAST_ATTEMPT_STATUS.SUCCESS, `slot ${slotName(target)}, on trial`);
  clearRequestSafely(d);
  events.push(`rolled back to ${report.version} in slot ${slotName(target)}, on trial`);
  return { ok: true, boot: next };
}

function install(d: FirmwareDeps, boot: BootState, r: UpdateRequest, report: ImageReport, events: string[]) {
  const p = d.platform;
  const target = (boot.active === 0 ? 1 : 0) as SlotId;
  const region = slotRegion(d, target);
  p.vars.setProgress({ targetSlot: target, reserved: Buffer.alloc(3), versionNumber: r.versionNumber, imageSha256: r.imageSha256 });
  d.phase?.('program');
  const writer = new RegionWriter(p.flash, region);
  // Slots always hold a .fwup image: a .fwup is copied as staged (its signature kept); a raw payload
  // gets a header of its own so the slot verifies at every boot.
  let from = p.map.STAGING.offset + r.imageOffset;
  let length = r.imageLength;
  if (report.format !== 'fwup') {
    writer.write(buildFwupHeader({
      platform: p.config.platform, version: report.version, versionNumber: report.versionNumber,
      lowestSupportedVersion: report.lowestSupportedVersion, securityVersion: report.securityVersion,
      flags: 0, buildTime: null, description: `installed from a ${report.format} image`,
    }, { length: report.payloadSize, crc32: report.crc32, sha256: report.sha256 }));
    from += report.payloadOffset;
    length = report.payloadSize;
  }
  const buf = Buffer.allocUnsafe(CHUNK);
  for (let pos = 0; pos < length; ) {
    const n = Math.min(CHUNK, length - pos);
    writer.write(p.flash.read(from + pos, n, buf));
    pos += n;
  }
  const write = writer.finish();
  p.flash.sync();
  const written = readRegionHeader(p.flash, region);
  d.phase?.('activate');
  // One atomic NVRAM update activates the slot, on trial until the OS confirms it.
  const next: BootState = { active: target, previous: boot.active, trial: 1, trialBoots: 1, counter: boot.counter + 1 };
  p.vars.setBootState(next);
  p.vars.clearProgress();
  p.vars.setLastAttempt({ status: LAST_ATTEMPT_STATUS.SUCCESS, versionNumber: written.versionNumber, version: written.version, time: BigInt(d.now().getTime()) });
  addHistory(d, 'install', activeVersionNumber(d, boot), written.versionNumber, LAST_ATTEMPT_STATUS.SUCCESS, `slot ${slotName(target)}, on trial`);
  clearRequestSafely(d);
  events.push(`wrote ${written.version} into slot ${slotName(target)} (${write.erased} blocks erased, ${write.programmedOnly + write.erased} programmed, ${write.unchanged} unchanged, read back), activated on trial`);
  return { boot: next, installed: { slot: slotName(target) as 'A' | 'B', version: written.version, versionNumber: written.versionNumber, write } };
}

/** Verify the active slot (header and payload digests); fall back to the other slot if it does not verify. */
function ensureBootableSlot(d: FirmwareDeps, boot: BootState, events: string[]): BootState {
  const active = boot.active as SlotId;
  const ok = (s: SlotId) => {
    try {
      const r = verifyRegionImage(d.platform.flash, slotRegion(d, s), null);
      return r.checks.payloadCrc === 'ok' && r.checks.sha256 === 'ok';
    } catch (e) {
      if (isPowerCut(e)) throw e;
      return false;
    }
  };
  if (d.cause === 'warm' && headerOk(d, active)) return boot; // it was running a moment ago; full checks at cold boots
  if (ok(active)) return boot;
  const other = (boot.active === 0 ? 1 : 0) as SlotId;
  if (!ok(other)) {
    throw new FwupError('MACHINE_FAILURE', 'no firmware slot verifies: the machine cannot boot', { hint: 'this must never happen; please report it' });
  }
  const next: BootState = { active: other, previous: other, trial: 0, trialBoots: 0, counter: boot.counter + 1 };
  d.platform.vars.setBootState(next);
  addHistory(d, 'recover', 0, slotVersion(d, other).number, LAST_ATTEMPT_STATUS.SUCCESS, `slot ${slotName(boot.active)} failed verification`);
  events.push(`slot ${slotName(boot.active)} does not verify: booting slot ${slotName(other)}`);
  return next;
}

function headerOk(d: FirmwareDeps, s: SlotId): boolean {
  try {
    readRegionHeader(d.platform.flash, slotRegion(d, s));
    return true;
  } catch (e) {
    if (isPowerCut(e)) throw e;
    return false;
  }
}

function dropPendingApply(d: FirmwareDeps, events: string[]): void {
  let r: UpdateRequest | null = null;
  try {
    r = d.platform.vars.request();
  } catch {
    return; // a damaged record is the request check's to discard
  }
  if (r && (r.flags & REQUEST_FLAGS.APPLY)) {
    d.platform.vars.setRequest({ ...r, flags: r.flags & ~(REQUEST_FLAGS.APPLY | REQUEST_FLAGS.WARM), cpuCount: 0, stateSaveAddress: 0n, stateSaveLength: 0, stateSaveCrc32: 0 });
    events.push('the pending apply request is withdrawn (the image stays staged)');
  }
}

function clearRequestSafely(d: FirmwareDeps): void {
  d.platform.vars.clearRequest();
}

function slotRegion(d: FirmwareDeps, s: number) {
  return s === 0 ? d.platform.map.SLOT_A : d.platform.map.SLOT_B;
}

function slotVersion(d: FirmwareDeps, s: number): { display: string; number: number } {
  try {
    const h = readRegionHeader(d.platform.flash, slotRegion(d, s));
    return { display: h.version, number: h.versionNumber };
  } catch (e) {
    if (isPowerCut(e)) throw e;
    return { display: '?', number: 0 };
  }
}

function activeVersionNumber(d: FirmwareDeps, boot: BootState): number {
  return slotVersion(d, boot.active).number;
}

function addHistory(d: FirmwareDeps, action: string, from: number, to: number, status: number, detail: string): void {
  d.platform.vars.addHistory({ time: BigInt(d.now().getTime()), action, fromVersion: from, toVersion: to, status, detail: truncateUtf8(detail, 40) });
}

/** At most `max` bytes of UTF-8, cut on a character boundary. */
function truncateUtf8(s: string, max: number): string {
  let out = '';
  for (const ch of s) {
    if (Buffer.byteLength(out + ch) > max) break;
    out += ch;
  }
  return out;
}

/**
 * Real firmware is native code; ours is JavaScript that the JIT compiles on first use. Run the digest
 * code once at power-on so the first update's downtime measures the work, not the compiler.
 */
export function warmUpFirmwareCode(): void {
  const buf = Buffer.alloc(256 * 1024, 0x5a);
  for (let i = 0; i < 4; i++) new Digester().update(buf).digest();
}
