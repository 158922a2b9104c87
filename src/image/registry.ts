import { FwupError } from '../errors/fwup-error.js';
import { isFwupImage } from './fwup-format.js';
import type { FormatName } from './report.js';

/** Formats recognised by their magic. Raw images have none: they are chosen by giving --version. */
interface DetectableFormat {
  readonly name: Exclude<FormatName, 'raw'>;
  readonly description: string;
  detect(head: Buffer): boolean;
}

const FMP_CAPSULE_GUID_BYTES = Buffer.from('edd5cb6d2de8444cbda17194199ad92a', 'hex');

const FORMATS: readonly DetectableFormat[] = [
  { name: 'fwup', description: 'fwup native image', detect: isFwupImage },
  {
    name: 'capsule',
    description: 'UEFI FMP capsule',
    detect: (head) => head.length >= 16 && head.subarray(0, 16).equals(FMP_CAPSULE_GUID_BYTES),
  },
];

/** How many leading bytes detection needs. */
export const DETECT_BYTES = 16;

export function detectFormat(head: Buffer): FormatName | null {
  return FORMATS.find((f) => f.detect(head))?.name ?? null;
}

/** Detect, or explain what was found instead. `rawAllowed` is true when the caller gave a version. */
export function requireFormat(head: Buffer, what: string, rawAllowed: boolean): FormatName {
  const found = detectFormat(head);
  if (found) return found;
  if (rawAllowed) return 'raw';
  const magic = head.subarray(0, 8).toString('hex').replace(/(..)/g, '$1 ').trim();
  throw new FwupError('IMAGE_UNKNOWN_FORMAT', `${what} is not a known image format (first bytes: ${magic || 'none, the file is empty'})`, {
    hint: `known formats: ${FORMATS.map((f) => f.description).join(', ')}; for a raw .bin payload give --version`,
  });
}
