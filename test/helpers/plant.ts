import { Digester } from '../../src/util/digest.js';
import { RegionWriter } from '../../src/storage/region-writer.js';
import { IMAGE_FORMAT_ID, REQUEST_FLAGS, type UpdateRequest } from '../../src/storage/variables.js';
import type { Platform } from '../../src/machine/platform.js';
import { fwupHeaderLayout } from '../../src/image/fwup-format.js';

/**
 * Put an image into STAGING and a request that points at it, bypassing `stage`: what a buggy or hostile
 * OS could do. The request's digests match the bytes, so only the firmware's own checks stand between
 * the image and a slot.
 */
export function plantImage(p: Platform, image: Buffer, flags: number = REQUEST_FLAGS.APPLY): UpdateRequest {
  const w = new RegionWriter(p.flash, p.map.STAGING);
  w.write(image);
  w.finish();
  const d = new Digester().update(image).digest();
  let versionNumber = 0;
  let version = '';
  if (image.length >= fwupHeaderLayout.size) {
    try {
      const h = fwupHeaderLayout.parse(image);
      versionNumber = h.versionNumber;
      version = h.version;
    } catch {
      /* a damaged header: the firmware will say so */
    }
  }
  const r: UpdateRequest = {
    recordVersion: 1, flags, regionOffset: p.map.STAGING.offset, imageOffset: 0, imageLength: image.length, imageCrc32: d.crc32,
    imageSha256: Buffer.from(d.sha256, 'hex'), imageFormat: IMAGE_FORMAT_ID.fwup, reserved0: 0, cpuCount: 0, versionNumber, version,
    stateSaveAddress: 0n, stateSaveLength: 0, stateSaveCrc32: 0, stagedAt: 0n,
  };
  p.vars.setRequest(r);
  return r;
}
