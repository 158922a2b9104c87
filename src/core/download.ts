import { createHash, type Hash } from 'node:crypto';
import { rename, rm, stat } from 'node:fs/promises';
import { FwupError, fromSystemError } from '../errors/fwup-error.js';
import type { PublicKey } from '../image/keys.js';
import type { RawMetadata } from '../image/raw-format.js';
import { reportError } from '../image/report.js';
import { parseSha256 } from '../util/digest.js';
import { formatBytes } from '../util/units.js';
import type { Context, ProgressTask } from './context.js';
import {
  cacheEntry,
  ensureCacheDir,
  lockEntry,
  readSidecar,
  removePart,
  writeSidecar,
  type CacheEntry,
} from './download-cache.js';
import { openOrFail, readAt } from './files.js';
import { httpGet, type OpenResponse } from './http-get.js';
import { CHUNK_BYTES, fileOf, type ImageFile } from './image-reader.js';
import { distributionCerts, isCabinet } from './cabinet-payload.js';
import { FileSource } from './file-source.js';
import { verifyImage as verifyFormat } from '../image/registry.js';
import { httpStatusError } from './net-errors.js';
import { interruption } from './interrupt.js';
import { receiveBody, tooLarge } from './receive-body.js';
import { canResume, planBody, rangeHeaders, type BodyPlan, type ResumablePart } from './resume-plan.js';

export const DOWNLOAD_DEFAULTS = {
  /** From sending a request (each redirect hop) to its response headers. */
  headersTimeoutMs: 30_000,
  /** Longest wait for the next byte of the body. */
  idleTimeoutMs: 30_000,
  maxBytes: 1024 ** 3,
  maxRedirects: 5,
  allowInsecureRedirect: false,
  userAgent: 'fwup',
} as const;

export interface DownloadOptions {
  /** The expected SHA-256 of the whole file (64 hex digits). Part of the cache key; a cached file matching it is reused. */
  sha256?: string;
  /** Keys the image's signature is checked against; null reports a signature as not verified. */
  keys: readonly PublicKey[] | null;
  /** Accept a file without a known header as a raw payload with this metadata (the CLI's --version). */
  raw?: RawMetadata;
  headersTimeoutMs?: number;
  idleTimeoutMs?: number;
  maxBytes?: number;
  maxRedirects?: number;
  allowInsecureRedirect?: boolean;
  userAgent?: string;
}

type DownloadSettings = Required<
  Pick<DownloadOptions, 'headersTimeoutMs' | 'idleTimeoutMs' | 'maxBytes' | 'maxRedirects' | 'allowInsecureRedirect' | 'userAgent'>
>;

export interface DownloadResult {
  /** The URL as given. */
  url: string;
  /** A complete, verified file in the cache. Never modified in place; a later download of the same
   * URL (and pin) may replace it by rename, so read it or copy it, do not write to it. */
  path: string;
  /** SHA-256 of the whole file (what --sha256 pins), lower-case hex. */
  fileSha256: string;
  size: number;
  /** Bytes taken from an earlier interrupted attempt (0 when downloaded from the start or cached). */
  resumedBytes: number;
  /** True when a complete cached file matching the pinned digest was used without any request. */
  cached: boolean;
  /** The image's own integrity and signature, verified on `path` (its `path` is `path`). */
  image: ImageFile;
}

/**
 * Download an image into the cache, safely: stream to `<entry>.part` (hashing as it goes, resuming an
 * earlier interrupted attempt with a Range request when the server allows it), verify the pinned
 * SHA-256 over the whole file and the image's own integrity, and only then rename it into its final
 * cache name. A partial or rejected download never has a name that looks complete. See docs/network.md.
 */
export async function downloadImage(ctx: Context, url: string, options: DownloadOptions): Promise<DownloadResult> {
  const target = parseDownloadUrl(url);
  const pinned = options.sha256 === undefined ? null : parseSha256(options.sha256);
  const settings = downloadSettings(options);
  const entry = cacheEntry(ctx.cacheDir, target, pinned);
  await ensureCacheDir(entry);
  const unlock = await lockEntry(entry);
  try {
    if (pinned) {
      const hit = await reuseCached(ctx, entry, target, pinned, options);
      if (hit) return hit;
    }
    return await downloadIntoCache(ctx, entry, target, pinned, options, settings);
  } finally {
    await unlock();
  }
}

export function parseDownloadUrl(text: string): URL {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new FwupError('USAGE', `${JSON.stringify(text)} is not a URL`, { hint: 'give an http:// or https:// URL' });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new FwupError('USAGE', `${text}: only http:// and https:// URLs can be downloaded`, {
      hint: 'for a local file, use its path with the command that reads images',
    });
  }
  if (u.username || u.password) {
    throw new FwupError('USAGE', `${u.protocol}//…@${u.host}: URLs with a user name or password are not supported`, {
      hint: 'fetch refuses credentials in URLs; use a URL that needs none (e.g. a pre-signed one)',
    });
  }
  u.hash = '';
  return u;
}

/** A complete cached file is used only if its bytes still hash to the pinned digest. */
async function reuseCached(
  ctx: Context,
  entry: CacheEntry,
  target: URL,
  pinned: string,
  options: DownloadOptions,
): Promise<DownloadResult | null> {
  let size: number;
  try {
    size = (await stat(entry.finalPath)).size;
  } catch {
    return null;
  }
  const hash = createHash('sha256');
  await hashFilePrefix(entry.finalPath, size, hash);
  const actual = hash.digest('hex');
  if (actual !== pinned) {
    ctx.log.warn(`cached ${entry.finalPath} no longer matches its digest (${actual}); downloading again`);
    await rm(entry.finalPath, { force: true });
    return null;
  }
  ctx.log.verbose(`using cached ${entry.finalPath}: SHA-256 matches the pin, no request made`);
  const image = await verifyImage(ctx, entry.finalPath, target.href, options);
  return { url: target.href, path: entry.finalPath, fileSha256: actual, size, resumedBytes: 0, cached: true, image };
}

async function downloadIntoCache(
  ctx: Context,
  entry: CacheEntry,
  target: URL,
  pinned: string | null,
  options: DownloadOptions,
  settings: DownloadSettings,
): Promise<DownloadResult> {
  let part = await resumablePart(ctx, entry, target.href);
  const baseHeaders: Record<string, string> = { 'user-agent': settings.userAgent, accept: '*/*' };

  // At most two requests: a resume attempt, and a fresh one if the part turns out not to fit.
  for (;;) {
    // Ask for the resource's own bytes: a content-coding would make ranges and lengths mean something
    // else. (With Range, fetch adds `Accept-Encoding: identity` itself.)
    const headers = part ? { ...baseHeaders, ...rangeHeaders(part) } : { ...baseHeaders, 'accept-encoding': 'identity' };
    if (part) ctx.log.verbose(`resuming ${target.href} at byte ${part.offset}`);
    const open = await httpGet(target, {
      headers,
      headersTimeoutMs: settings.headersTimeoutMs,
      maxRedirects: settings.maxRedirects,
      allowInsecureRedirect: settings.allowInsecureRedirect,
      log: ctx.log,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      interrupted: () => interruption(ctx, `download of ${target.href}`, part ? `waiting for the server; the ${part.offset} bytes kept from before stay for a resume` : 'waiting for the server; nothing was downloaded'),
    });
    const res = open.response;
    const discardBody = () => res.body?.cancel().catch(() => {});
    const plan = planBody(target.href, res, part);
    switch (plan.kind) {
      case 'status-error':
        await discardBody();
        throw httpStatusError(res.status, res.statusText, open.url.href);
      case 'restart':
        await discardBody();
        ctx.log.verbose(`${plan.note}; starting again from byte 0`);
        await removePart(entry);
        part = null;
        continue;
      case 'fresh':
      case 'append': {
        let transfer: Transfer;
        try {
          transfer = await prepareTransfer(ctx, entry, open.url, plan, settings);
        } catch (e) {
          await discardBody();
          throw e;
        }
        return receiveVerifyCommit(ctx, entry, target, pinned, options, open, transfer);
      }
    }
  }
}

interface Transfer {
  offset: number;
  length: number | null;
  hash: Hash;
  resumable: boolean;
  maxBytes: number;
  idleTimeoutMs: number;
}

/** Check the announced length and set up the part file (and its sidecar) for the body to come. */
async function prepareTransfer(
  ctx: Context,
  entry: CacheEntry,
  answeredBy: URL,
  plan: Extract<BodyPlan, { kind: 'fresh' | 'append' }>,
  settings: DownloadSettings,
): Promise<Transfer> {
  if (plan.length !== null && plan.length > settings.maxBytes) {
    await removePart(entry);
    throw tooLarge(answeredBy.href, settings.maxBytes, `the server announces ${plan.length} bytes`);
  }
  const limits = { maxBytes: settings.maxBytes, idleTimeoutMs: settings.idleTimeoutMs };
  if (plan.kind === 'fresh') {
    if (plan.note) ctx.log.verbose(plan.note);
    await removePart(entry);
    if (plan.sidecar) await writeSidecar(entry.sidecarPath, plan.sidecar);
    return { offset: 0, length: plan.length, hash: createHash('sha256'), resumable: plan.sidecar !== null, ...limits };
  }
  // The digest must cover the whole file, so the bytes already on disk go through it first.
  const hash = createHash('sha256');
  await hashFilePrefix(entry.partPath, plan.offset, hash);
  return { offset: plan.offset, length: plan.length, hash, resumable: true, ...limits };
}

/** Receive the body, check everything, and give the file its final name. */
async function receiveVerifyCommit(
  ctx: Context,
  entry: CacheEntry,
  target: URL,
  pinned: string | null,
  options: DownloadOptions,
  open: OpenResponse,
  t: Transfer,
): Promise<DownloadResult> {
  const label = `downloading ${target.pathname.split('/').pop() || target.host}`;
  const task = ctx.progress.start(label, t.length ?? undefined);
  // The first update is the starting offset, so a resumed download's rate counts only this session.
  reportProgress(task, label, t.offset, t.length);
  let size: number;
  try {
    size = await receiveBody({
      open,
      partPath: entry.partPath,
      offset: t.offset,
      hash: t.hash,
      length: t.length,
      maxBytes: t.maxBytes,
      idleTimeoutMs: t.idleTimeoutMs,
      resumable: t.resumable,
      onProgress: (done) => reportProgress(task, label, done, t.length),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      interrupted: (bytes) =>
        interruption(ctx, `download of ${target.href}`, t.resumable ? `${bytes} bytes arrived and are kept: run the same command again to resume` : `${bytes} bytes arrived; the server allows no resume, so they were removed`),
    });
  } catch (e) {
    task.fail();
    // Keep what arrived only when the next attempt can continue it: a cut, stalled or interrupted transfer.
    const keep = t.resumable && e instanceof FwupError && (e.code === 'NET_INTERRUPTED' || e.code === 'NET_TIMEOUT' || e.code === 'INTERRUPTED' || e.code === 'TERMINATED');
    if (!keep) await removePart(entry);
    throw e;
  }
  task.succeed();

  const sha256 = t.hash.digest('hex');
  try {
    if (pinned !== null && sha256 !== pinned) {
      throw new FwupError('NET_DIGEST_MISMATCH', `${target.href}: the downloaded file's fileSha256 is ${sha256}, not the pinned ${pinned}`, {
        hint: '--sha256 pins the whole file (fileSha256, as fwup pack and fwup inspect print it), not the payload (payloadSha256): check the URL and the value; the download was deleted',
        details: { url: target.href, expected: pinned, actual: sha256, size },
      });
    }
    const image = await verifyImage(ctx, entry.partPath, target.href, options);
    await rename(entry.partPath, entry.finalPath).catch((e: unknown) => {
      throw fromSystemError(e, entry.finalPath, 'rename the download to');
    });
    await removePart(entry);
    ctx.log.verbose(`downloaded ${size} bytes (${t.offset} resumed) to ${entry.finalPath}, sha256 ${sha256}`);
    return {
      url: target.href,
      path: entry.finalPath,
      fileSha256: sha256,
      size,
      resumedBytes: t.offset,
      cached: false,
      image: { ...image, path: entry.finalPath },
    };
  } catch (e) {
    // A complete download that failed a check is useless: never resume it, never reuse it.
    await removePart(entry);
    throw e;
  }
}

/**
 * Verify a downloaded file: it must parse and pass its own integrity and signature checks (a cabinet's
 * jcat against the distribution's LVFS CA too).
 */
async function verifyImage(ctx: Context, path: string, url: string, options: DownloadOptions): Promise<ImageFile> {
  const name = `the image downloaded from ${url}`;
  const src = FileSource.open(path, name);
  let image: ImageFile;
  try {
    const distribution = isCabinet(src) ? { distributionCerts: await distributionCerts(ctx, null) } : {};
    image = fileOf(path, await verifyFormat(src, { trust: { keys: options.keys, certs: null, ...distribution }, ...(options.raw ? { raw: options.raw } : {}) }));
  } finally {
    src.close();
  }
  const bad = reportError(image.report, name);
  if (bad) throw bad;
  return image;
}

/** The part file to continue, or null after deleting one that cannot be continued. */
async function resumablePart(ctx: Context, entry: CacheEntry, url: string): Promise<ResumablePart | null> {
  let size: number;
  try {
    size = (await stat(entry.partPath)).size;
  } catch {
    await removePart(entry); // a sidecar without its part
    return null;
  }
  const sidecar = await readSidecar(entry.sidecarPath);
  if (!canResume(url, size, sidecar)) {
    ctx.log.verbose(`discarding ${entry.partPath}: it cannot be resumed`);
    await removePart(entry);
    return null;
  }
  return { offset: size, sidecar };
}

async function hashFilePrefix(path: string, length: number, hash: Hash): Promise<void> {
  const fh = await openOrFail(path, 'r', 'read');
  try {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(1, length)));
    for (let pos = 0; pos < length; ) {
      const n = await readAt(fh, buf, Math.min(buf.length, length - pos), pos);
      if (n === 0) throw new FwupError('FILE_IO', `${path} shrank while it was read (at byte ${pos})`);
      hash.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    await fh.close();
  }
}

function reportProgress(task: ProgressTask, label: string, done: number, length: number | null): void {
  // Without a known length the terminal shows no percentage; say how much arrived instead.
  if (length === null) task.update(done, `${label} ${formatBytes(done)}`);
  else task.update(done);
}

/** The options with defaults filled in; limits a library caller got wrong are usage errors. */
function downloadSettings(o: DownloadOptions): DownloadSettings {
  const s = {
    headersTimeoutMs: o.headersTimeoutMs ?? DOWNLOAD_DEFAULTS.headersTimeoutMs,
    idleTimeoutMs: o.idleTimeoutMs ?? DOWNLOAD_DEFAULTS.idleTimeoutMs,
    maxBytes: o.maxBytes ?? DOWNLOAD_DEFAULTS.maxBytes,
    maxRedirects: o.maxRedirects ?? DOWNLOAD_DEFAULTS.maxRedirects,
    allowInsecureRedirect: o.allowInsecureRedirect ?? DOWNLOAD_DEFAULTS.allowInsecureRedirect,
    userAgent: o.userAgent ?? DOWNLOAD_DEFAULTS.userAgent,
  };
  const positive: Array<[string, number]> = [
    ['headersTimeoutMs', s.headersTimeoutMs],
    ['idleTimeoutMs', s.idleTimeoutMs],
    ['maxBytes', s.maxBytes],
  ];
  for (const [name, v] of positive) {
    if (!Number.isSafeInteger(v) || v <= 0) {
      throw new FwupError('USAGE', `download option ${name} must be a positive integer, not ${v}`, { hint: 'timeouts are in milliseconds, sizes in bytes' });
    }
  }
  if (!Number.isSafeInteger(s.maxRedirects) || s.maxRedirects < 0) {
    throw new FwupError('USAGE', `download option maxRedirects must be 0 or more, not ${s.maxRedirects}`, { hint: '0 refuses every redirect' });
  }
  return s;
}
