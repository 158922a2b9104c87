import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT } from '../src/errors/exit-codes.js';
import { fwup, fwupChild, json, prngBytes, REPO_ROOT, tempDir, waitFor, type RunResult } from './helpers/cli.js';
import { initMachine, statusJson } from './helpers/machine.js';
import { serveBytes, startServer, type TestServer } from './helpers/http-server.js';

/** Ctrl-C and SIGTERM sent to the real bin/fwup.js in the middle of real work. */

const IMG = join(REPO_ROOT, 'fixtures', 'images', 'fw-3.0.0-signed.fwup');
const NOW = { FWUP_LOCK_TIMEOUT: '0' };

interface ErrorDoc { error: { code: string; message: string; hint: string; exitCode: number } }

/** Exactly one JSON document on stdout, and it is an error. */
function oneErrorDoc(r: RunResult): ErrorDoc['error'] {
  const doc = json<ErrorDoc>(r); // json() fails on anything but one document
  assert.deepEqual(Object.keys(doc), ['error']);
  assert.ok(doc.error.hint.length > 0);
  return doc.error;
}

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server.close();
});

async function bigMachine(dir: string): Promise<{ t: string; image: string }> {
  const r = await fwup(['machine', 'init', join(dir, 'big'), '--flash-size', '512M', '--cpus', '2'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  await writeFile(join(dir, 'payload.bin'), prngBytes(64, 64 << 20));
  const p = await fwup(['pack', 'payload.bin', '-o', 'big.fwup', '--version', '2.0.0'], { cwd: dir });
  assert.equal(p.code, 0, p.stderr);
  return { t: `emu:${join(dir, 'big')}`, image: join(dir, 'big.fwup') };
}

/** Start a command, wait until its verbose log shows `marker`, then send `signal`. */
async function interruptAt(args: string[], cwd: string, marker: string, signal: NodeJS.Signals, env: Record<string, string> = {}, delayMs = 200): Promise<RunResult> {
  const c = fwupChild([...args, '--verbose'], { cwd, env });
  let err = '';
  c.child.stderr!.on('data', (d: string) => (err += d));
  await waitFor(() => err.includes(marker), 30_000, `"${marker}" from ${args[0]}`);
  await new Promise((done) => setTimeout(done, delayMs));
  c.child.kill(signal);
  return c.done;
}

test('signals: SIGINT during the write of a 64 MiB stage: exit 130, one JSON error saying what was interrupted and that nothing is staged; the lock is released and the target is clean', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const { t, image } = await bigMachine(dir);
    const r = await interruptAt(['stage', image, '--target', t, '--allow-unsigned', '--json'], dir, 'stage: write', 'SIGINT', { FWUP_EMU_ERASE_DELAY_MS: '1' });
    assert.equal(r.code, EXIT.INTERRUPTED, r.stdout + r.stderr);
    const e = oneErrorDoc(r);
    assert.equal(e.code, 'INTERRUPTED');
    assert.equal(e.exitCode, 130);
    assert.match(e.message, /^stage of .*big\.fwup interrupted \(SIGINT\): it was being written to emu:.*nothing is staged/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.ok(!existsSync(join(dir, 'big', 'lock')), 'the target lock is released');
    const s = await statusJson(dir, t);
    assert.equal(s.staged, null);
    assert.deepEqual(s.warnings, []);
    // The next command gets the target at once and stages for real.
    const again = await fwup(['stage', IMG, '--target', t, '--allow-unsigned', '--json'], { cwd: dir, env: NOW });
    assert.equal(again.code, 0, again.stdout);
  } finally {
    await cleanup();
  }
});

test('signals: SIGTERM while a stage verifies: exit 143, one text error line and its hint, nothing written', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const { t, image } = await bigMachine(dir);
    const flash = await readFile(join(dir, 'big', 'flash.img'));
    const r = await interruptAt(['stage', image, '--target', t, '--allow-unsigned'], dir, 'stage: verify', 'SIGTERM', { FWUP_EMU_ERASE_DELAY_MS: '1' }, 0);
    assert.equal(r.code, EXIT.TERMINATED, r.stdout + r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l && !l.startsWith('stage: '));
    assert.equal(lines.length, 2, r.stderr);
    // 64 MiB verifies in a fraction of a second: the signal may land in the verify or in the write.
    const m = /^error: stage of .*big\.fwup interrupted \(SIGTERM\): it was (being verified; nothing was written|being written to emu:.*: nothing is staged.*)$/.exec(lines[0]!);
    assert.ok(m, lines[0]);
    assert.match(lines[1]!, /^hint: /);
    assert.equal(r.stdout, '');
    if (m[1]!.startsWith('being verified')) assert.ok((await readFile(join(dir, 'big', 'flash.img'))).equals(flash), 'the flash is byte-identical');
    else assert.equal((await statusJson(dir, t)).staged, null);
  } finally {
    await cleanup();
  }
});

test('signals: SIGINT during a warm apply lets the firmware finish, then says so: exit 130, the new firmware runs', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir);
    assert.equal((await fwup(['stage', IMG, '--target', t], { cwd: dir })).code, 0);
    const c = fwupChild(['apply', '--warm', '--target', t, '--json'], { cwd: dir, env: { FWUP_EMU_ERASE_DELAY_MS: '40' } });
    await waitFor(() => existsSync(join(dir, 'm', 'lock')), 10_000, 'the apply to take the lock');
    await new Promise((done) => setTimeout(done, 100));
    c.child.kill('SIGINT');
    const r = await c.done;
    assert.equal(r.code, EXIT.INTERRUPTED, r.stdout + r.stderr);
    const e = oneErrorDoc(r);
    assert.match(e.message, /^apply interrupted \(SIGINT\): it ran to the end first: /);
    const s = await statusJson(dir, t);
    assert.equal(s.firmware.version, '3.0.0', 'the update an interrupt cannot stop halfway was completed');
    assert.deepEqual(s.warnings, []);
    assert.ok(!existsSync(join(dir, 'm', 'lock')));
  } finally {
    await cleanup();
  }
});

test('signals: SIGINT during a stalled download: exit 130, one JSON error; no output file, the part is kept and the next fetch resumes it', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const image = await readFile(IMG);
    const half = Math.floor(image.length / 2);
    server.routes.set('/stall/fw.fwup', serveBytes(image, { stopAfter: half, then: 'stall', stopWhen: new Promise(() => {}) }));
    const env = { XDG_CACHE_HOME: join(dir, 'cache') };
    const c = fwupChild(['fetch', server.url('/stall/fw.fwup'), '-o', 'fw.fwup', '--json', '--idle-timeout', '60'], { cwd: dir, env });
    await waitFor(() => server.requests.some((q) => q.path === '/stall/fw.fwup' && q.bytesSent >= half), 10_000, 'half the file to be sent');
    await new Promise((done) => setTimeout(done, 200));
    c.child.kill('SIGINT');
    const r = await c.done;
    assert.equal(r.code, EXIT.INTERRUPTED, r.stdout + r.stderr);
    const e = oneErrorDoc(r);
    assert.equal(e.code, 'INTERRUPTED');
    assert.match(e.message, /download of http:.*interrupted \(SIGINT\): \d+ bytes arrived and are kept/);
    assert.ok(!existsSync(join(dir, 'fw.fwup')), 'no output file');
    const cache = join(dir, 'cache', 'fwup', 'downloads');
    const names = await readdir(cache);
    assert.ok(names.some((n) => n.endsWith('.part')), `a resumable part is kept: ${names.join(', ')}`);
    assert.ok(!names.some((n) => n.endsWith('.lock')), 'the cache lock is released');
    server.routes.set('/stall/fw.fwup', serveBytes(image));
    const again = await fwup(['fetch', server.url('/stall/fw.fwup'), '-o', 'fw.fwup', '--json'], { cwd: dir, env });
    assert.equal(again.code, 0, again.stdout);
    assert.ok(json<{ resumed: number }>(again).resumed >= half, 'the second fetch resumed');
    assert.ok((await readFile(join(dir, 'fw.fwup'))).equals(image));
  } finally {
    await cleanup();
  }
});
