import type { ImageVerdict, VerifyOptions } from '../image/format.js';
import { verifyImage } from '../image/registry.js';
import type { FormatName, ImageReport } from '../image/report.js';
import { FileSource } from './file-source.js';

export { CHUNK_BYTES } from '../image/byte-source.js';

export interface ImageFile {
  path: string;
  format: FormatName;
  fileSize: number;
  /** SHA-256 of the whole file as verified. */
  fileSha256: string;
  report: ImageReport;
}

/** Verify an image file in one pass (detect, parse, digests, signatures) and close it. */
export async function readImageFile(path: string, opts: VerifyOptions & { name?: string }): Promise<ImageFile> {
  const src = FileSource.open(path, opts.name ?? path);
  try {
    const v = await verifyImage(src, opts);
    return fileOf(path, v);
  } finally {
    src.close();
  }
}

export function fileOf(path: string, v: ImageVerdict): ImageFile {
  return { path, format: v.format.name, fileSize: v.fileSize, fileSha256: v.fileSha256, report: v.report };
}
