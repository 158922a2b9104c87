import { FwupError } from '../errors/fwup-error.js';
import type { ByteSource } from './byte-source.js';
import type { ImageFormat, ImageVerdict, VerifyOptions } from './format.js';
import { cabinetFormat } from './formats/cabinet.js';
import { capsuleFormat } from './formats/capsule.js';
import { fwupFormat } from './formats/fwup.js';
import { rawFormat } from './formats/raw.js';
import type { FormatName } from './report.js';

/** Every format fwup reads, in detection order. Raw has no magic: it is chosen by giving --version. */
export const FORMATS: readonly ImageFormat[] = [fwupFormat, capsuleFormat, cabinetFormat, rawFormat];

/** How many leading bytes detection needs. */
export const DETECT_BYTES = 16;

export function detectFormat(head: Buffer): ImageFormat | null {
  return FORMATS.find((f) => f.detect(head)) ?? null;
}

/** Detect, or explain what was found instead. `rawAllowed` is true when the caller gave a version. */
export function requireFormat(head: Buffer, what: string, rawAllowed: boolean): ImageFormat {
  const found = detectFormat(head);
  if (found) return found;
  if (rawAllowed) return rawFormat;
  const magic = head.subarray(0, 8).toString('hex').replace(/(..)/g, '$1 ').trim();
  throw new FwupError('IMAGE_UNKNOWN_FORMAT', `${what} is not a known image format (first bytes: ${magic || 'none, the file is empty'})`, {
    hint: `known formats: ${FORMATS.filter((f) => f !== rawFormat).map((f) => f.description).join(', ')}; for a raw .bin payload give --version`,
  });
}

export function formatByName(name: FormatName): ImageFormat {
  return FORMATS.find((f) => f.name === name)!;
}

/** The format an update request record names, or null for a number no installable format has (a container is never staged). */
export function formatById(id: number): ImageFormat | null {
  return FORMATS.find((f) => f.id === id && !f.container) ?? null;
}

/**
 * Verify a source as its format (detected, or the one a request record names): the one entry point of
 * inspect, stage, fetch and the firmware.
 */
export async function verifyImage(src: ByteSource, opts: VerifyOptions & { format?: ImageFormat }): Promise<ImageVerdict> {
  let format = opts.format;
  if (!format) {
    const head = src.read(0, Math.min(src.size, DETECT_BYTES), Buffer.alloc(DETECT_BYTES));
    format = requireFormat(Buffer.from(head), src.name, opts.raw !== undefined);
  }
  if (src.size > format.maxBytes) {
    throw new FwupError('IMAGE_TOO_LARGE', `${src.name} is ${src.size} bytes; a ${format.description} is at most ${format.maxBytes}`, {
      hint: 'this is not an update image fwup can read',
    });
  }
  return format.verify(src, opts);
}
