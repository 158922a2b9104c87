import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT } from '../src/errors/exit-codes.js';
import { DEFAULT_HINTS, ERROR_CODES, type ErrorCode } from '../src/errors/codes.js';
import { FwupError } from '../src/errors/fwup-error.js';
import { fwup, hashTree, json, REPO_ROOT, tempDir, type RunResult } from './helpers/cli.js';
import { initMachine, statusJson } from './helpers/machine.js';
import { FLASHROM, needs } from './helpers/requirements.js';

/** The operator's contract on the paths a person or a script hits first: no arguments, errors, digests, stdin. */

const IMAGES = join(REPO_ROOT, 'fixtures', 'images');
const UNSIGNED = join(IMAGES, 'fw-2.0.0-unsigned.fwup');
const PAYLOAD = join(REPO_ROOT, 'fixtures', 'payloads', 'fw-2.0.0.bin');

interface ErrorJson { code: string; message: string; hint: string; exitCode: number }

test('no arguments: `fwup` and `fwup machine` print their help on stdout and exit 0; with --json a usage error document', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    for (const [args, heading, lists] of [[[], /^Usage: fwup \[options\] \[command\]/, /stage \[options\] <image>/], [['machine'], /^Usage: fwup machine \[options\] \[command\]/, /init \[options\] \[dir\]/]] as const) {
      const r = await fwup([...args], { cwd: dir });
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, heading);
      assert.match(r.stdout, lists);
      assert.equal(r.stderr, '', 'no "(outputHelp)" error');
      const j = await fwup([...args, '--json'], { cwd: dir });
      assert.equal(j.code, EXIT.USAGE);
      const e = json<{ error: ErrorJson }>(j).error;
      assert.equal(e.code, 'USAGE');
      assert.doesNotMatch(e.message, /outputHelp/);
      assert.ok(e.hint.includes('--help'));
    }
    const v = await fwup(['--version', '--json'], { cwd: dir });
    assert.equal(v.code, 0);
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.deepEqual(json(v), { version: pkg.version });
    assert.equal((await fwup(['--version'], { cwd: dir })).stdout, `${pkg.version}\n`);
  } finally {
    await cleanup();
  }
});

test('every error code has a non-empty default hint, and an error made without one gets it', () => {
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    assert.ok(DEFAULT_HINTS[code]?.trim().length, `${code} has a default hint`);
    assert.equal(new FwupError(code, 'x').hint, DEFAULT_HINTS[code]);
  }
});

test('every CLI error path: the documented code and exit, a non-empty hint, one JSON document, no stack trace, nothing changed', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir);
    await writeFile(join(dir, 'file'), 'x');
    await writeFile(join(dir, 'exists.fwup'), 'keep me');
    const cases: Array<[string[], ErrorCode]> = [
      [['pack'], 'USAGE'],
      [['pack', PAYLOAD], 'USAGE'],
      [['pack', PAYLOAD, '-o', 'exists.fwup', '--version', '2.0.0'], 'FILE_EXISTS'],
      [['pack', PAYLOAD, '-o', 'new.fwup', '--version', '2.0.0', '--platform', 'p'.repeat(33)], 'USAGE'],
      [['machine', 'init', 'm2', '--cpus', '99'], 'USAGE'],
      [['apply', '--cold', '--warm', '--target', t], 'USAGE'],
      [['apply', '--warm', '--timeout', 'abc', '--target', t], 'USAGE'],
      [['fetch', 'http://127.0.0.1:9/x'], 'USAGE'],
      [['machine', 'stop', '--target', t], 'NOTHING_TO_DO'],
      [['stage', '/dev/null', '--target', t], 'USAGE'],
      [['inspect', dir], 'USAGE'],
      [['inspect', join(dir, 'missing.fwup')], 'FILE_NOT_FOUND'],
      [['status', '--target', `emu:${join(dir, 'file')}`], 'TARGET_INVALID'],
      [['status', '--target', `emu:${join(dir, 'file', 'below')}`], 'TARGET_INVALID'],
      [['stage', 'ftp://example.com/fw.fwup', '--target', t], 'NET_FAILED'],
      [['stage', join(dir, 'file'), '--target', t], 'IMAGE_UNKNOWN_FORMAT'],
      [['stage', UNSIGNED, '--target', 'nosuch:x'], 'TARGET_INVALID'],
      [['completion', 'tcsh'], 'USAGE'],
      [['unstage', '--target', t], 'NOTHING_TO_DO'],
      [['nosuchcommand'], 'USAGE'],
      [['stage', UNSIGNED, '--target', t, '--no-such-option'], 'USAGE'],
    ];
    const before = await hashTree(dir);
    for (const [args, code] of cases) {
      const what = args.join(' ');
      const r = await fwup([...args, '--json'], { cwd: dir });
      const e = json<{ error: ErrorJson }>(r).error;
      assert.equal(e.code, code, `${what}: ${e.message}`);
      assert.equal(r.code, ERROR_CODES[code], `${what}: exits as the table says`);
      assert.equal(e.exitCode, r.code);
      assert.ok(e.hint.trim().length > 0, `${what}: has a hint`);
      assert.doesNotMatch(e.message, /\bE[A-Z]{3,}\b|outputHelp/, `${what}: no raw errno or commander internals: ${e.message}`);
      const text = await fwup(args, { cwd: dir });
      assert.equal(text.code, r.code);
      assert.match(text.stderr, /^error: .+\nhint: .+\n$/, `${what}: one error line and one hint line: ${text.stderr}`);
    }
    assert.equal(await hashTree(dir), before, 'no rejected command changed anything');
  } finally {
    await cleanup();
  }
});

test('status of a flashrom target that cannot be reached reports what it knows and exits with the reason', async (t) => {
  if (!needs(t, FLASHROM())) return;
  const { dir, cleanup } = await tempDir();
  try {
    const r = await fwup(['status', '--target', 'flashrom:nosuch', '--json'], { cwd: dir, env: { XDG_STATE_HOME: join(dir, 'state') } });
    assert.equal(r.code, EXIT.USAGE, r.stdout);
    const j = json<{ chip: { error: { code: string } }; error: ErrorJson }>(r);
    assert.equal(j.chip.error.code, 'TARGET_INVALID');
    assert.equal(j.error.code, 'TARGET_INVALID');
    assert.match(j.error.hint, /flashrom --help/);
  } finally {
    await cleanup();
  }
});

test('digests: pack prints fileSha256 and payloadSha256; inspect and stage name them the same; the payload digest is never called the file', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir);
    const p = await fwup(['pack', PAYLOAD, '-o', 'fw.fwup', '--version', '2.0.0'], { cwd: dir });
    assert.equal(p.code, 0, p.stderr);
    const file = /^fileSha256\s+([0-9a-f]{64})\b/m.exec(p.stdout)?.[1];
    const payload = /^payloadSha256\s+([0-9a-f]{64})\b/m.exec(p.stdout)?.[1];
    assert.ok(file && payload && file !== payload, p.stdout);
    const bytes = await readFile(join(dir, 'fw.fwup'));
    const { createHash } = await import('node:crypto');
    assert.equal(file, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(payload, createHash('sha256').update(await readFile(PAYLOAD)).digest('hex'));
    const i = json<{ fileSha256: string; payloadSha256: string }>(await fwup(['inspect', 'fw.fwup', '--json'], { cwd: dir }));
    assert.deepEqual([i.fileSha256, i.payloadSha256], [file, payload]);
    const s = await fwup(['stage', 'fw.fwup', '--target', t, '--allow-unsigned'], { cwd: dir });
    assert.match(s.stdout, new RegExp(`^fileSha256\\s+${file}\\b`, 'm'));
    assert.match(s.stdout, new RegExp(`^payloadSha256\\s+${payload}\\b`, 'm'));
    for (const r of [p, s]) assert.doesNotMatch(r.stdout, /^sha256\s/m, 'no bare "sha256" row');
  } finally {
    await cleanup();
  }
});

test('standard input: inspect -, stage - and pack - read a pipe (spooled, then removed); an empty pipe is an invalid image that changes nothing', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir);
    const state = join(dir, 'state');
    const env = { XDG_STATE_HOME: state };
    const image = await readFile(UNSIGNED);
    const i = await fwup(['inspect', '-', '--json'], { cwd: dir, input: image, env });
    assert.equal(i.code, 0, i.stdout);
    const ij = json<{ path: string; version: string; fileSha256: string }>(i);
    assert.equal(ij.path, '-');
    assert.equal(ij.version, '2.0.0');
    const before = await hashTree(join(dir, 'm'));
    const empty = await fwup(['stage', '-', '--target', t, '--json'], { cwd: dir, input: Buffer.alloc(0), env });
    assert.equal(empty.code, EXIT.INVALID_IMAGE, empty.stdout);
    assert.match(json<{ error: ErrorJson }>(empty).error.message, /^standard input is not a known image format/);
    assert.equal(await hashTree(join(dir, 'm')), before, 'the machine is byte-identical');
    const s = await fwup(['stage', '-', '--target', t, '--allow-unsigned', '--json'], { cwd: dir, input: image, env });
    assert.equal(s.code, 0, s.stdout);
    assert.equal(json<{ image: { path: string } }>(s).image.path, '-');
    assert.equal((await statusJson(dir, t)).staged.fileSha256, ij.fileSha256);
    const p = await fwup(['pack', '-', '-o', 'from-pipe.fwup', '--version', '2.0.0', '--json'], { cwd: dir, input: await readFile(PAYLOAD), env });
    assert.equal(p.code, 0, p.stdout);
    const direct = await fwup(['pack', PAYLOAD, '-o', 'from-file.fwup', '--version', '2.0.0', '--json'], { cwd: dir });
    assert.equal(json<{ payloadSha256: string }>(p).payloadSha256, json<{ payloadSha256: string }>(direct).payloadSha256);
    assert.deepEqual(readdirSync(join(state, 'fwup', 'tmp')), [], 'every spool was removed');
  } finally {
    await cleanup();
  }
});

export type { RunResult };
