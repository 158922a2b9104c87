import { createHash } from 'node:crypto';
import { FwupError } from '../../errors/fwup-error.js';
import type { Platform } from '../../machine/platform.js';
import { RegionWriter, type RegionWriteResult } from '../../storage/region-writer.js';
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
  if (existing && existing.imageSha256.toString('hex') === v.fileSha256 && existing.imageLength === v.fileSize && existing.flags === flags && stagingHolds(p, existing)) {
    throw new FwupError('NOTHING_TO_DO', `this image (${v.report.version}, fileSha256 ${v.fileSha256.slice(0, 16)}…) is already staged`, {
      hint: 'apply it with `fwup apply --warm`',
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
        const writer = new RegionWriter(p.flash, p.map.STAGING);
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
          recordVersion: 2, flags, regionOffset: p.map.STAGING.offset, imageOffset: 0, imageLength: written.bytes,
          imageSha256: Buffer.from(written.sha256, 'hex'), imageFormat: v.format.id, reserved0: 0, cpuCount: 0,
          versionNumber: v.report.versionNumber, version: v.report.version,
          stateSaveAddress: 0n, stateSaveLength: 0, stateSaveCrc32: 0, stagedAt: BigInt(now().getTime()),
        };
        s.setRequest(request);
        const staged: StagedSummary = { ...requestSummary(request), payloadSha256: v.report.sha256 };
        return { staged, details: { kind: 'emu', write: opts.dryRun ? null : strip(write), replaced: replaces }, plan: flashPlan(p.map, p.ops) };
      }),
    close: async () => p.close(),
  };
}

function strip(w: RegionWriteResult | null) {
  if (!w) return null;
  const { readBackSha256: _sha, ...stats } = w;
  return stats;
}

/** The bytes in STAGING still hash to what the request says (they may have been damaged since). */
function stagingHolds(p: Platform, r: UpdateRequest): boolean {
  if (r.imageOffset + r.imageLength > p.map.STAGING.size) return false;
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  for (let pos = 0; pos < r.imageLength; ) {
    const n = Math.min(buf.length, r.imageLength - pos);
    h.update(p.flash.read(p.map.STAGING.offset + r.imageOffset + pos, n, buf));
    pos += n;
  }
  return h.digest('hex') === r.imageSha256.toString('hex');
}
