import type { CheckVerdict, ImageReport } from '../report.js';
import type { CabinetFileRole, CabinetParts } from './cabinet-contents.js';
import type { JcatItemVerdict, JcatSignatureVerdict } from './jcat-verify.js';
import type { Metainfo } from './metainfo.js';

/** What `inspect --json` says about a cabinet: its files, its metadata, every check and the image inside. */
export interface CabinetReport {
  files: Array<{ name: string; size: number; sha256: string; role: CabinetFileRole; modified: string | null }>;
  folders: Array<{ compression: 'none' | 'mszip'; blocks: number; compressedSize: number; uncompressedSize: number }>;
  metainfo: Metainfo & { file: string };
  release: { version: string; versionFormat: string | null };
  payload: { file: string; size: number; sha256: string; chosenBy: CabinetParts['payloadChosenBy'] };
  jcat: { file: string; version: string; items: JcatItemVerdict[] } | null;
  /** The jcat signatures over the payload and over the metainfo, summed up (see cabinetSignature). */
  signature: CabinetSignature;
  /** The rules that tie the metadata to the payload, each ok, mismatch, or n/a with why. */
  checks: CabinetCheck[];
  /** The payload as its own format reads it: what stage installs. */
  inner: ImageReport;
}

export type CabinetRule = 'metainfo-checksum' | 'jcat-checksum' | 'version' | 'guid';

export interface CabinetCheck {
  rule: CabinetRule;
  verdict: CheckVerdict;
  detail: string;
}

export interface CabinetSignature {
  /** valid: a PKCS#7 signature over the payload chains to a trusted certificate. */
  status: 'valid' | 'invalid' | 'unknown-key' | 'not-verified' | 'unsigned';
  signer: string | null;
  /** The signature that decided the status (the payload's, or the metainfo's when that one is bad). */
  file: string | null;
  reason: string | null;
}

/**
 * One status from the jcat's verdicts: a bad signature on the payload or the metainfo wins (either was
 * changed), then a trusted one on the payload, then an untrusted one, then one nothing could check.
 */
export function cabinetSignature(items: readonly JcatItemVerdict[], payload: string, metainfo: string): CabinetSignature {
  const of = (id: string) => items.filter((i) => i.id === id).flatMap((i) => i.signatures.map((s) => ({ s, file: id })));
  const payloadSigs = of(payload);
  const all = [...payloadSigs, ...of(metainfo)];
  const pick = (list: Array<{ s: JcatSignatureVerdict; file: string }>, status: JcatSignatureVerdict['status']) => list.find((x) => x.s.status === status);
  const found = pick(all, 'invalid') ?? pick(payloadSigs, 'valid') ?? pick(payloadSigs, 'unknown-key') ?? payloadSigs.find((x) => x.s.status === 'not-verified' || x.s.status === 'unsupported');
  if (!found) return { status: 'unsigned', signer: null, file: null, reason: payloadSigs.length || all.length ? 'no signature over the payload' : null };
  const status = found.s.status === 'unsupported' ? 'not-verified' : found.s.status;
  return { status, signer: found.s.signer, file: found.file, reason: found.s.reason };
}
