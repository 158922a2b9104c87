/** The download tests' shared harness: one HTTP server on 127.0.0.1 per test file, a cache per test. */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DownloadOptions } from '../../src/core/download.js';
import { INCOMPLETE_SUFFIXES } from '../../src/core/download-cache.js';
import { quietContext, type Context } from '../../src/core/context.js';
import { loadPublicKeys } from '../../src/core/key-files.js';
import { FwupError } from '../../src/errors/fwup-error.js';
import type { ErrorCode } from '../../src/errors/codes.js';
import type { PublicKey } from '../../src/image/keys.js';
import { REPO_ROOT, tempDir } from './cli.js';
import { startServer, type TestServer } from './http-server.js';

export const IMAGES = join(REPO_ROOT, 'fixtures', 'images');
export const IMAGE = await readFile(join(IMAGES, 'fw-2.0.0-signed.fwup'));
export const IMAGE_SHA = createHash('sha256').update(IMAGE).digest('hex');
export const OTHER = await readFile(join(IMAGES, 'fw-3.0.0-signed.fwup'));
export const HALF = Math.floor(IMAGE.length / 2);
export let keys: PublicKey[];
export let server: TestServer;

before(async () => {
  keys = await loadPublicKeys([join(REPO_ROOT, 'fixtures', 'keys', 'test-release.pub')]);
  server = await startServer();
});
after(async () => {
  await server.close();
});

export interface Harness {
  ctx: Context;
  verbose: string[];
  warnings: string[];
  /** Resolves once the download has written at least `n` bytes (seen through ctx.progress). */
  bytesAtLeast(n: number): Promise<void>;
  cleanup(): Promise<void>;
}

export async function harness(): Promise<Harness> {
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

export function opts(extra: Partial<DownloadOptions> = {}): DownloadOptions {
  return { keys, ...FAST, ...extra };
}

/** Route a fresh path for each test, so tests sharing the server never share cache entries. */
let routeCounter = 0;
export function route(name = 'fw.fwup'): string {
  return `/t${++routeCounter}/${name}`;
}

/** The files in the download cache, split into complete-looking ones and incomplete ones. */
export async function cacheState(ctx: Context): Promise<{ complete: string[]; incomplete: string[] }> {
  let names: string[];
  try {
    names = await readdir(join(ctx.cacheDir, 'downloads'));
  } catch {
    return { complete: [], incomplete: [] };
  }
  const incomplete = names.filter((n) => INCOMPLETE_SUFFIXES.some((s) => n.endsWith(s)));
  return { complete: names.filter((n) => !incomplete.includes(n)).sort(), incomplete: incomplete.sort() };
}

export async function rejectsWith(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<FwupError> {
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
export async function assertNothingComplete(h: Harness): Promise<string[]> {
  const s = await cacheState(h.ctx);
  assert.deepEqual(s.complete, [], 'no complete-looking file in the cache');
  assert.ok(!s.incomplete.some((n) => n.endsWith('.lock')), 'the lock was released');
  return s.incomplete;
}

