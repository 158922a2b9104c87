import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';
import { FMP_CAPSULE_GUID } from '../../image/capsule-layouts.js';
import { defineLayout } from '../../util/layout.js';
import { EFIVARS_DIR, readVariable } from './efivars.js';

/**
 * The firmware's own record of each capsule it processed (UEFI 2.10 §8.5.6): `Capsule####` variables
 * under EFI_CAPSULE_REPORT_GUID, each an EFI_CAPSULE_RESULT_VARIABLE_HEADER (and for an FMP capsule the
 * FMP extension naming the payload's image type), `CapsuleLast` naming the newest. Read with the ESRT
 * for the outcome after a reboot.
 */
export const EFI_CAPSULE_REPORT_GUID = '39b68c46-f7fb-441b-b6ec-16b0f69821f3';

export const capsuleResultHeaderLayout = defineLayout('EFI_CAPSULE_RESULT_VARIABLE_HEADER', [
  { name: 'VariableTotalSize', type: 'u32', min: 48, doc: 'bytes of the whole variable data' },
  { name: 'Reserved', type: 'u32' },
  { name: 'CapsuleGuid', type: 'guid', doc: 'the processed capsule\'s CapsuleGuid' },
  { name: 'Year', type: 'u16' },
  { name: 'Month', type: 'u8' },
  { name: 'Day', type: 'u8' },
  { name: 'Hour', type: 'u8' },
  { name: 'Minute', type: 'u8' },
  { name: 'Second', type: 'u8' },
  { name: 'Pad1', type: 'u8' },
  { name: 'Nanosecond', type: 'u32' },
  { name: 'TimeZone', type: 'u16' },
  { name: 'Daylight', type: 'u8' },
  { name: 'Pad2', type: 'u8' },
  { name: 'CapsuleStatus', type: 'u64', doc: 'EFI_STATUS of processing the capsule' },
] as const, { code: 'TARGET_CORRUPT' });

export const capsuleResultFmpLayout = defineLayout('EFI_CAPSULE_RESULT_VARIABLE_FMP', [
  { name: 'Version', type: 'u16', min: 1 },
  { name: 'PayloadIndex', type: 'u8' },
  { name: 'UpdateImageIndex', type: 'u8' },
  { name: 'UpdateImageTypeId', type: 'guid' },
] as const, { code: 'TARGET_CORRUPT' });

const ERROR_BIT = 1n << 63n;
const EFI_STATUS_NAMES: Readonly<Record<number, string>> = {
  1: 'LoadError', 2: 'InvalidParameter', 3: 'Unsupported', 4: 'BadBufferSize', 5: 'BufferTooSmall', 6: 'NotReady', 7: 'DeviceError',
  8: 'WriteProtected', 9: 'OutOfResources', 10: 'VolumeCorrupted', 11: 'VolumeFull', 12: 'NoMedia', 13: 'MediaChanged', 14: 'NotFound',
  15: 'AccessDenied', 16: 'NoResponse', 17: 'NoMapping', 18: 'Timeout', 19: 'NotStarted', 20: 'AlreadyStarted', 21: 'Aborted',
  25: 'CrcError', 26: 'EndOfMedia', 27: 'SecurityViolation', 28: 'InvalidLanguage', 29: 'CompromisedData',
};

export function efiStatusName(status: bigint): string {
  if (status === 0n) return 'Success';
  if (status & ERROR_BIT) return EFI_STATUS_NAMES[Number(status & ~ERROR_BIT)] ?? `Error 0x${(status & ~ERROR_BIT).toString(16)}`;
  return `Warning ${status}`;
}

export interface CapsuleResult {
  /** Capsule0003 */
  variable: string;
  capsuleGuid: string;
  /** ISO time the firmware processed it (as it keeps the clock), null when the EFI_TIME is unset. */
  processed: string | null;
  status: string;
  statusName: string;
  ok: boolean;
  /** FMP capsules: which payload, and the image type it was for (an ESRT entry's fw_class). */
  fmp: { payloadIndex: number; updateImageIndex: number; updateImageTypeId: string; fileName: string; target: string } | null;
  /** This is the variable CapsuleLast names. */
  last: boolean;
}

function utf16z(buf: Buffer, at: number): { text: string; next: number } {
  let end = at;
  while (end + 1 < buf.length && buf.readUInt16LE(end) !== 0) end += 2;
  return { text: buf.subarray(at, end).toString('utf16le'), next: Math.min(buf.length, end + 2) };
}

export function parseCapsuleResult(variable: string, data: Buffer, last: boolean): CapsuleResult {
  const h = capsuleResultHeaderLayout.parse(data, 0);
  if (h.VariableTotalSize > data.length) {
    throw new FwupError('TARGET_CORRUPT', `${variable}: VariableTotalSize ${h.VariableTotalSize} is more than its ${data.length} bytes`);
  }
  let fmp: CapsuleResult['fmp'] = null;
  if (h.CapsuleGuid.toUpperCase() === FMP_CAPSULE_GUID && h.VariableTotalSize >= capsuleResultHeaderLayout.size + capsuleResultFmpLayout.size) {
    const at = capsuleResultHeaderLayout.size;
    const f = capsuleResultFmpLayout.parse(data, at);
    const name = utf16z(data.subarray(0, h.VariableTotalSize), at + capsuleResultFmpLayout.size);
    const target = utf16z(data.subarray(0, h.VariableTotalSize), name.next);
    fmp = { payloadIndex: f.PayloadIndex, updateImageIndex: f.UpdateImageIndex, updateImageTypeId: f.UpdateImageTypeId.toUpperCase(), fileName: name.text, target: target.text };
  }
  const processed = h.Year >= 1900 && h.Month >= 1 && h.Month <= 12 && h.Day >= 1 && h.Day <= 31
    ? new Date(Date.UTC(h.Year, h.Month - 1, h.Day, h.Hour, h.Minute, h.Second)).toISOString()
    : null;
  return {
    variable, capsuleGuid: h.CapsuleGuid.toUpperCase(), processed, status: `0x${h.CapsuleStatus.toString(16).padStart(16, '0')}`,
    statusName: efiStatusName(h.CapsuleStatus), ok: h.CapsuleStatus === 0n, fmp, last,
  };
}

/** Every Capsule#### result in the sysroot's efivarfs, newest (by number) first; damaged ones are reported, not thrown. */
export async function readCapsuleResults(sysroot: string): Promise<{ results: CapsuleResult[]; problems: string[] }> {
  const names = await readdir(join(sysroot, EFIVARS_DIR)).catch(() => [] as string[]);
  const suffix = `-${EFI_CAPSULE_REPORT_GUID}`;
  const lastVar = await readVariable(sysroot, 'CapsuleLast', EFI_CAPSULE_REPORT_GUID).catch(() => null);
  const lastName = lastVar ? lastVar.data.toString('utf16le').replace(/\0+$/, '') : null;
  const results: CapsuleResult[] = [];
  const problems: string[] = [];
  for (const n of names.filter((x) => x.endsWith(suffix)).sort().reverse()) {
    const variable = n.slice(0, -suffix.length);
    if (!/^Capsule[0-9A-F]{4}$/.test(variable)) continue;
    try {
      const v = await readVariable(sysroot, variable, EFI_CAPSULE_REPORT_GUID);
      if (v) results.push(parseCapsuleResult(variable, v.data, variable === lastName));
    } catch (e) {
      problems.push(`${variable}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  // CapsuleLast is the newest; the numbers wrap at CapsuleMax, so it goes first whatever its number.
  results.sort((a, b) => Number(b.last) - Number(a.last));
  return { results, problems };
}

/** The newest result for an ESRT entry's image type (FMP capsules name it; others cannot be matched). */
export function resultFor(results: readonly CapsuleResult[], fwClass: string): CapsuleResult | null {
  return results.find((r) => r.fmp?.updateImageTypeId === fwClass.toUpperCase()) ?? null;
}
