import { readHeader } from '../../image/formats/fwup.js';
import { parseFwupHeader, type FwupHeader } from '../../image/fwup-format.js';
import type { BootRecord } from '../../storage/boot-record.js';
import type { Region } from '../../storage/flash-map.js';
import { RegionSource } from '../../storage/region-source.js';
import { isPowerCut } from '../../storage/fault-flash.js';
import { slotRegion, type FirmwareView } from './firmware-view.js';
import { verOf, type Ver } from './firmware-log.js';

/** The header of the image at the start of a region, or null when there is none that parses. */
export function regionHeader(view: FirmwareView, region: Region): FwupHeader | null {
  try {
    return parseFwupHeader(readHeader(new RegionSource(view.flash, region, 0, region.size)));
  } catch (e) {
    if (isPowerCut(e)) throw e;
    return null;
  }
}

export function headerVersion(view: FirmwareView, slot: number): Ver {
  const h = regionHeader(view, slotRegion(view.map, slot));
  return h ? verOf(h) : { number: 0, display: '(damaged)' };
}

/** The slot holding the last confirmed firmware: the active one, or while a trial runs, the previous. */
export function confirmedSlot(record: BootRecord): number {
  return record.trial === 1 ? record.previous : record.active;
}

/**
 * The anti-rollback floor the firmware enforces: the recorded security version, and never less than
 * the security version of the confirmed firmware itself or of its recovery copy. So a boot record
 * damaged or rolled back on the flash cannot open a downgrade below what is installed.
 */
export function effectiveFloor(view: FirmwareView, record: BootRecord): number {
  const confirmed = regionHeader(view, slotRegion(view.map, confirmedSlot(record)));
  const recovery = regionHeader(view, view.map.RECOVERY);
  return Math.max(record.securityVersion, confirmed?.securityVersion ?? 0, recovery?.securityVersion ?? 0);
}
