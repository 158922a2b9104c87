import type { ByteSource } from './byte-source.js';
import type { PublicKey } from './keys.js';
import type { TrustedCertificateInput } from './capsule-verify.js';
import type { RawMetadata } from './raw-format.js';
import type { FormatName, ImageReport } from './report.js';

/**
 * One interface for every update-image format (as fwupd's FuFirmware): detect by magic, verify over a
 * byte source, and say what a firmware slot needs to hold the image once installed. `inspect`, `stage`,
 * `fetch`, the downloader and the pre-OS firmware all call the same verifier, so a rule lives once.
 */
export interface VerifyTrust {
  /** Ed25519 keys for .fwup signatures; null = report "not-verified". */
  keys: readonly PublicKey[] | null;
  /** Certificates (DER) a capsule's PKCS#7 signatures must chain to; null or empty = "not-verified". */
  certs: readonly TrustedCertificateInput[] | null;
  /**
   * Certificates a cabinet's jcat PKCS#7 signatures must chain to: the distribution's LVFS CA and the
   * target's own (and inspect's --cert). Null or empty = "not-verified".
   */
  distributionCerts?: readonly TrustedCertificateInput[] | null;
}

export interface VerifyOptions {
  trust: VerifyTrust;
  /** A raw payload's metadata (the user's --version, or the firmware's request record). */
  raw?: RawMetadata;
  onProgress?: (done: number, total: number) => void;
  /** Every chunk of the source, in order, as the verifier reads it (valid during the call only). */
  onChunk?: (chunk: Buffer, offset: number) => void | Promise<void>;
  /** Called before each chunk: throws to stop (an interrupt). */
  checkpoint?: () => void;
  /**
   * false: leave out a payload CRC-32 the format also commits a SHA-256 to (reported as n/a). The
   * pre-OS firmware sets it: it trusts the payload's SHA-256 against the signed header, and the CRC
   * (there to catch damage early, in inspect and stage) would only add to the downtime.
   */
  payloadCrc?: boolean;
  /** Where the file's SHA-256 is computed beside the verifier's own work (the machine's hash engine). */
  fileHash?: ParallelSha256;
}

/**
 * A file's SHA-256 fed chunk by chunk, possibly computed elsewhere (another thread): the verifier reads
 * each chunk into `buffer` (when there is one), calls update(chunk), does its own hashing of the same
 * bytes, then wait() before the next read. start() begins a new digest.
 */
export interface ParallelSha256 {
  readonly buffer?: Buffer;
  start(): void;
  update(chunk: Buffer): void;
  wait(): void;
  digest(): string;
}

/** What one verification pass established about a byte source. */
export interface ImageVerdict {
  format: ImageFormat;
  report: ImageReport;
  /**
   * SHA-256 of every byte of the source as this pass read it: what binds a later write to this
   * verification (the writer hashes what it writes and must get the same value; never CRC-32).
   */
  fileSha256: string;
  fileSize: number;
  /**
   * A container's payload (a cabinet's firmware) as read and verified in this pass. Stage never writes
   * these bytes from memory: it spools them, verifies the spool again and writes from that descriptor.
   */
  payload?: { name: string; bytes: Buffer; verdict: ImageVerdict };
}

export interface ImageFormat {
  readonly name: FormatName;
  /** The format's number in the update request record. */
  readonly id: number;
  readonly description: string;
  /** A container (a cabinet) is never installed as is and never named by an update request: stage installs its payload. */
  readonly container?: boolean;
  /** Bytes detection needs, and whether these leading bytes are this format (raw detects nothing). */
  detect(head: Buffer): boolean;
  /** Largest source this format reads (a capsule is parsed in memory, so its bound is lower). */
  readonly maxBytes: number;
  /** Read the source once: structure, integrity, signatures. A structural fault throws; a failed check is in the report. */
  verify(src: ByteSource, opts: VerifyOptions): Promise<ImageVerdict>;
  /**
   * The slot image header the firmware writes before the payload, or null when the image is copied
   * whole (a .fwup is its own slot image, signature included). Deterministic from the report.
   */
  slotHeader(report: ImageReport, platform: string): Buffer | null;
}

/** What a firmware slot must hold for this image, header included: the one size rule of stage and the firmware. */
export function installedBytes(format: ImageFormat, report: ImageReport, platform: string): number {
  const header = format.slotHeader(report, platform);
  return header ? header.length + report.payloadSize : report.totalSize;
}

/** The part of the source that goes into the slot after `slotHeader` (the whole image when there is none). */
export function installedRange(format: ImageFormat, report: ImageReport, platform: string): { header: Buffer | null; from: number; length: number } {
  const header = format.slotHeader(report, platform);
  return header ? { header, from: report.payloadOffset, length: report.payloadSize } : { header: null, from: 0, length: report.totalSize };
}
