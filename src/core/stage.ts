import { createHash } from 'node:crypto';
import { FwupError } from '../errors/fwup-error.js';
import { streamSource } from '../image/byte-source.js';
import type { ImageVerdict, VerifyTrust } from '../image/format.js';
import { checkPolicy } from '../image/policy.js';
import type { RawMetadata } from '../image/raw-format.js';
import { verifyImage } from '../image/registry.js';
import { reportError, type ImageReport } from '../image/report.js';
import type { PlannedAction } from '../targets/plan.js';
import type { StageDetails, StagedSummary, Target, TargetKind, TargetOptions } from '../targets/target.js';
import { cabinetTrustRefusal, distributionCerts, isCabinet, spoolPayload, type SpooledPayload } from './cabinet-payload.js';
import { resolvePath, type Context } from './context.js';
import { downloadImage, type DownloadOptions } from './download.js';
import { FileSource } from './file-source.js';
import { Steps } from './steps.js';
import { stopIfInterrupted } from './interrupt.js';
import { STDIN_NAME, withInputFile } from './standard-input.js';
import { resolveTarget, withTargetLock } from './target-session.js';

export interface StageOptions {
  target?: string;
  allowOlder: boolean;
  allowUnsigned: boolean;
  allowReinstall: boolean;
  /** Accept a raw payload of this version. */
  raw?: RawMetadata;
  /** For an http(s) URL: the pinned digest, timeouts and limits of the download. */
  download?: Omit<DownloadOptions, 'keys' | 'raw'>;
  /** Validate and list what would be written; write nothing. */
  dryRun?: boolean;
  /** How to reach a hardware target (--region, --sudo, --capsule-delivery, …). */
  targetOptions?: TargetOptions;
  /** Test hook: runs between the verify pass and the write pass over the one open file. */
  betweenPasses?: () => void | Promise<void>;
}

export function isUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
}

/** A raw image on a target that needs no version for it (a whole-chip flash dump has none). */
const UNVERSIONED_RAW: RawMetadata = { version: 'unversioned', versionNumber: 0, platform: null, lowestSupportedVersion: 0, securityVersion: 0 };

export interface StageOutcome {
  target: string;
  kind: TargetKind;
  image: ImageReport & { path: string; fileSha256: string; fileSize: number };
  staged: StagedSummary;
  replaced: boolean;
  details: StageDetails;
  plan: PlannedAction[];
  dryRun: boolean;
  /** Set when the image came from a URL. */
  download: { url: string; fileSha256: string; size: number; resumedBytes: number; cached: boolean } | null;
}

/**
 * stage, in the engine's order: verify (one pass over the one open file: structure, digests,
 * signature against the target's trust) → policy → the target's own checks → write (a second pass
 * over the same descriptor, every byte hashed on its way to the target) → read back (the target's
 * SHA-256 of what it stored) → record (the update request). Nothing is written before every check has
 * passed, and nothing is recorded unless the bytes written are the bytes verified.
 */
export async function stage(ctx: Context, imagePath: string, opts: StageOptions): Promise<StageOutcome> {
  if (isUrl(imagePath) && !/^https?:\/\//i.test(imagePath)) {
    throw new FwupError('NET_FAILED', `unsupported URL scheme in ${imagePath}: fwup downloads http:// and https:// only`, {
      hint: 'download it yourself and stage the file, or serve it over https',
    });
  }
  if (imagePath === STDIN_NAME) {
    // A pipe is read once: spool it (bounded) before the target is even looked up, then stage the spool.
    return withInputFile(ctx, imagePath, async (file) => {
      const out = await stageFile(ctx, file, 'standard input', opts);
      return { ...out, image: { ...out.image, path: STDIN_NAME } };
    });
  }
  return stageFile(ctx, imagePath, imagePath, opts);
}

async function stageFile(ctx: Context, imagePath: string, displayName: string, opts: StageOptions): Promise<StageOutcome> {
  const target = await resolveTarget(ctx, opts.target, opts.targetOptions);
  const dryRun = opts.dryRun ?? false;
  let path = resolvePath(ctx, imagePath);
  let name = displayName;
  let download: StageOutcome['download'] = null;
  if (isUrl(imagePath)) {
    // Download (without holding the target: it may take long) into the cache, where the pinned digest
    // and the image's own integrity and signature are checked before the file is called complete.
    const facts = await withTargetLock(ctx, target, () => target.facts());
    const dl = await downloadImage(ctx, imagePath, { ...opts.download, keys: facts.trustedKeys, ...(opts.raw ? { raw: opts.raw } : {}) });
    path = dl.path;
    name = `the image downloaded from ${dl.url}`;
    download = { url: dl.url, fileSha256: dl.fileSha256, size: dl.size, resumedBytes: dl.resumedBytes, cached: dl.cached };
  }
  return withTargetLock(ctx, target, async () => {
    const facts = await target.facts();
    const source = FileSource.open(path, name);
    if (opts.betweenPasses) source.betweenPasses = opts.betweenPasses;
    const cabinet = isCabinet(source);
    // A cabinet's raw payload takes its version from the metainfo, never the unversioned default.
    const raw = opts.raw ?? (facts.rawWithoutVersion && !cabinet ? UNVERSIONED_RAW : undefined);
    const ownCerts = facts.trustedCerts ?? null;
    const trust: VerifyTrust = { keys: facts.trustedKeys, certs: ownCerts, ...(cabinet ? { distributionCerts: await distributionCerts(ctx, ownCerts) } : {}) };
    let spool: SpooledPayload | null = null;
    // A BMC's record step is the upload and its task: most of the time goes there.
    const weights = target.kind === 'redfish' ? { verify: 15, policy: 1, prepare: 2, write: 7, record: 75 } : { verify: 45, policy: 1, prepare: 2, write: 50, record: 2 };
    const steps = new Steps(ctx, 'stage', `${dryRun ? 'planning' : 'staging'} ${displayName}`, weights);
    try {
      const verdict = await steps.run('verify', (tick) =>
        verifyImage(source, {
          trust, ...(raw ? { raw } : {}), onProgress: (d, t) => tick(d / t),
          checkpoint: () => stopIfInterrupted(ctx, `stage of ${displayName}`, 'it was being verified; nothing was written'),
        }),
      );
      // A cabinet installs its payload: its own rules first, then the payload's copy is what goes on.
      const installed = await steps.run('policy', async () => {
        if (!verdict.payload) {
          const refusal = checkPolicy(verdict.report, facts, opts, displayName);
          if (refusal) throw refusal;
          return { source, verdict };
        }
        const refusal = reportError(verdict.report, displayName, 'target') ?? cabinetTrustRefusal(verdict.report.cabinet!, displayName, opts.allowUnsigned);
        if (refusal) throw refusal;
        spool = await spoolPayload(ctx, verdict, trust, () => stopIfInterrupted(ctx, `stage of ${displayName}`, 'its payload was being verified; nothing was written'));
        const inner = checkPolicy(spool.verdict.report, facts, opts, `${displayName}: ${verdict.payload.name}`);
        if (inner) throw inner;
        return { source: spool.source, verdict: spool.verdict };
      });
      stopIfInterrupted(ctx, `stage of ${displayName}`, 'it was verified; nothing was written');
      const r = await writeVerified(target, installed.source, installed.verdict, { ...opts, dryRun }, steps, () =>
        stopIfInterrupted(ctx, `stage of ${displayName}`, `it was being written to ${target.spec}: nothing is staged (any request staged before was withdrawn); run stage again`),
      );
      steps.done();
      return {
        target: target.spec, kind: target.kind, image: { path, fileSha256: verdict.fileSha256, fileSize: verdict.fileSize, ...verdict.report },
        ...r, dryRun, download,
      };
    } finally {
      source.close();
      await (spool as SpooledPayload | null)?.close();
    }
  });
}

/** The write half of the engine: the target's checks, then the verified bytes through its sink, then its record. */
async function writeVerified(
  target: Target,
  source: FileSource,
  verdict: ImageVerdict,
  opts: StageOptions & { dryRun: boolean },
  steps: Steps<'verify' | 'policy' | 'prepare' | 'write' | 'record'>,
  checkpoint: () => void,
): Promise<Pick<StageOutcome, 'staged' | 'replaced' | 'details' | 'plan'>> {
  const flags = { allowOlder: opts.allowOlder, allowUnsigned: opts.allowUnsigned, allowReinstall: opts.allowReinstall, dryRun: opts.dryRun };
  const session = await steps.run('prepare', () => target.beginStage({ path: source.path, verdict }, flags), { prefix: true });
  try {
    await source.nextPass();
    const report = verdict.report;
    const range = session.range === 'file'
      ? { from: 0, length: verdict.fileSize, sha256: verdict.fileSha256, what: 'the file' }
      : { from: report.payloadOffset, length: report.payloadSize, sha256: report.sha256, what: 'the payload' };
    await steps.run('write', async (tick) => {
      const sink = await session.open();
      const seen = createHash('sha256');
      await streamSource(source, async (chunk) => {
        seen.update(chunk);
        await sink.write(chunk);
      }, { start: range.from, end: range.from + range.length, onProgress: (d, t) => tick(d / t), checkpoint });
      const got = seen.digest('hex');
      if (got !== range.sha256) {
        throw new FwupError('FILE_IO', `${source.name} changed between its verification and the write: ${range.what} read now hashes to ${got.slice(0, 16)}…, the one verified to ${range.sha256.slice(0, 16)}… (SHA-256)`, {
          hint: 'nothing was staged (the previous request was withdrawn); run stage again once the file is stable',
        });
      }
      const { readBackSha256 } = await sink.finish();
      if (readBackSha256 !== range.sha256) {
        throw new FwupError('FLASH_VERIFY', `${target.spec} does not hold what was written: its read-back hashes to ${readBackSha256.slice(0, 16)}…, not ${range.sha256.slice(0, 16)}…`, {
          hint: 'nothing was staged; the storage did not keep the bytes (check the device), then stage again',
        });
      }
    }, { prefix: true });
    const commit = await steps.run('record', (tick) => session.commit({ sha256: range.sha256, bytes: range.length }, tick), { prefix: true });
    return { staged: commit.staged, replaced: session.replaces, details: commit.details, plan: commit.plan };
  } finally {
    await session.close();
  }
}
