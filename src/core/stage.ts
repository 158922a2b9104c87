import { checkPolicy } from '../image/policy.js';
import type { RawMetadata } from '../image/raw-format.js';
import { crc32 } from '../util/crc32.js';
import type { StageResult, TargetOptions } from '../targets/target.js';
import type { ImageReport } from '../image/report.js';
import { resolvePath, type Context } from './context.js';
import { readImageFile } from './image-reader.js';
import { resolveTarget, withTargetLock } from './target-session.js';
import { downloadImage, type DownloadOptions } from './download.js';

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
}

export function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/** A raw image on a target that needs no version for it (a whole-chip flash dump has none). */
const UNVERSIONED_RAW: RawMetadata = { version: 'unversioned', versionNumber: 0, platform: null, lowestSupportedVersion: 0, securityVersion: 0 };

export interface StageOutcome extends StageResult {
  target: string;
  image: ImageReport & { path: string };
  /** Set when the image came from a URL. */
  download: { url: string; sha256: string; size: number; resumedBytes: number; cached: boolean } | null;
}

/**
 * stage = validate everything (format, integrity, signature against the target's keys, policy), then
 * hand the image to the target. Nothing is written before every check has passed.
 */
export async function stage(ctx: Context, imagePath: string, opts: StageOptions): Promise<StageOutcome> {
  const target = await resolveTarget(ctx, opts.target, opts.targetOptions);
  const dryRun = opts.dryRun ?? false;
  let path = resolvePath(ctx, imagePath);
  let download: StageOutcome['download'] = null;
  if (isUrl(imagePath)) {
    // Download (without holding the target: it may take long) into the cache, where the pinned digest
    // and the image's own integrity and signature are checked before the file is called complete.
    const facts = await withTargetLock(ctx, target, () => target.facts());
    const dl = await downloadImage(ctx, imagePath, { ...opts.download, keys: facts.trustedKeys, ...(opts.raw ? { raw: opts.raw } : {}) });
    path = dl.path;
    download = { url: dl.url, sha256: dl.sha256, size: dl.size, resumedBytes: dl.resumedBytes, cached: dl.cached };
  }
  return withTargetLock(ctx, target, async () => {
    const facts = await target.facts();
    const raw = opts.raw ?? (facts.rawWithoutVersion ? UNVERSIONED_RAW : undefined);
    const task = ctx.progress.start(`verifying ${imagePath}`);
    let fileCrc = 0;
    const file = await readImageFile(path, {
      keys: facts.trustedKeys,
      trustedCerts: facts.trustedCerts ?? null,
      ...(raw ? { raw } : {}),
      onChunk: (chunk) => {
        fileCrc = crc32(chunk, fileCrc);
      },
      onProgress: (done, total) => task.update(done, `verifying ${imagePath} ${Math.floor((done / total) * 100)}%`),
    });
    task.succeed();
    const refusal = checkPolicy(file.report, facts, opts, imagePath);
    if (refusal) throw refusal;
    const write = ctx.progress.start(dryRun ? `planning ${imagePath}` : `staging ${imagePath}`, file.fileSize);
    try {
      const result = await target.stage(
        { path, format: file.format, size: file.fileSize, report: file.report, fileCrc32: fileCrc },
        {
          allowOlder: opts.allowOlder,
          allowUnsigned: opts.allowUnsigned,
          allowReinstall: opts.allowReinstall,
          dryRun,
          onProgress: (d) => write.update(d),
        },
      );
      write.succeed();
      return { ...result, target: target.spec, image: { path, ...file.report }, download };
    } catch (e) {
      write.fail();
      throw e;
    }
  });
}
