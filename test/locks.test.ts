import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../src/errors/exit-codes.js';
import { fwup, fwupChild, json, REPO_ROOT, tempDir, waitFor } from './helpers/cli.js';
import { initMachine, statusJson } from './helpers/machine.js';

const IMG = join(REPO_ROOT, 'fixtures', 'images', 'fw-3.0.0-signed.fwup');
/** A W25Q128-class chip's sector erase: an apply takes long enough for others to arrive in the middle of it. */
const SLOW = { FWUP_EMU_ERASE_DELAY_MS: '40' };

test('locks: machine start and machine boot during an apply get the busy code and change nothing; status answers at once; the apply succeeds', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir);
    assert.equal((await fwup(['stage', IMG, '--target', t], { cwd: dir })).code, 0);
    const apply = fwupChild(['apply', '--warm', '--target', t, '--json'], { cwd: dir, env: SLOW });
    await waitFor(() => existsSync(join(dir, 'm', 'lock')), 10_000, 'the apply to take the lock');
    const now = { FWUP_LOCK_TIMEOUT: '0' };
    const start = await fwup(['machine', 'start', '--target', t, '--json'], { cwd: dir, env: now });
    assert.equal(start.code, EXIT.BUSY, start.stdout);
    assert.equal(json<{ error: { code: string } }>(start).error.code, 'TARGET_BUSY');
    assert.ok(!existsSync(join(dir, 'm', 'machine.pid')), 'no second machine was started');
    const boot = await fwup(['machine', 'boot', '--target', t, '--json'], { cwd: dir, env: now });
    assert.equal(boot.code, EXIT.BUSY, boot.stdout);
    // Read-only commands take no lock: they answer during the apply, from a consistent snapshot.
    const t0 = Date.now();
    const st = await fwup(['status', '--json', '--target', t], { cwd: dir, env: now });
    assert.equal(st.code, 0, st.stdout + st.stderr);
    assert.ok(Date.now() - t0 < 5000);
    assert.equal(typeof json<{ machine: { busyPid: number } }>(st).machine.busyPid, 'number', 'status says who holds the machine');
    assert.equal((await fwup(['history', '--target', t], { cwd: dir, env: now })).code, 0);
    const r = await apply.done;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(json<{ report: { after: { version: string } } }>(r).report.after.version, '3.0.0');
    const s = await statusJson(dir, t);
    assert.equal(s.firmware.version, '3.0.0');
    assert.deepEqual(s.warnings, []);
  } finally {
    await cleanup();
  }
});

test('locks: a live machine killed (SIGKILL) in the middle of an apply: apply fails within a second; the next commands clean up and the machine boots again', async () => {
  const { dir, cleanup } = await tempDir();
  const t = await initMachine(dir);
  try {
    let r = await fwup(['machine', 'start', '--target', t, '--json'], { cwd: dir, env: SLOW });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const pid = json<{ pid: number }>(r).pid;
    assert.equal((await fwup(['stage', IMG, '--target', t], { cwd: dir })).code, 0);
    const apply = fwupChild(['apply', '--warm', '--target', t, '--json'], { cwd: dir });
    // Into the firmware's install (the live machine logs the request as it starts it).
    await waitFor(() => readFileSync(join(dir, 'm', 'machine.log'), 'utf8').includes('request: apply'), 10_000, 'the live machine to start the apply');
    await new Promise((done) => setTimeout(done, 150));
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    r = await apply.done;
    const took = Date.now() - killedAt;
    assert.equal(r.code, EXIT.FAILURE, r.stdout + r.stderr);
    const e = json<{ error: { code: string; message: string; hint: string } }>(r).error;
    assert.equal(e.code, 'MACHINE_FAILURE');
    assert.match(e.message, /closed the connection without answering apply/);
    assert.ok(took < 1000, `apply failed ${took} ms after the kill`);
    // Detected at once: the machine is not running, its pid file and socket are gone.
    const ms = json<{ running: boolean }>(await fwup(['machine', 'status', '--json', '--target', t], { cwd: dir }));
    assert.equal(ms.running, false);
    assert.ok(!existsSync(join(dir, 'm', 'machine.pid')) && !existsSync(join(dir, 'm', 'control.sock')));
    // The kill was a power cut in the middle of the install: the next boot undoes it.
    r = await fwup(['machine', 'boot', '--target', t, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const s = await statusJson(dir, t);
    assert.equal(s.firmware.slots[s.firmware.activeSlot].state, 'verified');
    r = await fwup(['machine', 'start', '--target', t], { cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  } finally {
    await fwup(['machine', 'stop', '--target', t], { cwd: dir });
    await cleanup();
  }
});
