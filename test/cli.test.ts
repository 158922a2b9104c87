import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fwup, json, tempDir, REPO_ROOT, hashTree, xorByte } from './helpers/cli.js';
import { EXIT, EXIT_MEANINGS } from '../src/errors/exit-codes.js';

const FIX = join(REPO_ROOT, 'fixtures');

test('cli: keygen -> pack -> inspect end to end, text and JSON', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    let r = await fwup(['keygen', 'release'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /key id\s+[0-9a-f]{16}/);
    assert.equal((await stat(join(dir, 'release.key'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'release.pub'))).mode & 0o777, 0o644);

    await copyFile(join(FIX, 'payloads', 'fw-2.0.0.bin'), join(dir, 'fw.bin'));
    r = await fwup(['pack', 'fw.bin', '-o', 'fw.fwup', '--version', '2.1.0', '--lsv', '2.0.0', '--svn', '4', '--sign', 'release.key', '--description', 'hello', '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const packed = json(r);
    assert.equal(packed.payloadSize, 96 * 1024);
    assert.match(String(packed.keyId), /^[0-9a-f]{16}$/);

    r = await fwup(['inspect', 'fw.fwup', '--key', 'release.pub', '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const rep = json(r);
    for (const k of ['format', 'version', 'versionNumber', 'lowestSupportedVersion', 'securityVersion', 'platform', 'payloadSize', 'sha256', 'signature', 'ok']) {
      assert.ok(k in rep, `JSON has ${k}`);
    }
    assert.equal(rep.format, 'fwup');
    assert.equal(rep.version, '2.1.0');
    assert.equal(rep.versionNumber, 0x02010000);
    assert.equal(rep.lowestSupportedVersion, 0x02000000);
    assert.equal(rep.securityVersion, 4);
    assert.equal(rep.platform, 'fwup-emu');
    assert.equal(rep.description, 'hello');
    assert.deepEqual(rep.signature, { present: true, keyId: packed.keyId, algorithm: 'ed25519', valid: true, status: 'valid' });
    assert.equal(rep.ok, true);
    assert.equal(r.stderr, '');

    r = await fwup(['inspect', 'fw.fwup', '--key', 'release.pub'], { cwd: dir });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /signature\s+valid \(ed25519, key [0-9a-f]{16}\)/);
    assert.match(r.stdout, /verdict\s+OK/);
    assert.ok(!r.stdout.includes("\u001b["), 'no colour when stdout is not a terminal');
  } finally {
    await cleanup();
  }
});

test('cli: a one-byte change anywhere in a signed image is a documented non-zero exit, never a stack trace', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const orig = await readFile(join(FIX, 'images', 'fw-2.0.0-signed.fwup'));
    const key = join(FIX, 'keys', 'test-release.pub');
    const documented = new Set(EXIT_MEANINGS.map(([c]) => c as number));
    const headerSize = orig.readUInt32LE(12);
    // Every header byte and a spread of payload bytes.
    const offsets = [...Array(headerSize).keys(), headerSize, headerSize + 1, orig.length >> 1, orig.length - 1];
    for (const at of offsets) {
      const m = xorByte(Buffer.from(orig), at, 0x01);
      await writeFile(join(dir, 'm.fwup'), m);
      const r = await fwup(['inspect', 'm.fwup', '--key', key, '--json'], { cwd: dir });
      assert.notEqual(r.code, 0, `byte ${at}: change not detected`);
      assert.ok(documented.has(r.code), `byte ${at}: exit ${r.code} is documented`);
      assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at .*\(.*:\d+:\d+\)/, `byte ${at}: no stack trace`);
      const j = json(r);
      assert.ok(j.error, `byte ${at}: JSON names the error`);
    }
  } finally {
    await cleanup();
  }
});

test('cli: exit codes and messages for each kind of bad input', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const img = (n: string) => join(FIX, 'images', n);
    const key = join(FIX, 'keys', 'test-release.pub');
    const cases: Array<{ args: string[]; code: number; msg: RegExp; errCode: string }> = [
      { args: ['inspect', 'missing.fwup'], code: EXIT.NOT_FOUND, msg: /no such file/, errCode: 'FILE_NOT_FOUND' },
      { args: ['inspect', join(FIX, 'payloads', 'fw-2.0.0.bin')], code: EXIT.INVALID_IMAGE, msg: /not a known image format/, errCode: 'IMAGE_UNKNOWN_FORMAT' },
      { args: ['inspect', img('fw-2.0.0-other-key.fwup'), '--key', key], code: EXIT.SIGNATURE, msg: /not trusted/, errCode: 'IMAGE_SIGNATURE_UNKNOWN_KEY' },
      { args: ['inspect', img('fw-2.0.0-signed.fwup'), '--key', 'nokey.pub'], code: EXIT.NOT_FOUND, msg: /nokey\.pub/, errCode: 'KEY_NOT_FOUND' },
      { args: ['inspect', img('fw-2.0.0-signed.fwup'), '--key', img('fw-2.0.0-signed.fwup')], code: EXIT.USAGE, msg: /not a PEM public key/, errCode: 'KEY_INVALID' },
      { args: ['pack', 'x.bin', '-o', 'y.fwup'], code: EXIT.USAGE, msg: /needs --version/, errCode: 'USAGE' },
      { args: ['pack', 'x.bin', '--version', '1'], code: EXIT.USAGE, msg: /needs -o/, errCode: 'USAGE' },
      { args: ['pack', 'x.bin', '-o', 'y.fwup', '--version', '1.2.3.4.5'], code: EXIT.USAGE, msg: /is not a version/, errCode: 'USAGE' },
      { args: ['pack', 'x.bin', '-o', 'y.fwup', '--version', '1', '--svn', '-3'], code: EXIT.USAGE, msg: /--svn/, errCode: 'USAGE' },
      { args: ['pack', 'x.bin', '-o', 'y.fwup', '--version', '1'], code: EXIT.NOT_FOUND, msg: /x\.bin/, errCode: 'FILE_NOT_FOUND' },
      { args: ['inspect'], code: EXIT.USAGE, msg: /missing required argument/, errCode: 'USAGE' },
      { args: ['frobnicate'], code: EXIT.USAGE, msg: /unknown command/, errCode: 'USAGE' },
      { args: ['inspect', 'a', '--bogus'], code: EXIT.USAGE, msg: /unknown option/, errCode: 'USAGE' },
    ];
    const before = await hashTree(dir);
    for (const c of cases) {
      const r = await fwup(c.args, { cwd: dir });
      assert.equal(r.code, c.code, `${c.args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^error: /m);
      assert.match(r.stderr, c.msg);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      const j = await fwup([...c.args, '--json'], { cwd: dir });
      assert.equal(j.code, c.code);
      const e = json<{ error: { code: string; message: string; hint: string | null; exitCode: number } }>(j).error;
      assert.equal(e.code, c.errCode, c.args.join(' '));
      assert.equal(e.exitCode, c.code);
      assert.equal(typeof e.message, 'string');
      assert.equal(j.stderr, '', 'with --json nothing goes to stderr');
    }
    assert.equal(await hashTree(dir), before, 'rejected commands wrote nothing');
  } finally {
    await cleanup();
  }
});

test('cli: keygen refuses to overwrite without --force and leaves the old pair intact', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    assert.equal((await fwup(['keygen', 'k'], { cwd: dir })).code, 0);
    const before = await hashTree(dir);
    const r = await fwup(['keygen', 'k'], { cwd: dir });
    assert.equal(r.code, EXIT.FAILURE);
    assert.match(r.stderr, /already exists/);
    assert.match(r.stderr, /--force/);
    assert.equal(await hashTree(dir), before);
    const f = await fwup(['keygen', 'k', '--force'], { cwd: dir });
    assert.equal(f.code, 0);
    assert.notEqual(await hashTree(dir), before);
    assert.equal((await stat(join(dir, 'k.key'))).mode & 0o777, 0o600);
  } finally {
    await cleanup();
  }
});

test('cli: raw .bin inspected with --version, global options anywhere, --quiet, --help lists exit codes', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const bin = join(FIX, 'payloads', 'fw-2.0.0.bin');
    const r = await fwup(['--json', 'inspect', bin, '--version', '5'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const j = json(r);
    assert.equal(j.format, 'raw');
    assert.equal(j.versionNumber, 5);
    assert.equal(j.payloadSize, 96 * 1024);
    const q = await fwup(['inspect', join(FIX, 'images', 'fw-2.0.0-unsigned.fwup'), '--quiet'], { cwd: dir });
    assert.equal(q.code, 0);
    assert.equal(q.stdout, '');
    const h = await fwup(['--help'], { cwd: dir });
    assert.equal(h.code, 0);
    for (const [code, name] of EXIT_MEANINGS) assert.match(h.stdout, new RegExp(`\\s${code}\\s+${name}`));
    const v = await fwup(['--version'], { cwd: dir });
    assert.equal(v.stdout.trim(), JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')).version);
  } finally {
    await cleanup();
  }
});
