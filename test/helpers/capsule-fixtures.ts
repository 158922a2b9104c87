import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SHARED_FIXTURES } from './cli.js';

/**
 * The shared edk2 capsule fixtures, read in place (never copied into the repository). A missing
 * folder fails the test with a clear message: a skipped fixture test proves nothing.
 */
export const EDK2_DIR = join(SHARED_FIXTURES, 'edk2-capsules');

export function edk2Path(rel: string): string {
  if (!existsSync(join(EDK2_DIR, 'manifest.json'))) {
    throw new Error(`the shared edk2 capsule fixtures are missing: expected ${EDK2_DIR}/manifest.json (CI lays ../shared beside the clone)`);
  }
  return join(EDK2_DIR, rel);
}

export const TEST_ROOT = () => edk2Path('certs/TestRoot.pub.pem');
export const TEST_SUB = () => edk2Path('certs/TestSub.pub.pem');
export const TEST_CERT = () => edk2Path('certs/TestCert.pem');

export interface ManifestPayload {
  imageHeaderVersion: number;
  updateImageTypeId: string;
  updateImageIndex: number;
  updateImageSize: number;
  updateVendorCodeSize: number;
  hardwareInstance: string;
  imageCapsuleSupport: string;
  authenticated: boolean;
  monotonicCount: string | null;
  auth: Record<string, unknown> | null;
  fmpPayloadHeader: { signature: string; headerSize: number; fwVersion: number; lowestSupportedVersion: number };
  payloadLength: number;
  payloadSha256: string;
  payloadPrngLabel: string;
  fileOffsets: Record<string, number>;
  signatureVerify: 'ok' | 'failed' | null;
}

export interface ManifestCapsule {
  file: string;
  size: number;
  sha256: string;
  command: string;
  byteReproducible: boolean;
  capsuleGuid: string;
  headerSize: number;
  flags: number;
  flagNames: string[];
  oemFlags: number;
  capsuleImageSize: number;
  fmpVersion: number;
  embeddedDriverCount: number;
  payloadItemCount: number;
  itemOffsets: string[];
  embeddedDrivers: Array<{ itemOffset: string; fileOffset: number; length: number; sha256: string; prngLabel: string; firstTwoBytes: string }>;
  payloads: ManifestPayload[];
}

export interface ManifestInvalid {
  file: string;
  size: number;
  sha256: string;
  category: 'format' | 'auth';
  reason: string;
  edk2Check: string;
}

export interface Manifest {
  capsules: ManifestCapsule[];
  invalid: ManifestInvalid[];
}

export function loadManifest(): Manifest {
  return JSON.parse(readFileSync(edk2Path('manifest.json'), 'utf8')) as Manifest;
}

/** The fixtures' payload PRNG (README "How the files were made"). */
export function prng(label: string, n: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0, len = 0; len < n; i++, len += 32) {
    const counter = Buffer.alloc(4);
    counter.writeUInt32LE(i);
    blocks.push(createHash('sha256').update(label, 'utf8').update(counter).digest());
  }
  return Buffer.concat(blocks).subarray(0, n);
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export interface SignedOffsets {
  auth: number;
  certData: number;
  signedContentStart: number;
  end: number;
}

/**
 * The independent check: `openssl smime -verify` with the flags edk2's Pkcs7Verify amounts to
 * (partial chain, no time check, any purpose), over the bytes the README names.
 */
export async function opensslVerify(file: Buffer, o: SignedOffsets, trusted: string, workDir: string): Promise<'ok' | 'failed'> {
  const certData = join(workDir, 'CertData.der');
  const signed = join(workDir, 'signed.bin');
  await writeFile(certData, file.subarray(o.certData, o.signedContentStart));
  await writeFile(signed, Buffer.concat([file.subarray(o.signedContentStart, o.end), file.subarray(o.auth, o.auth + 8)]));
  return new Promise((done) => {
    execFile(
      'openssl',
      ['smime', '-verify', '-binary', '-inform', 'DER', '-in', certData, '-content', signed, '-CAfile', trusted, '-purpose', 'any', '-partial_chain', '-no_check_time', '-out', '/dev/null'],
      (err) => done(err ? 'failed' : 'ok'),
    );
  });
}
