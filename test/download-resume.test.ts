import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { downloadImage } from '../src/core/download.js';
import { cacheEntry } from '../src/core/download-cache.js';
import { REPO_ROOT, xorByte } from './helpers/cli.js';
import { closedPort, serveBytes } from './helpers/http-server.js';
import { HALF, IMAGE, IMAGES, IMAGE_SHA, OTHER, assertNothingComplete, cacheState, harness, opts, rejectsWith, route, server } from './helpers/download-harness.js';

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
    assert.equal(r.fileSha256, IMAGE_SHA);
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
    assert.equal(restarted.fileSha256, IMAGE_SHA);
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
    assert.equal(r.fileSha256, IMAGE_SHA);
    assert.deepEqual((await cacheState(h.ctx)).incomplete, [], 'the lock is released afterwards');
  } finally {
    await h.cleanup();
  }
});
