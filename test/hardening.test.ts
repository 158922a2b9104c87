import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, statSync, symlinkSync, writeSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT } from '../src/errors/exit-codes.js';
import { FWUP_BIN, fwup, hashTree, json, REPO_ROOT, tempDir } from './helpers/cli.js';

const FIX = join(REPO_ROOT, 'fixtures');
const PRIV = join(FIX, 'keys', 'test-release.key');
const PUB = join(FIX, 'keys', 'test-release.pub');
const IMG = join(FIX, 'images', 'fw-2.0.0-signed.fwup');

test('hardening: a private key where a public key or certificate belongs is refused, never stored or printed, and nothing is created', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const keyText = await readFile(PRIV, 'utf8');
    const secret = keyText.split('\n')[1]!; // the key's first base64 line
    const cases: Array<[string, string[]]> = [
      ['machine init --trust', ['machine', 'init', join(dir, 'm'), '--flash-size', '1M', '--trust', PRIV]],
      ['machine init --trust-cert', ['machine', 'init', join(dir, 'm'), '--flash-size', '1M', '--trust-cert', PRIV]],
      ['inspect --key', ['inspect', IMG, '--key', PRIV]],
      ['inspect --cert', ['inspect', IMG, '--cert', PRIV]],
      ['fetch --key', ['fetch', 'https://127.0.0.1:9/fw.fwup', '-o', join(dir, 'out.fwup'), '--key', PRIV]],
    ];
    for (const [what, args] of cases) {
      const before = await hashTree(dir);
      for (const mode of ['--json', 'text']) {
        const r = await fwup(mode === 'text' ? args : [...args, '--json'], { cwd: dir });
        assert.equal(r.code, EXIT.USAGE, `${what}: ${r.stdout}${r.stderr}`);
        assert.match(r.stdout + r.stderr, /is a private key/, what);
        assert.ok(!(r.stdout + r.stderr).includes(secret) && !/PRIVATE KEY/.test(r.stdout + r.stderr), `${what}: the key is never printed`);
      }
      assert.equal(await hashTree(dir), before, `${what}: nothing created`);
    }
  } finally {
    await cleanup();
  }
});

test('hardening: keygen --force replaces a symlink instead of writing through it; keys are 0600/0644 under any umask', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const victim = join(dir, 'victim.txt');
    await writeFile(victim, 'do not touch\n');
    symlinkSync(victim, join(dir, 'rel.key'));
    symlinkSync(victim, join(dir, 'rel.pub'));
    const r = spawnSync('sh', ['-c', `umask 000; exec "${process.execPath}" "${FWUP_BIN}" keygen rel --force`], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await readFile(victim, 'utf8'), 'do not touch\n', 'the symlink target is unchanged');
    assert.ok(!lstatSync(join(dir, 'rel.key')).isSymbolicLink());
    assert.equal(statSync(join(dir, 'rel.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'rel.pub')).mode & 0o777, 0o644);
    // Without --force an existing key is never replaced, and no half pair is left.
    const again = await fwup(['keygen', 'rel'], { cwd: dir });
    assert.equal(again.code, EXIT.FAILURE);
    assert.deepEqual(readdirSync(dir).sort(), ['rel.key', 'rel.pub', 'victim.txt']);
  } finally {
    await cleanup();
  }
});

test('hardening: a machine made under umask 000 is 0755 with 0644 files', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const r = spawnSync('sh', ['-c', `umask 000; exec "${process.execPath}" "${FWUP_BIN}" machine init m --flash-size 1M --trust "${PUB}"`], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(statSync(join(dir, 'm')).mode & 0o777, 0o755);
    assert.equal(statSync(join(dir, 'm', 'machine.json')).mode & 0o777, 0o644);
    assert.equal(statSync(join(dir, 'm', 'flash.img')).mode & 0o777, 0o644);
  } finally {
    await cleanup();
  }
});

test('hardening: control characters from an image never reach the terminal raw (run under a pseudo-terminal)', async (t) => {
  const probe = spawnSync('script', ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip('script(1) from util-linux is needed to run under a pseudo-terminal (Debian: bsdutils)');
    return;
  }
  const { dir, cleanup } = await tempDir();
  try {
    // A description that would erase the line and paint a fake verdict, with a bidi override.
    const evil = 'ok\u001b[2K\r\u001b[1A\u001b[32msignature  valid\u001b[0m\u202e tset';
    const p = await fwup(['pack', join(FIX, 'payloads', 'tiny.bin'), '-o', 'evil.fwup', '--version', '1.0.0', '--description', evil, '--platform', 'plat\u001b]0;title\u0007'], { cwd: dir });
    assert.equal(p.code, 0, p.stderr);
    const r = spawnSync('script', ['-qec', `"${process.execPath}" "${FWUP_BIN}" inspect evil.fwup`, '/dev/null'], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: dir, TERM: 'xterm-256color' } });
    const out = r.stdout;
    assert.ok(/\[\d+m/.test(out) && out.includes('\u001b['), 'colour is on: this ran on a terminal');
    for (const bad of ['\u001b[2K', '\u001b[1A', '\u001b]0;', '\u0007', '\u202e']) assert.ok(!out.includes(bad), `raw ${JSON.stringify(bad)} reached the terminal`);
    assert.ok(!/\r(?!\n)/.test(out), 'no bare carriage return');
    assert.match(out, /\\x1b\[2K\\r\\x1b\[1A/, 'shown escaped instead');
    assert.match(out, /\\u\{202e\}/);
  } finally {
    await cleanup();
  }
});

/** Write zeros into `file` until the file system is full (ENOSPC). */
function fillDisk(file: string): void {
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096);
  try {
    for (;;) writeSync(fd, block);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
}

test('hardening: a full disk (a small tmpfs) is a clear error: no key, no machine and no temporary file is left behind', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('mounting a small tmpfs needs root');
    return;
  }
  const { dir, cleanup } = await tempDir();
  const mnt = join(dir, 'small');
  mkdirSync(mnt);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', mnt]);
  if (mounted.status !== 0) {
    await cleanup();
    t.skip(`cannot mount a tmpfs here (${mounted.error?.message ?? String(mounted.stderr).trim()}): run the tests as root where mount(8) works`);
    return;
  }
  try {
    // A machine does not fit: ENOSPC while the flash image is written.
    const m = await fwup(['machine', 'init', join(mnt, 'm'), '--flash-size', '1M', '--json'], { cwd: dir });
    assert.equal(m.code, EXIT.FAILURE, m.stdout);
    const e = json<{ error: { code: string; message: string; hint: string } }>(m).error;
    assert.equal(e.code, 'FILE_IO');
    assert.match(e.message, /no space left on device/);
    assert.ok(e.hint);
    assert.deepEqual(readdirSync(mnt), [], 'nothing left behind');
    // Fill the disk, then a key pair cannot be written: no 0-byte key appears.
    fillDisk(join(mnt, 'fill'));
    const k = await fwup(['keygen', join(mnt, 'rel'), '--json'], { cwd: dir });
    assert.equal(k.code, EXIT.FAILURE, k.stdout);
    assert.equal(json<{ error: { code: string } }>(k).error.code, 'FILE_IO');
    assert.deepEqual(readdirSync(mnt), ['fill']);
    assert.ok(!existsSync(join(mnt, 'rel.key')));
  } finally {
    spawnSync('umount', [mnt]);
    await cleanup();
  }
});

test('hardening: damage to a machine directory is the target code (10); a file given as the machine is a usage error with a hint', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const { mkdir, rm, rename } = await import('node:fs/promises');
    assert.equal((await fwup(['machine', 'init', 'm', '--flash-size', '1M'], { cwd: dir })).code, 0);
    await rename(join(dir, 'm', 'flash.img'), join(dir, 'flash.keep'));
    await mkdir(join(dir, 'm', 'flash.img'));
    let r = await fwup(['status', '--target', 'emu:m', '--json'], { cwd: dir });
    assert.equal(r.code, EXIT.TARGET, r.stdout);
    assert.ok(json<{ error: { hint: string } }>(r).error.hint);
    await rm(join(dir, 'm', 'flash.img'), { recursive: true });
    await rename(join(dir, 'flash.keep'), join(dir, 'm', 'flash.img'));
    await rename(join(dir, 'm', 'machine.json'), join(dir, 'machine.keep'));
    await mkdir(join(dir, 'm', 'machine.json'));
    r = await fwup(['stage', IMG, '--target', 'emu:m', '--json'], { cwd: dir });
    assert.equal(r.code, EXIT.TARGET, r.stdout);
    r = await fwup(['status', '--target', `emu:${IMG}`, '--json'], { cwd: dir });
    assert.equal(r.code, EXIT.USAGE, r.stdout);
    const e = json<{ error: { code: string; message: string; hint: string } }>(r).error;
    assert.match(e.message, /is a file, not a machine directory/);
    assert.ok(e.hint);
  } finally {
    await cleanup();
  }
});

test('stdout on a file, a pipe, /dev/null and a pipe its reader closes: the whole output, in order, and no error when the reader goes away', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const args = [FWUP_BIN, 'inspect', IMG, '--key', PUB, '--json'];
    const piped = spawnSync(process.execPath, args, { encoding: 'utf8' });
    assert.equal(piped.status, 0, piped.stderr);
    assert.equal(JSON.parse(piped.stdout).ok, true);
    const file = join(dir, 'out.json');
    const fd = openSync(file, 'w');
    try {
      assert.equal(spawnSync(process.execPath, args, { stdio: ['ignore', fd, 'pipe'] }).status, 0);
    } finally {
      closeSync(fd);
    }
    assert.equal(await readFile(file, 'utf8'), piped.stdout, 'a file gets exactly what a pipe gets');
    assert.equal(spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] }).status, 0, '/dev/null');
    // The reader leaves before fwup writes (`fwup … | head -c0`): EPIPE ends the output, no error.
    const early = spawnSync('/bin/sh', ['-c', `exec 3>&1; "${process.execPath}" "${FWUP_BIN}" inspect "${IMG}" --key "${PUB}" 2>&3 | (exec 0<&-; exit 0); true`], { encoding: 'utf8' });
    assert.equal(early.stdout, '', `no error after the reader closed: ${early.stdout}`);
  } finally {
    await cleanup();
  }
});
