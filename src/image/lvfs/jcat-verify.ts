import { createHash } from 'node:crypto';
import { FwupError } from '../../errors/fwup-error.js';
import { pemBlocks } from '../../util/pem.js';
import { loadTrustStore, verifyCapsuleSignature, type TrustedCertificateInput, type TrustStore } from '../capsule-verify.js';
import type { JcatBlob, JcatBlobKind, JcatCatalog, JcatItem } from './jcat.js';

/**
 * Check a Jcat catalog against the files it describes: every checksum blob against the file's bytes,
 * every PKCS#7 blob as a detached CMS signature over the file (or, with a Target, over the bytes of
 * the item's blob of that kind, e.g. the hex text of its sha256) chained to the given certificates
 * with capsule-verify's trust rules. GPG and Ed25519 blobs are reported, not verified (see
 * docs/cabinet-format.md, "Jcat"). Pure: bytes in, verdict out; async because WebCrypto is.
 */

export interface JcatSignatureVerdict {
  kind: 'pkcs7' | 'gpg' | 'ed25519' | 'unknown';
  status: 'valid' | 'invalid' | 'unknown-key' | 'not-verified' | 'unsupported';
  /** Subject of the signer certificate (PKCS#7), when known. */
  signer: string | null;
  reason: string | null;
  /** What it signs: null the file, else the item's blob of this kind. */
  target: JcatBlobKind | null;
  /** The trusted certificate the chain ended at (valid only). */
  trustAnchor: string | null;
  /** libjcat's name of the blob kind, e.g. 'bt-manifest' for an unsupported one. */
  kindName: string;
}

export interface JcatChecksumVerdict {
  kind: JcatBlobKind;
  expected: string;
  /** Lower-case hex of the file's digest; null when the file is not in the cabinet. */
  actual: string | null;
  ok: boolean;
}

export interface JcatItemVerdict {
  id: string;
  /** The file is in the cabinet, under its id or one of its aliases. */
  present: boolean;
  /** The name it was found under (the id or an alias), null when absent. */
  file: string | null;
  checksums: JcatChecksumVerdict[];
  signatures: JcatSignatureVerdict[];
}

export interface JcatVerdict {
  items: JcatItemVerdict[];
}

const DIGESTS: Partial<Record<JcatBlobKind, string>> = { sha1: 'sha1', sha256: 'sha256', sha512: 'sha512' };
const GPG_REASON = 'GPG signatures are not verified: fwup has no OpenPGP verifier (no maintained JavaScript OpenPGP implementation is a dependency); the LVFS signs every file with PKCS#7 too';
const ED25519_REASON = 'Ed25519 blobs are not verified: libjcat checks them against raw Ed25519 public keys, and fwup is given X.509 certificates only';

/** `fileBytes(name)` returns the cabinet file of that name or null; `certs` null or empty: report signatures as not-verified. */
export async function verifyJcat(
  cat: JcatCatalog,
  fileBytes: (id: string) => Buffer | null,
  certs: readonly TrustedCertificateInput[] | null,
): Promise<JcatVerdict> {
  const trust = certs && certs.length > 0 ? await loadTrustStore(certs) : null;
  const items: JcatItemVerdict[] = [];
  for (const item of cat.items) items.push(await verifyItem(item, fileBytes, trust));
  return { items };
}

async function verifyItem(item: JcatItem, fileBytes: (id: string) => Buffer | null, trust: TrustStore | null): Promise<JcatItemVerdict> {
  let file: string | null = null;
  let bytes: Buffer | null = null;
  for (const n of [item.id, ...item.aliases]) {
    bytes = fileBytes(n);
    if (bytes) {
      file = n;
      break;
    }
  }
  const checksums: JcatChecksumVerdict[] = [];
  const signatures: JcatSignatureVerdict[] = [];
  for (const blob of item.blobs) {
    const digest = DIGESTS[blob.kind];
    if (digest !== undefined) {
      const expected = blob.data.toString('utf8').trim().toLowerCase();
      const actual = bytes ? createHash(digest).update(bytes).digest('hex') : null;
      checksums.push({ kind: blob.kind, expected, actual, ok: actual !== null && actual === expected });
    } else {
      signatures.push(await verifySignatureBlob(item, blob, bytes, trust));
    }
  }
  return { id: item.id, present: bytes !== null, file, checksums, signatures };
}

async function verifySignatureBlob(item: JcatItem, blob: JcatBlob, file: Buffer | null, trust: TrustStore | null): Promise<JcatSignatureVerdict> {
  const base = { signer: null, reason: null, target: blob.target, trustAnchor: null, kindName: blob.kindName };
  if (blob.kind === 'gpg') return { ...base, kind: 'gpg', status: 'not-verified', reason: GPG_REASON };
  if (blob.kind === 'ed25519') return { ...base, kind: 'ed25519', status: 'not-verified', reason: ED25519_REASON };
  if (blob.kind !== 'pkcs7') {
    return { ...base, kind: 'unknown', status: 'unsupported', reason: `blob kind ${blob.kindNumber} (${blob.kindName}) is not one fwup verifies` };
  }
  const v = { ...base, kind: 'pkcs7' as const };
  // What was signed: the file, or the item's first blob of the target kind (as libjcat picks it).
  let content: Buffer;
  if (blob.targetNumber === null) {
    if (!file) return { ...v, status: 'not-verified', reason: `"${item.id}" is not in the cabinet, so there is nothing to check the signature over` };
    content = file;
  } else {
    const signed = item.blobs.find((b) => b.kindNumber === blob.targetNumber);
    if (!signed) return { ...v, status: 'invalid', reason: `it signs the item's ${blob.target === 'unknown' ? `kind-${blob.targetNumber}` : blob.target} blob, which the item does not have` };
    content = signed.data;
  }
  const der = signatureDer(blob);
  if (typeof der === 'string') return { ...v, status: 'invalid', reason: der };
  const r = await verifyCapsuleSignature(der, content, trust, { signerFromTrusted: true });
  const reason = r.status === 'not-verified' ? `no certificates were given to check it against${r.signer === null ? ' (and the signature carries none of its own)' : ''}` : r.reason;
  // jcat-tool self-sign's certificate has an empty subject; say so rather than print nothing.
  const signer = r.signer === '' ? '(empty subject)' : r.signer;
  return { ...v, status: r.status, signer, reason, trustAnchor: r.trustAnchor };
}

/** jcat-tool stores PKCS#7 as PEM text (IS_UTF8); a binary blob is DER already. */
function signatureDer(blob: JcatBlob): Buffer | string {
  const text = blob.data.subarray(0, 64).toString('latin1');
  if (!text.includes('-----BEGIN ')) return blob.data;
  const pkcs7 = pemBlocks(blob.data.toString('latin1')).filter((b) => b.label === 'PKCS7' || b.label === 'CMS');
  if (pkcs7.length !== 1) return `the blob holds ${pkcs7.length} "-----BEGIN PKCS7-----" blocks, not one`;
  return pkcs7[0]!.der;
}

/**
 * The first thing wrong in a verdict, as an error: a signature that does not verify is
 * JCAT_SIGNATURE_INVALID, a checksum that does not match the file IMAGE_SHA256 (its kind named).
 * Null when nothing is wrong (not-verified and unknown-key signatures are for policy to judge).
 */
export function jcatVerdictError(v: JcatVerdict, name: string): FwupError | null {
  for (const item of v.items) {
    for (const c of item.checksums) {
      if (c.ok || c.actual === null) continue;
      return new FwupError('IMAGE_SHA256', `${name}: the ${c.kind} of "${item.id}" is ${c.actual}, but the catalog says ${c.expected}`, {
        hint: 'the file was changed or damaged after the catalog was made: fetch the cabinet again',
        details: { item: item.id, kind: c.kind, expected: c.expected, actual: c.actual },
      });
    }
    for (const s of item.signatures) {
      if (s.status !== 'invalid') continue;
      return new FwupError('JCAT_SIGNATURE_INVALID', `${name}: the ${s.kind}${s.target ? ` (of its ${s.target})` : ''} signature of "${item.id}" does not verify: ${s.reason ?? 'no reason given'}`, {
        details: { item: item.id, kind: s.kind, target: s.target, signer: s.signer },
      });
    }
  }
  return null;
}
