import { FwupError } from '../../errors/fwup-error.js';
import { NO_DIGEST, PROGRESS, type BootRecord } from '../../storage/boot-record.js';
import type { Region } from '../../storage/flash-map.js';
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
import { withSlot } from './install.js';

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

  /**
   * Staging in place (Android's boot control "set slot as unbootable" before update_engine writes it):
   * on a machine provisioned for it, and with no trial running (the inactive slot is then the one a
   * trial reverts to), the firmware records in one atomic boot-record update that the inactive slot no
   * longer holds an image it trusts — the rollback image is given up here, before its first byte
   * changes — and opens that slot, and only it, to the OS view until the next reset.
   */
  releaseInactiveSlot(versionNumber: number): Region {
    return this.call((v) => {
      if (v.trust.install !== 'in-place') {
        throw new FwupError('FLASH_WRITE_PROTECTED', 'this machine installs by copy: the OS may not write a firmware slot', {
          hint: 'stage into STAGING (the machine was made with `machine init --install copy`)',
        });
      }
      const r = requireRecord(v);
      if (r.trial === 1) {
        throw new FwupError('TARGET_BUSY', `slot ${slotName(r.active)} is on trial: the inactive slot is the firmware a revert needs, it cannot be staged into`, {
          hint: 'confirm the trial (a good `fwup apply` does) or let it revert, then stage again; nothing was changed',
        });
      }
      const slot = (r.active === 0 ? 1 : 0) as SlotId;
      if (r.progress !== PROGRESS.OS_STAGING || r.progressSlot !== slot || r.slots[slot] !== NO_DIGEST || r.progressVersion !== versionNumber) {
        v.records.write({ ...r, progress: PROGRESS.OS_STAGING, progressSlot: slot, progressVersion: versionNumber, slots: withSlot(r.slots, slot, NO_DIGEST) });
      }
      const region = slotRegion(v.map, slot);
      this.chip.controller.grantOs(region);
      return region;
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
