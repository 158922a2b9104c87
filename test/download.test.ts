import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { downloadImage } from '../src/core/download.js';
import { cacheEntry } from '../src/core/download-cache.js';
import { xorByte } from './helpers/cli.js';
import { redirectTo, serveBytes } from './helpers/http-server.js';
import { HALF, IMAGE, IMAGE_SHA, assertNothingComplete, cacheState, harness, opts, rejectsWith, route, server } from './helpers/download-harness.js';

test('download: a normal download lands verified in the cache under its final name only', async () => {
  const h = await harness();
  try {
    const p = route();
    server.routes.set(p, serveBytes(IMAGE));
    const r = await downloadImage(h.ctx, server.url(p), opts());
    assert.equal(r.fileSha256, IMAGE_SHA);
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
    assert.equal(rel.fileSha256, IMAGE_SHA);
    const abs = await downloadImage(h.ctx, server.url(`/${dir}/absolute`), opts());
    assert.equal(abs.fileSha256, IMAGE_SHA);
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
    assert.equal(ok.fileSha256, IMAGE_SHA);

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
    assert.equal(r.fileSha256, IMAGE_SHA);
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
    assert.equal(r.fileSha256, IMAGE_SHA, 'the digest covers the bytes of both attempts');
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

