import { createHash } from 'node:crypto';
import { FwupError } from '../../errors/fwup-error.js';
import type { Platform } from '../../machine/platform.js';
import { RegionWriter, type RegionWriteResult } from '../../storage/region-writer.js';
import type { Region } from '../../storage/flash-map.js';
import { REQUEST_FLAGS, type UpdateRequest } from '../../storage/variables.js';
import { CHUNK_BYTES } from '../../image/byte-source.js';
import type { StagedSummary, StageInput, StageOptions, StageSession } from '../target.js';
import { flashPlan } from './flash-plan.js';
import { requestSummary } from './emu-status.js';

/**
 * Stage on an emulated machine, as the OS does it: the image goes into STAGING through the OS view
 * (the only region the OS may write), then the update request through the firmware's variable
 * service. Checked before anything is written: the same image is not already staged intact, and
 * NVRAM has room for the request. The old request is deleted before STAGING is touched, so a power
 * cut from there on leaves no request rather than one pointing at half an image.
 *
 * On a machine that installs in place, a .fwup image (its own slot image) goes into the inactive slot
 * instead: the firmware first records that slot as holding nothing it trusts (the rollback image is
 * given up) and opens it to the OS; the request then points at the slot. Images the firmware must wrap
 * in a slot header of its own (capsules, raw payloads) are staged into STAGING and copied as ever.
 */
export function emuStageSession(p: Platform, input: StageInput, opts: StageOptions, now: () => Date, guard: <T>(fn: () => Promise<T>) => Promise<T>): StageSession {
  const s = p.services;
  const v = input.verdict;
  const flags = (opts.allowOlder ? REQUEST_FLAGS.ALLOW_OLDER : 0) | (opts.allowUnsigned ? REQUEST_FLAGS.ALLOW_UNSIGNED : 0);
  let existing: UpdateRequest | null = null;
  try {
    existing = s.request();
  } catch (e) {
    if (!(e instanceof FwupError && e.code === 'NVRAM_CORRUPT')) throw e;
    // A damaged request is replaced by this one (the firmware would discard it anyway).
  }
  const replaces = existing !== null;
  const inPlace = stagesInPlace(p, input);
  const region = inPlace ? inactiveSlot(p) : p.map.STAGING;
  if (existing && existing.regionOffset === region.offset && existing.imageSha256.toString('hex') === v.fileSha256 && existing.imageLength === v.fileSize && existing.flags === flags && regionHolds(p, region, existing)) {
    throw new FwupError('NOTHING_TO_DO', `this image (${v.report.version}, fileSha256 ${v.fileSha256.slice(0, 16)}…) is already staged`, {
      hint: 'apply it with `fwup apply --warm`',
    });
  }
  if (inPlace && s.record().trial === 1) {
    // The firmware refuses this too; asked first so that nothing (not even the old request) changes.
    throw new FwupError('TARGET_BUSY', `slot ${s.activeFirmware().slot} is on trial: the inactive slot holds the firmware a revert needs, it cannot be staged into`, {
      hint: 'confirm the trial (a good `fwup apply` does) or let the next reset revert it, then stage again; nothing was changed',
    });
  }
  if (!s.canStoreRequest()) {
    throw new FwupError('NVRAM_FULL', 'NVRAM has no room for the update request', {
      hint: 'the machine NVRAM is full of other variables; re-create the machine or free variables',
    });
  }
  let write: RegionWriteResult | null = null;
  return {
    range: 'file',
    replaces,
    open: () =>
      guard(async () => {
        if (existing) s.clearRequest();
        // The firmware gives up the slot's old image in its record before the slot's first byte changes.
        if (inPlace) s.releaseInactiveSlot(v.report.versionNumber);
        const writer = new RegionWriter(p.flash, region);
        return {
          write: (chunk: Buffer) => writer.write(chunk),
          finish: () =>
            guard(async () => {
              write = writer.finish();
              p.flash.sync();
              return { readBackSha256: write.readBackSha256 };
            }),
        };
      }),
    commit: (written) =>
      guard(async () => {
        const request: UpdateRequest = {
          recordVersion: 2, flags, regionOffset: region.offset, imageOffset: 0, imageLength: written.bytes,
          imageSha256: Buffer.from(written.sha256, 'hex'), imageFormat: v.format.id, reserved0: 0, cpuCount: 0,
          versionNumber: v.report.versionNumber, version: v.report.version,
          stateSaveAddress: 0n, stateSaveLength: 0, stateSaveCrc32: 0, stagedAt: BigInt(now().getTime()),
        };
        s.setRequest(request);
        const staged: StagedSummary = { ...requestSummary(request), payloadSha256: v.report.sha256 };
        return { staged, details: { kind: 'emu', region: region.name, inPlace, write: opts.dryRun ? null : strip(write), replaced: replaces }, plan: flashPlan(p.map, p.ops) };
      }),
    close: async () => p.close(),
  };
}

function strip(w: RegionWriteResult | null) {
  if (!w) return null;
  const { readBackSha256: _sha, ...stats } = w;
  return stats;
}

/** Stage into the inactive slot: the machine installs in place and the image is its own slot image. */
function stagesInPlace(p: Platform, input: StageInput): boolean {
  const trust = p.services.trust();
  return trust.install === 'in-place' && input.verdict.format.slotHeader(input.verdict.report, trust.platform) === null;
}

function inactiveSlot(p: Platform): Region {
  return p.services.record().active === 0 ? p.map.SLOT_B : p.map.SLOT_A;
}

/** The bytes in the request's region still hash to what the request says (they may have been damaged since). */
function regionHolds(p: Platform, region: Region, r: UpdateRequest): boolean {
  if (r.imageOffset + r.imageLength > region.size) return false;
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  for (let pos = 0; pos < r.imageLength; ) {
    const n = Math.min(buf.length, r.imageLength - pos);
    h.update(p.flash.read(region.offset + r.imageOffset + pos, n, buf));
    pos += n;
  }
  return h.digest('hex') === r.imageSha256.toString('hex');
}
