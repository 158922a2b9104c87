import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.js';
import { edk2CorpusDir } from './requirements.js';

/**
 * Two sets of capsule fixtures with manifests of the same shape:
 * - fwup's own, committed in fixtures/capsules/ (scripts/make-capsule-fixtures.mjs): every capsule
 *   test runs on these with Node alone;
 * - the external edk2 corpus (FWUP_EDK2_CORPUS, default ../shared/fixtures/edk2-capsules), read in
 *   place: the byte-compatibility cross-check against edk2's GenerateCapsule. Tests that read it gate
 *   on `needs(t, EDK2_CORPUS())`; edk2Path throws if one forgot to.
 */
export const EDK2_DIR = edk2CorpusDir();

export function edk2Path(rel: string): string {
  if (!existsSync(join(EDK2_DIR, 'manifest.json'))) {
    throw new Error(`the edk2 capsule corpus is missing: expected ${EDK2_DIR}/manifest.json; gate the test with needs(t, EDK2_CORPUS())`);
  }
  return join(EDK2_DIR, rel);
}

export const OWN_DIR = join(REPO_ROOT, 'fixtures', 'capsules');
export const ownPath = (rel: string): string => join(OWN_DIR, rel);
/** fwup's TEST ONLY CA (fixtures/capsules/certs/README.md). */
export const OWN_CERTS = {
  root: ownPath('certs/test-root.crt'),
  intermediate: ownPath('certs/test-intermediate.crt'),
  signer: ownPath('certs/test-signer.crt'),
  signerKey: ownPath('certs/test-signer.key'),
  untrustedRoot: ownPath('certs/untrusted-root.crt'),
  untrustedSigner: ownPath('certs/untrusted-signer.crt'),
  untrustedSignerKey: ownPath('certs/untrusted-signer.key'),
} as const;

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

/** The edk2 corpus's manifest. */
export function loadManifest(): Manifest {
  return JSON.parse(readFileSync(edk2Path('manifest.json'), 'utf8')) as Manifest;
}

export interface OwnPayload extends ManifestPayload {
  dependency: { size: number; expression: string } | null;
  vendorCodeSha256: string | null;
  /** The signer's certificate (relative to fixtures/capsules), null when unsigned. */
  signer: string | null;
}

export interface OwnCapsule extends Omit<ManifestCapsule, 'command' | 'payloads'> {
  description: string;
  payloads: OwnPayload[];
}

export interface OwnPatch {
  op: string;
  what: string;
  at?: number;
  old?: number | string;
  new?: number | string;
  mask?: number;
  oldLength?: number;
  newLength?: number;
}

export interface OwnInvalid {
  file: string;
  size: number;
  sha256: string;
  category: 'format' | 'auth';
  reason: string;
  derivedFrom: string | null;
  built: string | null;
  patch: OwnPatch[];
  /** The FwupError code: of capsuleFormat.verify (format) or of the report (auth). */
  error: 'CAPSULE_INVALID' | 'IMAGE_SIGNATURE_INVALID' | 'IMAGE_SIGNATURE_UNKNOWN_KEY';
  /** A regular expression the error message matches. */
  message: string;
  /** What `fwup inspect` says instead, when detection by the capsule GUID already fails. */
  cliError?: string;
  /** Payload 0's offsets (auth only), for openssl. */
  fileOffsets: SignedOffsets | null;
  /** openssl's verdict (auth only): "failed", or "ok" where fwup is stricter (opensslDivergence). */
  signatureVerify: 'ok' | 'failed' | null;
  opensslDivergence?: string;
}

export interface OwnManifest {
  certs: Record<string, { file: string; key: string; subject: string; issuer: string; ca: boolean; sha256Fingerprint: string; keyId: string }>;
  capsules: OwnCapsule[];
  invalid: OwnInvalid[];
}

/** fixtures/capsules/manifest.json. */
export function loadOwnManifest(): OwnManifest {
  return JSON.parse(readFileSync(ownPath('manifest.json'), 'utf8')) as OwnManifest;
}

export function ownCapsule(m: OwnManifest, file: string): OwnCapsule {
  const c = m.capsules.find((x) => x.file === file);
  if (!c) throw new Error(`fixtures/capsules/manifest.json has no ${file}`);
  return c;
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
