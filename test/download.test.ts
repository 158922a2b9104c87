import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { downloadImage, type DownloadOptions } from '../src/core/download.js';
import { cacheEntry, INCOMPLETE_SUFFIXES } from '../src/core/download-cache.js';
import { quietContext, type Context } from '../src/core/context.js';
import { loadPublicKeys } from '../src/core/key-files.js';
import { FwupError } from '../src/errors/fwup-error.js';
import type { ErrorCode } from '../src/errors/codes.js';
import type { PublicKey } from '../src/image/keys.js';
import { REPO_ROOT, tempDir, xorByte } from './helpers/cli.js';
import { closedPort, redirectTo, serveBytes, startServer, type TestServer } from './helpers/http-server.js';

const IMAGES = join(REPO_ROOT, 'fixtures', 'images');
const IMAGE = await readFile(join(IMAGES, 'fw-2.0.0-signed.fwup'));
const IMAGE_SHA = createHash('sha256').update(IMAGE).digest('hex');
const OTHER = await readFile(join(IMAGES, 'fw-3.0.0-signed.fwup'));
const HALF = Math.floor(IMAGE.length / 2);
let keys: PublicKey[];
let server: TestServer;

before(async () => {
  keys = await loadPublicKeys([join(REPO_ROOT, 'fixtures', 'keys', 'test-release.pub')]);
  server = await startServer();
});
after(async () => {
  await server.close();
});

interface Harness {
  ctx: Context;
  verbose: string[];
  warnings: string[];
  /** Resolves once the download has written at least `n` bytes (seen through ctx.progress). */
  bytesAtLeast(n: number): Promise<void>;
  cleanup(): Promise<void>;
}

async function harness(): Promise<Harness> {
  const { dir, cleanup } = await tempDir('fwup-dl-');
  const verbose: string[] = [];
  const warnings: string[] = [];
  const waiters: Array<{ n: number; done: () => void }> = [];
  const ctx: Context = {
    ...quietContext(dir),
    cacheDir: join(dir, 'cache'),
    log: { verbose: (m) => verbose.push(m), warn: (m) => warnings.push(m), info() {} },
    progress: {
      start: () => ({
        update(done) {
          for (const w of waiters.filter((x) => done >= x.n)) w.done();
        },
        succeed() {},
        fail() {},
      }),
    },
  };
  const bytesAtLeast = (n: number) => new Promise<void>((done) => waiters.push({ n, done }));
  return { ctx, verbose, warnings, bytesAtLeast, cleanup };
}

const FAST: Partial<DownloadOptions> = { headersTimeoutMs: 2000, idleTimeoutMs: 2000 };

function opts(extra: Partial<DownloadOptions> = {}): DownloadOptions {
  return { keys, ...FAST, ...extra };
}

/** Route a fresh path for each test, so tests sharing the server never share cache entries. */
let routeCounter = 0;
function route(name = 'fw.fwup'): string {
  return `/t${++routeCounter}/${name}`;
}

/** The files in the download cache, split into complete-looking ones and incomplete ones. */
async function cacheState(ctx: Context): Promise<{ complete: string[]; incomplete: string[] }> {
  let names: string[];
  try {
    names = await readdir(join(ctx.cacheDir, 'downloads'));
  } catch {
    return { complete: [], incomplete: [] };
  }
  const incomplete = names.filter((n) => INCOMPLETE_SUFFIXES.some((s) => n.endsWith(s)));
  return { complete: names.filter((n) => !incomplete.includes(n)).sort(), incomplete: incomplete.sort() };
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<FwupError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof FwupError, `a FwupError, not ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.hint && e.hint.length > 0, `${code} has a hint`);
    if (message) assert.match(e.message, message);
    return e;
  }
  assert.fail(`expected ${code}, but it resolved`);
}

/** After any failure: nothing complete-looking in the cache, and no lock left behind. */
async function assertNothingComplete(h: Harness): Promise<string[]> {
  const s = await cacheState(h.ctx);
  assert.deepEqual(s.complete, [], 'no complete-looking file in the cache');
  assert.ok(!s.incomplete.some((n) => n.endsWith('.lock')), 'the lock was released');
  return s.incomplete;
}

test('download: a normal download lands verified in the cache under its final name only', async () => {
  const h = await harness();
  try {
    const p = route();
    server.routes.set(p, serveBytes(IMAGE));
    const r = await downloadImage(h.ctx, server.url(p), opts());
    assert.equal(r.sha256, IMAGE_SHA);
    assert.equal(r.size, IMAGE.length);
    assert.equal(r.resumedBytes, 0);
    assert.equal(r.cached, false);
    assert.equal(r.image.report.ok, true);
    assert.equal(r.image.report.signature.status, 'valid');
    assert.equal(r.image.path, r.path);
    assert.deepEqual(await readFile(r.path), IMAGE);
    assert.equal(r.path, cacheEntry(h.ctx.cacheDir, new URL(server.url(p)), null).finalPath);
    const s = await cacheState(h.ctx);
    assert.deepEqual(s, { complete: [r.path.split('/').pop()!], incomplete: [] });
    const req = server.requests.filter((q) => q.path === p);
    assert.equal(req.length, 1);
    assert.equal(req[0]!.headers.range, undefined);
    assert.equal(req[0]!.headers['user-agent'], 'fwup');
  } finally {
    await h.cleanup();
  }
});

test('download: with a pinned digest a cached copy is reused without a request; a damaged one is fetched again', async () => {
  const h = await harness();
  try {
    const p = route();
    server.routes.set(p, serveBytes(IMAGE));
    const first = await downloadImage(h.ctx, server.url(p), opts({ sha256: IMAGE_SHA.toUpperCase() }));
    assert.equal(first.cached, false);
    const second = await downloadImage(h.ctx, server.url(p), opts({ sha256: IMAGE_SHA }));
    assert.equal(second.cached, true);
    assert.equal(second.path, first.path);
    assert.equal(second.image.report.ok, true);
    assert.equal(server.requests.filter((q) => q.path === p).length, 1, 'no request for the cached copy');
    assert.ok(h.verbose.some((m) => /using cached .*no request made/.test(m)), h.verbose.join('\n'));

    // Without a pin the URL's content may have changed: always asked again, in its own entry.
    const unpinned = await downloadImage(h.ctx, server.url(p), opts());
    assert.notEqual(unpinned.path, first.path);
    assert.equal(server.requests.filter((q) => q.path === p).length, 2);

    await writeFile(first.path, xorByte(Buffer.from(IMAGE), 1000, 0xff));
    const third = await downloadImage(h.ctx, server.url(p), opts({ sha256: IMAGE_SHA }));
    assert.equal(third.cached, false);
    assert.deepEqual(await readFile(third.path), IMAGE);
    assert.equal(server.requests.filter((q) => q.path === p).length, 3);
    assert.ok(h.warnings.some((m) => /no longer matches/.test(m)));
  } finally {
    await h.cleanup();
  }
});

test('download: relative and absolute redirects are followed; the cache is keyed by the URL given', async () => {
  const h = await harness();
  try {
    const target = route('final.fwup');
    const dir = target.split('/')[1]!;
    server.routes.set(target, serveBytes(IMAGE));
    server.routes.set(`/${dir}/sub/relative`, redirectTo('../final.fwup', 302));
    server.routes.set(`/${dir}/absolute`, redirectTo(server.url(`/${dir}/sub/relative`), 301));
    const rel = await downloadImage(h.ctx, server.url(`/${dir}/sub/relative`), opts());
    assert.equal(rel.sha256, IMAGE_SHA);
    const abs = await downloadImage(h.ctx, server.url(`/${dir}/absolute`), opts());
    assert.equal(abs.sha256, IMAGE_SHA);
    assert.notEqual(abs.path, rel.path);
    assert.deepEqual(
      server.requests.filter((q) => q.path.startsWith(`/${dir}/`)).map((q) => q.path),
      [`/${dir}/sub/relative`, target, `/${dir}/absolute`, `/${dir}/sub/relative`, target],
    );
    assert.ok(h.verbose.some((m) => m.includes('HTTP 301 redirect')));
  } finally {
    await h.cleanup();
  }
});

test('download: a redirect loop, too many redirects and a redirect without Location are NET_REDIRECTS', async () => {
  const h = await harness();
  try {
    const a = route('a');
    const b = a.replace(/a$/, 'b');
    server.routes.set(a, redirectTo('b'));
    server.routes.set(b, redirectTo('a'));
    const loop = await rejectsWith(downloadImage(h.ctx, server.url(a), opts()), 'NET_REDIRECTS', /redirect loop/);
    assert.deepEqual(loop.details?.chain, [server.url(a), server.url(b), server.url(a)]);

    const chain = [route('c0'), route('c1'), route('c2'), route('c3')];
    chain.slice(0, 3).forEach((p, i) => server.routes.set(p, redirectTo(server.url(chain[i + 1]!))));
    server.routes.set(chain[3]!, serveBytes(IMAGE));
    await rejectsWith(downloadImage(h.ctx, server.url(chain[0]!), opts({ maxRedirects: 2 })), 'NET_REDIRECTS', /more than 2 redirects/);
    const ok = await downloadImage(h.ctx, server.url(chain[0]!), opts({ maxRedirects: 3 }));
    assert.equal(ok.sha256, IMAGE_SHA);

    const bare = route('bare');
    server.routes.set(bare, (_req, res) => void res.writeHead(302).end());
    await rejectsWith(downloadImage(h.ctx, server.url(bare), opts()), 'NET_REDIRECTS', /without a Location/);
    const ftp = route('ftp');
    server.routes.set(ftp, redirectTo('ftp://127.0.0.1/fw.fwup'));
    await rejectsWith(downloadImage(h.ctx, server.url(ftp), opts()), 'NET_REDIRECTS', /only http and https/);
    const s = await cacheState(h.ctx);
    assert.equal(s.incomplete.length, 0);
    assert.equal(s.complete.length, 1, 'only the successful download');
  } finally {
    await h.cleanup();
  }
});

test('download: a server that sends no headers, or stalls mid-body, times out; a stalled part is resumed', async () => {
  const h = await harness();
  try {
    const silent = route();
    server.routes.set(silent, () => new Promise<void>(() => {}));
    const e1 = await rejectsWith(downloadImage(h.ctx, server.url(silent), opts({ headersTimeoutMs: 200 })), 'NET_TIMEOUT', /no response from .* within 0\.2 s/);
    assert.match(e1.hint!, /--timeout/);
    await assertNothingComplete(h);

    const p = route();
    const stalled = h.bytesAtLeast(HALF);
    server.routes.set(p, serveBytes(IMAGE, { stopAfter: HALF, stopWhen: stalled, then: 'stall' }));
    const e2 = await rejectsWith(downloadImage(h.ctx, server.url(p), opts({ idleTimeoutMs: 300 })), 'NET_TIMEOUT', /no data from .* for 0\.3 s/);
    assert.equal(e2.details?.resumable, true);
    assert.match(e2.hint!, /resume/);
    const left = await assertNothingComplete(h);
    const entry = cacheEntry(h.ctx.cacheDir, new URL(server.url(p)), null);
    assert.deepEqual(left.map((n) => join(entry.dir, n)), [entry.partPath, entry.sidecarPath]);
    const partSize = (await stat(entry.partPath)).size;
    assert.equal(partSize, HALF, 'everything received before the stall was kept');

    server.routes.set(p, serveBytes(IMAGE));
    const r = await downloadImage(h.ctx, server.url(p), opts());
    assert.equal(r.resumedBytes, HALF);
    assert.equal(r.sha256, IMAGE_SHA);
    const last = server.requests.filter((q) => q.path === p).at(-1)!;
    assert.equal(last.headers.range, `bytes=${HALF}-`);
  } finally {
    await h.cleanup();
  }
});

test('download: a connection cut halfway keeps the part; the next attempt asks only for the rest', async () => {
  const h = await harness();
  try {
    const p = route();
    server.routes.set(p, serveBytes(IMAGE, { stopAfter: HALF, stopWhen: h.bytesAtLeast(HALF), then: 'cut' }));
    const e = await rejectsWith(downloadImage(h.ctx, server.url(p), opts()), 'NET_INTERRUPTED', /cut after \d+ bytes/);
    assert.equal(e.details?.resumable, true);
    assert.match(e.hint!, /resumes where it stopped/);
    await assertNothingComplete(h);
    const entry = cacheEntry(h.ctx.cacheDir, new URL(server.url(p)), null);
    const partSize = (await stat(entry.partPath)).size;
    assert.equal(partSize, HALF);
    const sidecar = JSON.parse(await readFile(entry.sidecarPath, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(sidecar, { version: 1, url: server.url(p), etag: '"v1"', lastModified: null, length: IMAGE.length });

    server.routes.set(p, serveBytes(IMAGE));
    const r = await downloadImage(h.ctx, server.url(p), opts({ sha256: undefined }));
    assert.equal(r.resumedBytes, HALF);
    assert.equal(r.sha256, IMAGE_SHA, 'the digest covers the bytes of both attempts');
    assert.deepEqual(await readFile(r.path), IMAGE);
    const [, second] = server.requests.filter((q) => q.path === p);
    assert.equal(second!.headers.range, `bytes=${HALF}-`);
    assert.equal(second!.headers['if-range'], '"v1"');
    assert.equal(second!.bytesSent, IMAGE.length - HALF, 'only the rest was sent');
    assert.deepEqual(await cacheState(h.ctx), { complete: [r.path.split('/').pop()!], incomplete: [] });
  } finally {
    await h.cleanup();
  }
});

test('download: resuming against a server that ignores Range, or whose file changed, starts again and is still correct', async () => {
  const h = await harness();
  try {
    // Ignores Range: answers 200 with everything.
    const p = route();
    server.routes.set(p, serveBytes(IMAGE, { stopAfter: HALF, stopWhen: h.bytesAtLeast(HALF), then: 'cut' }));
    await rejectsWith(downloadImage(h.ctx, server.url(p), opts()), 'NET_INTERRUPTED');
    server.routes.set(p, serveBytes(IMAGE, { ranges: false }));
    const r = await downloadImage(h.ctx, server.url(p), opts());
    assert.equal(r.resumedBytes, 0);
    assert.equal(r.sha256, IMAGE_SHA);
    assert.deepEqual(await readFile(r.path), IMAGE);
    const reqs = server.requests.filter((q) => q.path === p);
    assert.equal(reqs[1]!.headers.range, `bytes=${HALF}-`);
    assert.equal(reqs[1]!.bytesSent, IMAGE.length);
    assert.ok(h.verbose.some((m) => /ignores Range, or the file changed/.test(m)));

    // The file changed (new ETag): If-Range no longer matches, the server sends the new file whole.
    const q = route();
    server.routes.set(q, serveBytes(IMAGE, { stopAfter: HALF, stopWhen: h.bytesAtLeast(HALF), then: 'cut' }));
    await rejectsWith(downloadImage(h.ctx, server.url(q), opts()), 'NET_INTERRUPTED');
    server.routes.set(q, serveBytes(OTHER, { etag: '"v2"' }));
    const changed = await downloadImage(h.ctx, server.url(q), opts());
    assert.equal(changed.resumedBytes, 0);
    assert.deepEqual(await readFile(changed.path), OTHER);
    assert.equal(changed.image.report.version, '3.0.0');

    // A 206 whose Content-Range does not continue the part: dropped, asked again without Range.
    const w = route();
    server.routes.set(w, serveBytes(IMAGE, { stopAfter: HALF, stopWhen: h.bytesAtLeast(HALF), then: 'cut' }));
    await rejectsWith(downloadImage(h.ctx, server.url(w), opts()), 'NET_INTERRUPTED');
    const whole = serveBytes(IMAGE);
    server.routes.set(w, (req, res, rec) => {
      if (!req.headers.range) return whole(req, res, rec);
      res.writeHead(206, { etag: '"v1"', 'content-range': `bytes 10-${IMAGE.length - 1}/${IMAGE.length}` });
      res.write(IMAGE.subarray(10));
      res.end();
    });
    const restarted = await downloadImage(h.ctx, server.url(w), opts());
    assert.equal(restarted.resumedBytes, 0);
    assert.equal(restarted.sha256, IMAGE_SHA);
    const wr = server.requests.filter((x) => x.path === w);
    assert.deepEqual(wr.map((x) => x.headers.range), [undefined, `bytes=${HALF}-`, undefined]);
    assert.ok(h.verbose.some((m) => /cannot resume: it starts at byte 10, not \d+/.test(m)), h.verbose.join('\n'));
  } finally {
    await h.cleanup();
  }
});

test('download: without a validator (no ETag, no Last-Modified) a cut download is not kept for resuming', async () => {
  const h = await harness();
  try {
    const p = route();
    server.routes.set(p, serveBytes(IMAGE, { etag: null, stopAfter: HALF, stopWhen: h.bytesAtLeast(HALF), then: 'cut' }));
    const e = await rejectsWith(downloadImage(h.ctx, server.url(p), opts()), 'NET_INTERRUPTED');
    assert.equal(e.details?.resumable, false);
    assert.deepEqual(await cacheState(h.ctx), { complete: [], incomplete: [] });

    // A Last-Modified date is enough to resume.
    const q = route();
    const lm = 'Wed, 21 Oct 2026 07:28:00 GMT';
    server.routes.set(q, serveBytes(IMAGE, { etag: null, lastModified: lm, stopAfter: HALF, stopWhen: h.bytesAtLeast(HALF), then: 'cut' }));
    await rejectsWith(downloadImage(h.ctx, server.url(q), opts()), 'NET_INTERRUPTED');
    server.routes.set(q, serveBytes(IMAGE, { etag: null, lastModified: lm }));
    const r = await downloadImage(h.ctx, server.url(q), opts());
    assert.equal(r.resumedBytes, HALF);
    assert.equal(server.requests.filter((x) => x.path === q).at(-1)!.headers['if-range'], lm);
  } finally {
    await h.cleanup();
  }
});

test('download: a wrong pinned digest deletes the download and fails with NET_DIGEST_MISMATCH', async () => {
  const h = await harness();
  try {
    const p = route();
    server.routes.set(p, serveBytes(IMAGE));
    const wrong = createHash('sha256').update('something else').digest('hex');
    const e = await rejectsWith(downloadImage(h.ctx, server.url(p), opts({ sha256: wrong })), 'NET_DIGEST_MISMATCH');
    assert.equal(e.details?.expected, wrong);
    assert.equal(e.details?.actual, IMAGE_SHA);
    assert.deepEqual(await cacheState(h.ctx), { complete: [], incomplete: [] });
    // Also when the mismatch is found on a resumed download: the part does not survive it.
    const q = route();
    server.routes.set(q, serveBytes(IMAGE, { stopAfter: HALF, stopWhen: h.bytesAtLeast(HALF), then: 'cut' }));
    await rejectsWith(downloadImage(h.ctx, server.url(q), opts({ sha256: wrong })), 'NET_INTERRUPTED');
    server.routes.set(q, serveBytes(IMAGE));
    await rejectsWith(downloadImage(h.ctx, server.url(q), opts({ sha256: wrong })), 'NET_DIGEST_MISMATCH');
    assert.deepEqual(await cacheState(h.ctx), { complete: [], incomplete: [] });
  } finally {
    await h.cleanup();
  }
});

test('download: an oversize body is refused from Content-Length up front, and while streaming without it', async () => {
  const h = await harness();
  try {
    const p = route();
    server.routes.set(p, serveBytes(IMAGE));
    await rejectsWith(downloadImage(h.ctx, server.url(p), opts({ maxBytes: 64 * 1024 })), 'NET_TOO_LARGE', /announces 98555 bytes, the limit is 65536/);
    assert.deepEqual(await cacheState(h.ctx), { complete: [], incomplete: [] });

    const q = route();
    server.routes.set(q, serveBytes(IMAGE, { chunked: true }));
    await rejectsWith(downloadImage(h.ctx, server.url(q), opts({ maxBytes: 64 * 1024 })), 'NET_TOO_LARGE', /more than 65536 bytes arrived/);
    assert.deepEqual(await cacheState(h.ctx), { complete: [], incomplete: [] });
    // Exactly at the limit is allowed.
    const r = await downloadImage(h.ctx, server.url(q), opts({ maxBytes: IMAGE.length }));
    assert.equal(r.size, IMAGE.length);
  } finally {
    await h.cleanup();
  }
});

test('download: HTTP 404 and 500 are NET_HTTP_STATUS with the status; an existing part survives them', async () => {
  const h = await harness();
  try {
    const missing = route();
    const e = await rejectsWith(downloadImage(h.ctx, server.url(missing), opts()), 'NET_HTTP_STATUS', /HTTP 404 Not Found/);
    assert.equal(e.details?.status, 404);
    assert.match(e.hint!, /check the URL/);

    const p = route();
    server.routes.set(p, serveBytes(IMAGE, { stopAfter: HALF, stopWhen: h.bytesAtLeast(HALF), then: 'cut' }));
    await rejectsWith(downloadImage(h.ctx, server.url(p), opts()), 'NET_INTERRUPTED');
    server.routes.set(p, (_req, res) => void res.writeHead(503).end());
    const e503 = await rejectsWith(downloadImage(h.ctx, server.url(p), opts()), 'NET_HTTP_STATUS', /HTTP 503/);
    assert.match(e503.hint!, /try again later/);
    const entry = cacheEntry(h.ctx.cacheDir, new URL(server.url(p)), null);
    assert.equal((await stat(entry.partPath)).size, HALF);
    server.routes.set(p, serveBytes(IMAGE));
    assert.equal((await downloadImage(h.ctx, server.url(p), opts())).resumedBytes, HALF);
  } finally {
    await h.cleanup();
  }
});

test('download: connection refused, DNS failure and bad URLs are typed errors', async () => {
  const h = await harness();
  try {
    const port = await closedPort();
    await rejectsWith(downloadImage(h.ctx, `http://127.0.0.1:${port}/fw.fwup`, opts()), 'NET_REFUSED', /refused/);
    await rejectsWith(downloadImage(h.ctx, 'http://fwup-test.invalid/fw.fwup', opts({ headersTimeoutMs: 10_000 })), 'NET_DNS', /fwup-test\.invalid/);
    await rejectsWith(downloadImage(h.ctx, 'ftp://127.0.0.1/fw.fwup', opts()), 'USAGE', /only http/);
    await rejectsWith(downloadImage(h.ctx, 'not a url', opts()), 'USAGE', /not a URL/);
    await rejectsWith(downloadImage(h.ctx, 'http://u:p@127.0.0.1/fw', opts()), 'USAGE', /user name or password/);
    await rejectsWith(downloadImage(h.ctx, server.url('/x'), opts({ sha256: 'abc' })), 'USAGE', /not a SHA-256/);
    await rejectsWith(downloadImage(h.ctx, server.url('/x'), opts({ idleTimeoutMs: 0 })), 'USAGE', /idleTimeoutMs/);
    await rejectsWith(downloadImage(h.ctx, `http://127.0.0.1:25/fw`, opts()), 'USAGE', /port 25/);
    await assertNothingComplete(h);
  } finally {
    await h.cleanup();
  }
});

test('download: the image must pass its own checks before it gets its final name', async () => {
  const h = await harness();
  try {
    const damaged = xorByte(Buffer.from(IMAGE), IMAGE.length - 5, 0x01);
    const p = route();
    server.routes.set(p, serveBytes(damaged));
    // The pin matches the damaged bytes: only the image's own integrity check can catch it.
    const pin = createHash('sha256').update(damaged).digest('hex');
    await rejectsWith(downloadImage(h.ctx, server.url(p), opts({ sha256: pin })), 'IMAGE_PAYLOAD_CRC', /the image downloaded from http/);
    assert.deepEqual(await cacheState(h.ctx), { complete: [], incomplete: [] });

    const other = route();
    server.routes.set(other, serveBytes(await readFile(join(IMAGES, 'fw-2.0.0-other-key.fwup'))));
    await rejectsWith(downloadImage(h.ctx, server.url(other), opts()), 'IMAGE_SIGNATURE_UNKNOWN_KEY');
    assert.deepEqual(await cacheState(h.ctx), { complete: [], incomplete: [] });

    const payload = await readFile(join(REPO_ROOT, 'fixtures', 'payloads', 'fw-2.0.0.bin'));
    const raw = route('fw.bin');
    server.routes.set(raw, serveBytes(payload));
    const e = await rejectsWith(downloadImage(h.ctx, server.url(raw), opts()), 'IMAGE_UNKNOWN_FORMAT', /^the image downloaded from http:\/\/127\.0\.0\.1:\d+\/t\d+\/fw\.bin is not a known image format/);
    assert.match(e.hint!, /--version/);
    const meta = { version: '7', versionNumber: 7, platform: null, lowestSupportedVersion: 0, securityVersion: 0 };
    const r = await downloadImage(h.ctx, server.url(raw), opts({ raw: meta }));
    assert.equal(r.image.report.format, 'raw');
    assert.equal(r.size, payload.length);
  } finally {
    await h.cleanup();
  }
});

test('download: a live lock holder makes a second download of the same URL CACHE_BUSY; a dead one is taken over', async () => {
  const h = await harness();
  try {
    const p = route();
    server.routes.set(p, serveBytes(IMAGE));
    const entry = cacheEntry(h.ctx.cacheDir, new URL(server.url(p)), null);
    await mkdir(entry.dir, { recursive: true });
    const { hostname } = await import('node:os');
    await writeFile(entry.lockPath, JSON.stringify({ pid: process.pid, host: hostname() }));
    const e = await rejectsWith(downloadImage(h.ctx, server.url(p), opts()), 'CACHE_BUSY', new RegExp(`pid ${process.pid}`));
    assert.equal(e.details?.lock, entry.lockPath);
    assert.equal(server.requests.filter((q) => q.path === p).length, 0);

    // A process that has exited: its pid is free (a child we waited for).
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    await writeFile(entry.lockPath, JSON.stringify({ pid: dead, host: hostname() }));
    const r = await downloadImage(h.ctx, server.url(p), opts());
    assert.equal(r.sha256, IMAGE_SHA);
    assert.deepEqual((await cacheState(h.ctx)).incomplete, [], 'the lock is released afterwards');
  } finally {
    await h.cleanup();
  }
});
