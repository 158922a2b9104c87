import { FwupError } from '../errors/fwup-error.js';
import { LAST_ATTEMPT_STATUS, slotName, type SlotId } from '../storage/variables.js';
import type { Platform } from './platform.js';
import { readRegionHeader } from './slot-image.js';

/** The OS side of trial boot: confirm the slot the firmware activated, or revert to the previous one. */

export function slotRegionOf(p: Platform, s: number) {
  return s === 0 ? p.map.SLOT_A : p.map.SLOT_B;
}

export function activeFirmware(p: Platform): { slot: 'A' | 'B'; version: string; versionNumber: number; securityVersion: number; trial: boolean } {
  const b = p.vars.bootState();
  const h = readRegionHeader(p.flash, slotRegionOf(p, b.active));
  return { slot: slotName(b.active) as 'A' | 'B', version: h.version, versionNumber: h.versionNumber, securityVersion: h.securityVersion, trial: b.trial === 1 };
}

/** Confirm the trial slot; only now does the security version rise to the image's. */
export function confirmTrial(p: Platform, now: Date): { securityVersion: number } {
  const b = p.vars.bootState();
  if (b.trial !== 1) throw new FwupError('NOTHING_TO_DO', 'no firmware is on trial');
  p.vars.setBootState({ ...b, trial: 0, trialBoots: 0, counter: b.counter + 1 });
  const active = activeFirmware(p);
  p.vars.raiseSecurityVersion(active.securityVersion);
  p.vars.addHistory({ time: BigInt(now.getTime()), action: 'confirm', fromVersion: active.versionNumber, toVersion: active.versionNumber, status: 0, detail: `slot ${active.slot} confirmed` });
  return { securityVersion: p.vars.securityVersion() };
}

/** Revert an unconfirmed trial to the previous slot and record why. */
export function revertTrial(p: Platform, now: Date, reason: string): void {
  const b = p.vars.bootState();
  if (b.trial !== 1) throw new FwupError('NOTHING_TO_DO', 'no firmware is on trial');
  const from = activeFirmware(p);
  p.vars.setBootState({ active: b.previous as SlotId, previous: b.previous, trial: 0, trialBoots: 0, counter: b.counter + 1 });
  p.vars.setLastAttempt({ status: LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL, versionNumber: from.versionNumber, version: from.version, time: BigInt(now.getTime()) });
  p.vars.addHistory({ time: BigInt(now.getTime()), action: 'revert', fromVersion: from.versionNumber, toVersion: activeFirmware(p).versionNumber, status: 1, detail: reason.slice(0, 40) });
}
