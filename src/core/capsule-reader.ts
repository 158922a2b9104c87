import { FwupError } from '../errors/fwup-error.js';
import { checkCapsuleHeader, parseCapsule, signedContent } from '../image/capsule-format.js';
import { capsuleHeaderLayout } from '../image/capsule-layouts.js';
import { capsuleImageReport } from '../image/capsule-report.js';
import { loadTrustStore, verifyCapsuleSignature, type CapsuleSignatureVerdict } from '../image/capsule-verify.js';
import type { ReadOnlyFile } from './files.js';
import type { ImageFile, ReadImageOptions } from './image-reader.js';

const CHUNK_BYTES = 1 << 20;

/**
 * Read a UEFI capsule: check the 28-byte header against the file size first (so a damaged size never
 * makes us allocate or read gigabytes), then read the whole file once (feeding `onChunk` and
 * progress), parse it with edk2's rules, and verify every signed payload against the trusted
 * certificates. Loaded with import() by image-reader, so nothing here costs a non-capsule command.
 */
export async function readCapsuleFile(path: string, fh: ReadOnlyFile, fileSize: number, opts: ReadImageOptions): Promise<ImageFile> {
  const head = Buffer.alloc(Math.min(fileSize, capsuleHeaderLayout.size));
  fh.read(head, head.length, 0);
  const header = checkCapsuleHeader(head, fileSize);

  const bytes = Buffer.allocUnsafe(fileSize);
  for (let pos = 0; pos < fileSize; ) {
    const n = fh.read(bytes.subarray(pos, Math.min(fileSize, pos + CHUNK_BYTES)), Math.min(CHUNK_BYTES, fileSize - pos), pos);
    if (n === 0) throw new FwupError('IMAGE_TRUNCATED', `${path} shrank while it was read (at byte ${pos})`);
    if (opts.onChunk) await opts.onChunk(bytes.subarray(pos, pos + n), pos);
    pos += n;
    opts.onProgress?.(pos, fileSize);
  }
  const parsed = parseCapsule(bytes);

  const certs = opts.trustedCerts ?? null;
  const trust = certs && certs.length > 0 ? await loadTrustStore(certs) : null;
  const verdicts: Array<CapsuleSignatureVerdict | null> = [];
  for (const p of parsed.payloads) {
    const content = signedContent(bytes, p);
    verdicts.push(p.auth && content ? await verifyCapsuleSignature(p.auth.certData, content, trust) : null);
  }
  return {
    path,
    format: 'capsule',
    fileSize,
    header: Buffer.from(bytes.subarray(0, header.HeaderSize)),
    report: capsuleImageReport(parsed, verdicts),
  };
}
