import { createHash } from 'node:crypto';
import { RegionWriter } from '../../src/storage/region-writer.js';
import { REQUEST_FLAGS, type UpdateRequest } from '../../src/storage/variables.js';
import type { Platform } from '../../src/machine/platform.js';
import { fwupHeaderLayout } from '../../src/image/fwup-format.js';
import { fwupFormat } from '../../src/image/formats/fwup.js';

/**
 * Put an image into STAGING and a request that points at it, bypassing `stage`: what a buggy or hostile
 * OS can do with its own view of the flash and the variable service. The request's digest matches the
 * bytes, so only the firmware's own checks stand between the image and a slot. `in-place`: into the
 * inactive slot the firmware releases to the OS on a machine that installs in place.
 */
export function plantImage(p: Platform, image: Buffer, flags: number = REQUEST_FLAGS.APPLY, format = fwupFormat.id, where: 'copy' | 'in-place' = 'copy'): UpdateRequest {
  const region = where === 'in-place' ? p.services.releaseInactiveSlot(0) : p.map.STAGING;
  const w = new RegionWriter(p.flash, region);
  w.write(image);
  w.finish();
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
    recordVersion: 2, flags, regionOffset: region.offset, imageOffset: 0, imageLength: image.length,
    imageSha256: createHash('sha256').update(image).digest(), imageFormat: format, reserved0: 0, cpuCount: 0, versionNumber, version,
    stateSaveAddress: 0n, stateSaveLength: 0, stateSaveCrc32: 0, stagedAt: 0n,
  };
  p.services.setRequest(r);
  return r;
}
