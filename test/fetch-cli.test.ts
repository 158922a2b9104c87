import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT } from '../src/errors/exit-codes.js';
import { fwup, hashTree, json, REPO_ROOT, tempDir, xorByte, type RunResult } from './helpers/cli.js';
import { closedPort, redirectTo, selfSignedCert, serveBytes, startServer, type TestServer } from './helpers/http-server.js';

const IMAGES = join(REPO_ROOT, 'fixtures', 'images');
const KEY = join(REPO_ROOT, 'fixtures', 'keys', 'test-release.pub');
const IMAGE = await readFile(join(IMAGES, 'fw-2.0.0-signed.fwup'));
const IMAGE_SHA = createHash('sha256').update(IMAGE).digest('hex');
const OLD_OUTPUT = await readFile(join(IMAGES, 'fw-3.0.0-signed.fwup'));
const HALF = Math.floor(IMAGE.length / 2);
let server: TestServer;

before(async () => {
  server = await startServer();
});
after(async () => {
  await server.close();
});

let routeCounter = 0;
function route(name = 'fw.fwup'): string {
  return `/c${++routeCounter}/${name}`;
}

interface Workspace {
  /** The command's working directory; the output goes here. */
  work: string;
  cache: string;
  run(args: string[], env?: Record<string, string>): Promise<RunResult>;
  cleanup(): Promise<void>;
}

async function workspace(): Promise<Workspace> {
  const { dir, cleanup } = await tempDir('fwup-fetch-');
  const work = join(dir, 'work');
  await mkdir(work);
  const cacheHome = join(dir, 'cache-home');
  return {
    work,
    cache: join(cacheHome, 'fwup', 'downloads'),
    run: (args, env = {}) => fwup(args, { cwd: work, env: { XDG_CACHE_HOME: cacheHome, ...env } }),
    cleanup,
  };
}

async function completeInCache(ws: Workspace): Promise<string[]> {
  try {
    return (await readdir(ws.cache)).filter((n) => !/\.(part|part\.json|lock)$/.test(n));
  } catch {
    return [];
  }
}

test('fetch: downloads, verifies and writes the file; --json has the result; a pinned second run uses the cache', async () => {
  const ws = await workspace();
  try {
    const p = route();
    server.routes.set(p, serveBytes(IMAGE));
    let r = await ws.run(['fetch', server.url(p), '-o', 'fw.fwup', '--key', KEY]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote\s+.*fw\.fwup \(98555 bytes\)/);
    assert.match(r.stdout, /signature\s+valid \(ed25519/);
    assert.deepEqual(await readFile(join(ws.work, 'fw.fwup')), IMAGE);

    r = await ws.run(['fetch', server.url(p), '-o', 'again.fwup', '--sha256', IMAGE_SHA, '--key', KEY, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const j = json<{ url: string; path: string; cachePath: string; size: number; fileSha256: string; payloadSha256: string; resumed: number; cached: boolean; image: { ok: boolean; version: string; signature: { status: string } } }>(r);
    assert.equal(j.url, server.url(p));
    assert.equal(j.path, join(ws.work, 'again.fwup'));
    assert.equal(j.size, IMAGE.length);
    assert.equal(j.fileSha256, IMAGE_SHA);
    const inspected = json<{ fileSha256: string; payloadSha256: string }>(await ws.run(['inspect', 'again.fwup', '--json']));
    assert.equal(inspected.fileSha256, j.fileSha256, 'fetch and inspect name the same file digest');
    assert.equal(inspected.payloadSha256, j.payloadSha256, 'and the same payload digest');
    assert.notEqual(j.payloadSha256, j.fileSha256);
    assert.equal(j.resumed, 0);
    assert.equal(j.cached, false);
    assert.equal(j.image.ok, true);
    assert.equal(j.image.version, '2.0.0');
    assert.equal(j.image.signature.status, 'valid');
    assert.ok(j.cachePath.startsWith(ws.cache));

    const before = server.requests.filter((q) => q.path === p).length;
    r = await ws.run(['fetch', server.url(p), '-o', 'third.fwup', '--sha256', IMAGE_SHA, '--json', '--verbose']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json(r).cached, true);
    assert.equal(server.requests.filter((q) => q.path === p).length, before, 'no request');
    assert.deepEqual(await readFile(join(ws.work, 'third.fwup')), IMAGE);
    r = await ws.run(['fetch', server.url(p), '-o', 'fourth.fwup', '--sha256', IMAGE_SHA, '--verbose']);
    assert.match(r.stdout, /cached copy, no request/);
    assert.match(r.stderr, /using cached .*no request made/);
  } finally {
    await ws.cleanup();
  }
});

test('fetch: every kind of failure has its exit code, and leaves the output file and the cache without a complete file', async () => {
  const ws = await workspace();
  try {
    await writeFile(join(ws.work, 'fw.fwup'), OLD_OUTPUT);
    const wrongSha = createHash('sha256').update('not it').digest('hex');
    const port = await closedPort();
    const loopA = route('a');
    server.routes.set(loopA, redirectTo('a'));
    const missing = route();
    const big = route();
    server.routes.set(big, serveBytes(IMAGE));
    const stall = route();
    server.routes.set(stall, serveBytes(IMAGE, { stopAfter: HALF, then: 'stall' }));
    const cut = route();
    server.routes.set(cut, serveBytes(IMAGE, { stopAfter: HALF, then: 'cut' }));
    const damaged = route();
    server.routes.set(damaged, serveBytes(xorByte(Buffer.from(IMAGE), HALF, 0x10)));
    const otherKey = route();
    server.routes.set(otherKey, serveBytes(await readFile(join(IMAGES, 'fw-2.0.0-other-key.fwup'))));
    const cases: Array<{ args: string[]; exit: number; code: string }> = [
      { args: [server.url(missing)], exit: EXIT.NETWORK, code: 'NET_HTTP_STATUS' },
      { args: [server.url(big), '--sha256', wrongSha], exit: EXIT.INTEGRITY, code: 'NET_DIGEST_MISMATCH' },
      { args: [server.url(big), '--max-size', '64K'], exit: EXIT.NETWORK, code: 'NET_TOO_LARGE' },
      { args: [`http://127.0.0.1:${port}/fw.fwup`], exit: EXIT.NETWORK, code: 'NET_REFUSED' },
      { args: ['http://fwup-test.invalid/fw.fwup'], exit: EXIT.NETWORK, code: 'NET_DNS' },
      { args: [server.url(stall), '--idle-timeout', '0.3'], exit: EXIT.TIMEOUT, code: 'NET_TIMEOUT' },
      { args: [server.url(cut)], exit: EXIT.NETWORK, code: 'NET_INTERRUPTED' },
      { args: [server.url(loopA)], exit: EXIT.NETWORK, code: 'NET_REDIRECTS' },
      { args: [server.url(damaged)], exit: EXIT.INTEGRITY, code: 'IMAGE_PAYLOAD_CRC' },
      { args: [server.url(otherKey), '--key', KEY], exit: EXIT.SIGNATURE, code: 'IMAGE_SIGNATURE_UNKNOWN_KEY' },
    ];
    const before = await hashTree(ws.work);
    for (const c of cases) {
      const r = await ws.run(['fetch', ...c.args, '-o', 'fw.fwup', '--json']);
      assert.equal(r.code, c.exit, `${c.args.join(' ')}: ${r.stdout}`);
      const e = json<{ error: { code: string; exitCode: number; hint: string | null; message: string } }>(r).error;
      assert.equal(e.code, c.code, `${c.args.join(' ')}: ${e.message}`);
      assert.equal(e.exitCode, c.exit);
      assert.ok(e.hint, `${c.code} has a hint`);
      assert.equal(r.stderr, '', 'with --json nothing goes to stderr');
      assert.equal(await hashTree(ws.work), before, `${c.args.join(' ')}: the output directory is byte-identical`);
      assert.deepEqual(await completeInCache(ws), [], `${c.args.join(' ')}: no complete-looking file in the cache`);
    }
    // Text mode: the message and the hint on stderr, nothing on stdout.
    const t = await ws.run(['fetch', server.url(missing), '-o', 'fw.fwup']);
    assert.equal(t.code, EXIT.NETWORK);
    assert.equal(t.stdout, '');
    assert.match(t.stderr, /^error: GET http:\/\/127\.0\.0\.1:\d+\/c\d+\/fw\.fwup: HTTP 404 Not Found\nhint: /);
  } finally {
    await ws.cleanup();
  }
});

test('fetch: a stalled download is resumed by the next run, which reports the resumed bytes', async () => {
  const ws = await workspace();
  try {
    const p = route();
    // The idle timeout fires only after everything sent so far has been read, so the part holds HALF bytes.
    server.routes.set(p, serveBytes(IMAGE, { stopAfter: HALF, then: 'stall' }));
    const first = await ws.run(['fetch', server.url(p), '-o', 'fw.fwup', '--idle-timeout', '0.5']);
    assert.equal(first.code, EXIT.TIMEOUT);
    assert.match(first.stderr, /hint: run the same command again to resume/);
    const parts = (await readdir(ws.cache)).filter((n) => n.endsWith('.part'));
    assert.equal(parts.length, 1);
    assert.equal((await stat(join(ws.cache, parts[0]!))).size, HALF);

    server.routes.set(p, serveBytes(IMAGE));
    const second = await ws.run(['fetch', server.url(p), '-o', 'fw.fwup', '--json']);
    assert.equal(second.code, 0, second.stdout);
    assert.equal(json(second).resumed, HALF);
    assert.deepEqual(await readFile(join(ws.work, 'fw.fwup')), IMAGE);
    const last = server.requests.filter((q) => q.path === p).at(-1)!;
    assert.equal(last.headers.range, `bytes=${HALF}-`);
    assert.equal(last.bytesSent, IMAGE.length - HALF);
    assert.match(String(last.headers['user-agent']), /^fwup\/\d+\.\d+\.\d+$/);
  } finally {
    await ws.cleanup();
  }
});

test('fetch: bad command lines are usage errors made before any request', async () => {
  const ws = await workspace();
  try {
    const p = route();
    server.routes.set(p, serveBytes(IMAGE));
    const cases: Array<{ args: string[]; exit: number; msg: RegExp }> = [
      { args: ['fetch', server.url(p)], exit: EXIT.USAGE, msg: /needs -o/ },
      { args: ['fetch', server.url(p), '-o', 'x', '--sha256', 'abc'], exit: EXIT.USAGE, msg: /not a SHA-256/ },
      { args: ['fetch', server.url(p), '-o', 'x', '--timeout', 'soon'], exit: EXIT.USAGE, msg: /--timeout/ },
      { args: ['fetch', server.url(p), '-o', 'x', '--idle-timeout', '0'], exit: EXIT.USAGE, msg: /--idle-timeout/ },
      { args: ['fetch', server.url(p), '-o', 'x', '--max-size', 'huge'], exit: EXIT.USAGE, msg: /--max-size/ },
      { args: ['fetch', 'ftp://127.0.0.1/fw.fwup', '-o', 'x'], exit: EXIT.USAGE, msg: /only http/ },
      { args: ['fetch', server.url(p), '-o', 'no/such/dir/x'], exit: EXIT.NOT_FOUND, msg: /no such file/ },
      { args: ['fetch', server.url(p), '-o', 'x', '--key', 'missing.pub'], exit: EXIT.NOT_FOUND, msg: /missing\.pub/ },
    ];
    const before = await hashTree(ws.work);
    for (const c of cases) {
      const r = await ws.run(c.args);
      assert.equal(r.code, c.exit, `${c.args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, c.msg);
    }
    assert.equal(server.requests.filter((q) => q.path === p).length, 0);
    assert.equal(await hashTree(ws.work), before);
  } finally {
    await ws.cleanup();
  }
});

test('fetch: https with an untrusted certificate is NET_TLS; trusted via NODE_EXTRA_CA_CERTS it works; https->http is refused', async (t) => {
  const ws = await workspace();
  const certDir = join(ws.work, '..', 'tls');
  await mkdir(certDir);
  const tls = await selfSignedCert(certDir);
  if (!tls) {
    t.skip('openssl is not installed');
    await ws.cleanup();
    return;
  }
  const https = await startServer(tls);
  try {
    await writeFile(join(ws.work, 'fw.fwup'), OLD_OUTPUT);
    const before = await hashTree(ws.work);
    https.routes.set('/fw.fwup', serveBytes(IMAGE));
    const untrusted = await ws.run(['fetch', https.url('/fw.fwup'), '-o', 'fw.fwup', '--json']);
    assert.equal(untrusted.code, EXIT.NETWORK);
    const e = json<{ error: { code: string; message: string; hint: string } }>(untrusted).error;
    assert.equal(e.code, 'NET_TLS');
    assert.match(e.message, /self-signed certificate/);
    assert.match(e.hint, /NODE_EXTRA_CA_CERTS/);
    assert.equal(await hashTree(ws.work), before);

    const trust = { NODE_EXTRA_CA_CERTS: tls.certPath };
    const ok = await ws.run(['fetch', https.url('/fw.fwup'), '-o', 'fw.fwup', '--json'], trust);
    assert.equal(ok.code, 0, ok.stdout);
    assert.deepEqual(await readFile(join(ws.work, 'fw.fwup')), IMAGE);

    // Plain http to the https port: the server hangs up before any response.
    const plain = await ws.run(['fetch', https.url('/fw.fwup').replace('https:', 'http:'), '-o', 'y', '--json'], trust);
    assert.equal(plain.code, EXIT.NETWORK);
    assert.equal(json<{ error: { code: string } }>(plain).error.code, 'NET_INTERRUPTED');

    const p = route();
    server.routes.set(p, serveBytes(IMAGE));
    https.routes.set('/down', redirectTo(server.url(p)));
    const down = await ws.run(['fetch', https.url('/down'), '-o', 'z.fwup', '--json'], trust);
    assert.equal(down.code, EXIT.NETWORK);
    const d = json<{ error: { code: string; message: string; hint: string } }>(down).error;
    assert.equal(d.code, 'NET_REDIRECTS');
    assert.match(d.message, /from https to plain http/);
    assert.match(d.hint, /--allow-http-redirect/);
    assert.equal(server.requests.filter((q) => q.path === p).length, 0, 'the http URL was never asked');
    const allowed = await ws.run(['fetch', https.url('/down'), '-o', 'z.fwup', '--allow-http-redirect', '--json'], trust);
    assert.equal(allowed.code, 0, allowed.stdout);
    assert.deepEqual(await readFile(join(ws.work, 'z.fwup')), IMAGE);
  } finally {
    await https.close();
    await ws.cleanup();
  }
});
