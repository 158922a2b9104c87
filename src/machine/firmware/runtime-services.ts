import { FwupError } from '../../errors/fwup-error.js';
import type { BootRecord } from '../../storage/boot-record.js';
import type { StoreUsage } from '../../storage/nvram/variable-store.js';
import {
  LAST_ATTEMPT_STATUS, OS_WRITABLE_VARIABLES, slotName, updateRequestCodec, VARIABLE,
  type HistoryEntry, type LastAttempt, type SlotId, type UpdateRequest,
} from '../../storage/variables.js';
import type { Chip } from '../chip.js';
import type { FirmwareTrust } from '../config.js';
import { FirmwareLog, verOf } from './firmware-log.js';
import { firmwareView, requireRecord, slotRegion, type FirmwareView } from './firmware-view.js';
import { confirmedSlot, effectiveFloor, regionHeader } from './firmware-state.js';
import { checkSlot } from './slot-check.js';
import { copyImage } from './slot-copy.js';
import { firmwareStatus, type FirmwareStatus } from './firmware-status.js';

export interface ActiveFirmware {
  slot: 'A' | 'B';
  version: string;
  versionNumber: number;
  securityVersion: number;
  lowestSupportedVersion: number;
  trial: boolean;
}

/**
 * The firmware's runtime services, the only way the OS reaches firmware state (as UEFI's runtime
 * services and SMM handlers are): every call runs the firmware's code with the flash controller in
 * firmware mode, and enforces what the OS may ask. The OS may write the update request and nothing
 * else in NVRAM; it may ask to confirm or revert a trial, which the firmware does on its own terms
 * (the security version rises to the confirmed image's own, read from the slot the firmware checked).
 */
export class RuntimeServices {
  constructor(private readonly chip: Chip, private readonly now: () => Date) {}

  private call<T>(fn: (view: FirmwareView) => T): T {
    return this.chip.controller.asFirmware(() => fn(firmwareView(this.chip)));
  }

  /** The staged update request; a damaged one reads as a FwupError (NVRAM_CORRUPT). */
  request(): UpdateRequest | null {
    return this.call((v) => v.vars.request());
  }

  setRequest(r: UpdateRequest): void {
    this.setVariable(VARIABLE.UPDATE_REQUEST, updateRequestCodec.encode(r));
  }

  clearRequest(): boolean {
    return this.call((v) => v.vars.clearRequest());
  }

  canStoreRequest(): boolean {
    return this.call((v) => v.vars.canStoreRequest());
  }

  /** SetVariable from the OS: refused for every variable the OS does not own, with nothing changed. */
  setVariable(name: string, data: Uint8Array): void {
    if (!OS_WRITABLE_VARIABLES.includes(name)) {
      throw new FwupError('FLASH_WRITE_PROTECTED', `variable ${JSON.stringify(name)} is firmware state: the OS may not write it`, {
        hint: `the OS writes only ${OS_WRITABLE_VARIABLES.join(', ')}; nothing was changed`,
      });
    }
    this.call((v) => v.vars.store.set(name, data));
  }

  deleteVariable(name: string): boolean {
    if (!OS_WRITABLE_VARIABLES.includes(name)) {
      throw new FwupError('FLASH_WRITE_PROTECTED', `variable ${JSON.stringify(name)} is firmware state: the OS may not delete it`, {
        hint: 'nothing was changed',
      });
    }
    return this.call((v) => v.vars.store.delete(name));
  }

  lastAttempt(): LastAttempt | null {
    return this.call((v) => {
      try {
        return v.vars.lastAttempt();
      } catch {
        return null; // damaged: status reports the NVRAM damage
      }
    });
  }

  history(): HistoryEntry[] {
    return this.call((v) => v.vars.history());
  }

  nvram(): StoreUsage {
    return this.call((v) => v.vars.store.usage());
  }

  /** What the firmware trusts (from the key store); no keys and no development when it is damaged. */
  trust(): FirmwareTrust & { problem: string | null } {
    return this.call((v) => ({ ...v.trust, problem: v.trustProblem }));
  }

  record(): BootRecord {
    return this.call((v) => requireRecord(v));
  }

  /** The anti-rollback floor stage, the firmware and rollback all obey. */
  securityFloor(): number {
    return this.call((v) => effectiveFloor(v, requireRecord(v)));
  }

  activeFirmware(): ActiveFirmware {
    return this.call((v) => {
      const r = requireRecord(v);
      const h = regionHeader(v, slotRegion(v.map, r.active));
      if (!h) throw new FwupError('TARGET_CORRUPT', `the active slot ${slotName(r.active)} holds no readable image`, { hint: 'boot the machine (`fwup machine boot`): the firmware recovers it' });
      return { slot: slotName(r.active), version: h.version, versionNumber: h.versionNumber, securityVersion: h.securityVersion, lowestSupportedVersion: h.lowestSupportedVersion, trial: r.trial === 1 };
    });
  }

  status(): FirmwareStatus {
    return this.call((v) => firmwareStatus(v));
  }

  /**
   * Confirm the trial slot: the firmware checks it, copies it into the protected recovery copy, and
   * only then records it as confirmed and raises the security version to the image's own.
   */
  confirmTrial(): { securityVersion: number } {
    return this.call((v) => {
      const r = requireRecord(v);
      if (r.trial !== 1) throw new FwupError('NOTHING_TO_DO', 'no firmware is on trial', { hint: 'apply an update first' });
      const slot = r.active as SlotId;
      const check = checkSlot(v.flash, slotRegion(v.map, slot), r.slots[slot]);
      if (!check.ok) {
        throw new FwupError('FIRMWARE_REJECTED', `the trial slot ${slotName(slot)} cannot be confirmed: it ${check.why}`, { hint: 'the next reset reverts it' });
      }
      copyImage(v.flash, slotRegion(v.map, slot), v.map.RECOVERY, check.size, check.sha256);
      const securityVersion = Math.max(effectiveFloor(v, r), check.header.securityVersion);
      v.records.write({ ...r, trial: 0, trialBoots: 0, securityVersion, recovery: check.sha256 });
      new FirmwareLog(v, this.now).history('confirm', verOf(check.header), verOf(check.header), 0, `slot ${slotName(slot)} confirmed`);
      return { securityVersion };
    });
  }

  /** Revert an unconfirmed trial to the confirmed slot, and record why. */
  revertTrial(reason: string): void {
    this.call((v) => {
      const r = requireRecord(v);
      if (r.trial !== 1) throw new FwupError('NOTHING_TO_DO', 'no firmware is on trial', { hint: 'nothing to revert' });
      const from = regionHeader(v, slotRegion(v.map, r.active));
      const next: BootRecord = { ...r, active: confirmedSlot(r), trial: 0, trialBoots: 0 };
      v.records.write(next);
      const to = regionHeader(v, slotRegion(v.map, next.active));
      const log = new FirmwareLog(v, this.now);
      log.lastAttempt(LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL, from?.versionNumber ?? 0, from?.version ?? '');
      log.history('revert', verOf(from), verOf(to), LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL, reason);
    });
  }
}
