import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fwup, json, tempDir, REPO_ROOT } from './helpers/cli.js';
import { initMachine, statusJson } from './helpers/machine.js';
import { EXIT } from '../src/errors/exit-codes.js';

const IMG = join(REPO_ROOT, 'fixtures', 'images', 'fw-2.0.0-signed.fwup');

test('live machine: start, status, apply while the OS keeps running, stop', async () => {
  const { dir, cleanup } = await tempDir();
  const t = await initMachine(dir, ['--cpus', '4']);
  try {
    let r = await fwup(['machine', 'start', '--target', t, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const pid = json<{ pid: number }>(r).pid;
    assert.ok(existsSync(join(dir, 'm', 'machine.pid')) && existsSync(join(dir, 'm', 'control.sock')));
    r = await fwup(['machine', 'start', '--target', t], { cwd: dir });
    assert.equal(r.code, EXIT.NOTHING_TO_DO);
    assert.match(r.stderr, new RegExp(`already running \\(pid ${pid}\\)`));

    const s1 = json<{ running: boolean; pid: number; steps: number[]; firmware: { version: string } }>(await fwup(['machine', 'status', '--json', '--target', t], { cwd: dir }));
    assert.equal(s1.running, true);
    assert.equal(s1.pid, pid);
    assert.equal(s1.firmware.version, '1');

    assert.equal((await fwup(['stage', IMG, '--target', t], { cwd: dir })).code, 0, 'stage writes beside the running machine');
    r = await fwup(['apply', '--warm', '--target', t, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const rep = json<{ report: { live: boolean; after: { version: string }; checks: Array<{ ok: boolean }> } }>(r).report;
    assert.equal(rep.live, true);
    assert.equal(rep.after.version, '2.0.0');
    assert.ok(rep.checks.every((c) => c.ok));

    const s2 = json<{ running: boolean; pid: number; steps: number[]; firmware: { version: string } }>(await fwup(['machine', 'status', '--json', '--target', t], { cwd: dir }));
    assert.equal(s2.pid, pid, 'the same OS process kept running');
    assert.equal(s2.firmware.version, '2.0.0');
    for (let c = 0; c < 4; c++) assert.ok(s2.steps[c]! > s1.steps[c]!, `CPU ${c} kept its work and went on (${s1.steps[c]} -> ${s2.steps[c]})`);
    assert.equal((await statusJson(dir, t)).firmware.version, '2.0.0');

    r = await fwup(['machine', 'init', join(dir, 'm'), '--force'], { cwd: dir });
    assert.equal(r.code, EXIT.BUSY, 'a running machine is not re-created under its feet');

    r = await fwup(['machine', 'stop', '--target', t], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(join(dir, 'm', 'machine.pid')) && !existsSync(join(dir, 'm', 'control.sock')));
    const s3 = json<{ running: boolean }>(await fwup(['machine', 'status', '--json', '--target', t], { cwd: dir }));
    assert.equal(s3.running, false);
    assert.equal((await fwup(['machine', 'stop', '--target', t], { cwd: dir })).code, EXIT.NOTHING_TO_DO);
  } finally {
    await fwup(['machine', 'stop', '--target', t], { cwd: dir });
    await cleanup();
  }
});
