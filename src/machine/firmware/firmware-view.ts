import { FwupError } from '../../errors/fwup-error.js';
import type { Flash } from '../../storage/flash.js';
import type { FlashMap, Region } from '../../storage/flash-map.js';
import { bootRecords, type BootRecord } from '../../storage/boot-record.js';
import { readKeyStore, type KeyStoreRead } from '../../storage/key-store.js';
import { VariableStore } from '../../storage/nvram/variable-store.js';
import type { RedundantRecord } from '../../storage/redundant-record.js';
import { PlatformVariables } from '../../storage/variables.js';
import type { Chip } from '../chip.js';
import { checkHardware, NO_TRUST, trustFromAnchors, type FirmwareTrust } from '../config.js';

/**
 * What the firmware's code works with: the firmware view of the flash, NVRAM, the boot record and the
 * trust anchors from the key store. One per opened chip, shared by the boot and the runtime services,
 * so there is one NVRAM store object and its idea of the log never goes stale. Build it only inside
 * `chip.controller.asFirmware` when the chip is writable (opening NVRAM may finish a reclaim).
 */
export interface FirmwareView {
  readonly chip: Chip;
  readonly flash: Flash;
  readonly map: FlashMap;
  readonly vars: PlatformVariables;
  readonly records: RedundantRecord<BootRecord>;
  readonly keystore: KeyStoreRead;
  readonly trust: FirmwareTrust;
  /** Why the trust anchors cannot be used (null: they can). */
  readonly trustProblem: string | null;
}

const views = new WeakMap<Chip, FirmwareView>();

export function firmwareView(chip: Chip): FirmwareView {
  const cached = views.get(chip);
  if (cached) return cached;
  const flash = chip.controller.firmware;
  const keystore = readKeyStore(flash, chip.map.KEYSTORE);
  let trust = NO_TRUST;
  let trustProblem: string | null = null;
  if (keystore.anchors) {
    checkHardware(chip.hardware, keystore.anchors.hardware, `${chip.dir}/machine.json`);
    try {
      trust = trustFromAnchors(keystore.anchors);
    } catch (e) {
      trustProblem = e instanceof Error ? e.message : String(e);
    }
  } else {
    trustProblem = `the key store is damaged (${keystore.problems.filter(Boolean).join('; ')}): no image is trusted`;
  }
  const store = VariableStore.open(flash, chip.map.NVRAM, chip.map.NVRAM_SPARE, { writable: chip.writable });
  const view: FirmwareView = {
    chip, flash, map: chip.map, vars: new PlatformVariables(store), records: bootRecords(flash, chip.map.BOOTREC),
    keystore, trust, trustProblem,
  };
  views.set(chip, view);
  return view;
}

/** Regions the firmware locks before the OS runs (until the next reset): what only a boot may write. */
export function runtimeLocks(map: FlashMap): Region[] {
  return [map.MAP, map.MAP_BACKUP, map.KEYSTORE, map.SLOT_A, map.SLOT_B];
}

export function slotRegion(map: FlashMap, slot: number): Region {
  return slot === 0 ? map.SLOT_A : map.SLOT_B;
}

/** The newest boot record, or a clear error when there is none (the boot rebuilds it; others cannot go on). */
export function requireRecord(view: FirmwareView): BootRecord {
  const r = view.records.read();
  if (!r.value) {
    throw new FwupError('TARGET_CORRUPT', 'the boot record is missing in both copies', {
      hint: 'boot the machine (`fwup machine boot`): the firmware rebuilds it from the slots and the recovery copy',
    });
  }
  return r.value;
}
