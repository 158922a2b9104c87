import { createHash } from 'node:crypto';
import { FwupError } from '../../errors/fwup-error.js';
import { crc32 } from '../../util/crc32.js';
import { streamSource } from '../byte-source.js';
import type { ImageFormat } from '../format.js';
import { buildFwupHeader, LIMITS } from '../fwup-format.js';
import { rawReport } from '../raw-format.js';
import type { ImageReport } from '../report.js';

/**
 * A raw payload: no header, no integrity data of its own, detected by nothing (the user's --version,
 * or the firmware's request record, says what it is). Its SHA-256 is all there is to check it by.
 */
export const rawFormat: ImageFormat = {
  name: 'raw',
  id: 3,
  description: 'raw payload (with --version)',
  detect: () => false,
  maxBytes: LIMITS.maxPayloadBytes,

  async verify(src, opts) {
    if (!opts.raw) throw new FwupError('USAGE', `${src.name} is a raw payload: its version must be given`, { hint: 'pass --version V' });
    const sha = createHash('sha256');
    let crc = 0;
    await streamSource(
      src,
      async (chunk, at) => {
        sha.update(chunk);
        crc = crc32(chunk, crc);
        if (opts.onChunk) await opts.onChunk(chunk, at);
      },
      { ...(opts.onProgress ? { onProgress: opts.onProgress } : {}), ...(opts.checkpoint ? { checkpoint: opts.checkpoint } : {}) },
    );
    const sha256 = sha.digest('hex');
    return { format: rawFormat, report: rawReport(opts.raw, { length: src.size, crc32: crc, sha256 }), fileSha256: sha256, fileSize: src.size };
  },

  slotHeader: (report, platform) => payloadSlotHeader(report, platform),
};

/**
 * The `.fwup` header the firmware puts in front of a payload that has none (raw, a capsule's
 * payload), so that every slot holds an image that verifies at every boot.
 */
export function payloadSlotHeader(report: ImageReport, platform: string): Buffer {
  return buildFwupHeader(
    {
      platform,
      version: report.version,
      versionNumber: report.versionNumber,
      lowestSupportedVersion: Math.min(report.lowestSupportedVersion, report.versionNumber),
      securityVersion: report.securityVersion,
      flags: 0,
      buildTime: null,
      description: `installed from a ${report.format} image`,
    },
    { length: report.payloadSize, crc32: report.crc32, sha256: report.sha256 },
  );
}
