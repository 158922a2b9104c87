import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, readFile, truncate, copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fwup, json, tempDir, hashTree, REPO_ROOT, xorByte } from './helpers/cli.js';
import { initMachine, statusJson, withFirmware } from './helpers/machine.js';
import { setSecurityFloor } from './helpers/memory-platform.js';
import { EXIT } from '../src/errors/exit-codes.js';
import { Digester } from '../src/util/digest.js';

const FIX = join(REPO_ROOT, 'fixtures');
const IMG = (n: string) => join(FIX, 'images', n);
const KEY = join(FIX, 'keys', 'test-release.pub');

test('stage: machine init && stage a signed image && status --json shows it', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    let r = await fwup(['machine', 'init', '--flash-size', '4M'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    r = await fwup(['stage', IMG('fw-2.0.0-signed.fwup')], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /staged .*fw-2\.0\.0-signed\.fwup/);
    const st = json(await fwup(['status', '--json'], { cwd: dir }));
    const bytes = await readFile(IMG('fw-2.0.0-signed.fwup'));
    assert.equal(st.kind, 'emu');
    assert.deepEqual(
      { ...(st.staged as object), stagedAt: 'x' },
      {
        version: '2.0.0', versionNumber: 0x02000000, format: 'fwup', size: bytes.length, fileSha256: new Digester().update(bytes).digest().sha256,
        payloadSha256: new Digester().update(bytes.subarray(bytes.length - 98304)).digest().sha256, stagedAt: 'x', flags: [],
      },
    );
    assert.equal((st.firmware as { version: string }).version, '1');
  } finally {
    await cleanup();
  }
});

test('stage: the default machine is created on first use and the user is told', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const r = await fwup(['stage', IMG('fw-2.0.0-signed.fwup')], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /created the default emulated machine at .*\.fwup\/machine/);
    const again = await fwup(['status'], { cwd: dir });
    assert.doesNotMatch(again.stderr, /created/);
    // An explicitly named machine is never created implicitly.
    const before = await hashTree(dir);
    const x = await fwup(['status', '--target', 'emu:elsewhere'], { cwd: dir });
    assert.equal(x.code, EXIT.NOT_FOUND);
    assert.match(x.stderr, /no emulated machine at .*elsewhere/);
    assert.equal(await hashTree(dir), before);
  } finally {
    await cleanup();
  }
});

test('stage: every rejection leaves the machine directory byte-identical', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const keyed = await initMachine(dir, ['--trust', KEY]);
    const mdir = join(dir, 'm');
    await mkdir(join(dir, 'dev'));
    const dev = await initMachine(join(dir, 'dev'));
    const flipped = xorByte(await readFile(IMG('fw-2.0.0-signed.fwup')), 5000, 0x10);
    await writeFile(join(dir, 'flipped.fwup'), flipped);
    const hdr = xorByte(await readFile(IMG('fw-2.0.0-signed.fwup')), 60, 0x01);
    await writeFile(join(dir, 'header.fwup'), hdr);
    await writeFile(join(dir, 'big.bin'), Buffer.alloc(700 * 1024, 1));
    const cases: Array<{ what: string; target: string; args: string[]; code: number; err: string; msg: RegExp; hint?: RegExp }> = [
      { what: 'unknown format', target: keyed, args: [join(FIX, 'payloads', 'fw-2.0.0.bin')], code: EXIT.INVALID_IMAGE, err: 'IMAGE_UNKNOWN_FORMAT', msg: /not a known image format/ },
      { what: 'payload bit flip', target: keyed, args: [join(dir, 'flipped.fwup')], code: EXIT.INTEGRITY, err: 'IMAGE_PAYLOAD_CRC', msg: /payload CRC-32 mismatch/ },
      { what: 'header bit flip', target: keyed, args: [join(dir, 'header.fwup')], code: EXIT.INTEGRITY, err: 'IMAGE_HEADER_CRC', msg: /header CRC-32 mismatch/ },
      { what: 'untrusted key', target: keyed, args: [IMG('fw-2.0.0-other-key.fwup')], code: EXIT.SIGNATURE, err: 'IMAGE_SIGNATURE_UNKNOWN_KEY', msg: /not trusted/, hint: /^sign it with a key the target trusts .*machine init --trust\)$/ },
      { what: 'unsigned on a keyed machine', target: keyed, args: [IMG('fw-2.0.0-unsigned.fwup'), '--allow-unsigned'], code: EXIT.SIGNATURE, err: 'IMAGE_UNSIGNED', msg: /not signed/ },
      { what: 'unsigned without --allow-unsigned', target: dev, args: [IMG('fw-2.0.0-unsigned.fwup')], code: EXIT.SIGNATURE, err: 'IMAGE_UNSIGNED', msg: /not signed/ },
      { what: 'wrong platform', target: keyed, args: [IMG('fw-2.0.0-other-platform.fwup')], code: EXIT.POLICY, err: 'POLICY_PLATFORM', msg: /acme-board-7/ },
      { what: 'downgrade', target: dev, args: [join(FIX, 'payloads', 'tiny.bin'), '--version', '0', '--allow-unsigned'], code: EXIT.POLICY, err: 'POLICY_DOWNGRADE', msg: /older than the installed/ },
      { what: 'same version', target: dev, args: [join(FIX, 'payloads', 'tiny.bin'), '--version', '1', '--allow-unsigned'], code: EXIT.NOTHING_TO_DO, err: 'NOTHING_TO_DO', msg: /already installed/ },
      { what: 'too large', target: dev, args: [join(dir, 'big.bin'), '--version', '9', '--allow-unsigned'], code: EXIT.POLICY, err: 'POLICY_TOO_LARGE', msg: /takes images of at most/ },
      { what: 'missing file', target: keyed, args: [join(dir, 'nope.fwup')], code: EXIT.NOT_FOUND, err: 'FILE_NOT_FOUND', msg: /no such file/ },
    ];
    for (const c of cases) {
      const before = await hashTree(dir);
      const r = await fwup(['stage', ...c.args, '--target', c.target, '--json'], { cwd: dir });
      assert.equal(r.code, c.code, `${c.what}: ${r.stdout}`);
      const e = json<{ error: { code: string; message: string; hint: string } }>(r).error;
      assert.equal(e.code, c.err, c.what);
      assert.match(e.message, c.msg, c.what);
      // stage takes no --key or --cert: a hint never tells the user to pass one.
      assert.doesNotMatch(e.hint, /--key|--cert\b/, c.what);
      if (c.hint) assert.match(e.hint, c.hint, c.what);
      assert.equal(await hashTree(dir), before, `${c.what}: nothing changed`);
    }
    // Security version: raise the machine's counter to 2, then an image with security version 1 is refused.
    withFirmware(mdir, (v) => setSecurityFloor(v, 2));
    const before = await hashTree(dir);
    const r = await fwup(['stage', IMG('fw-2.0.0-signed.fwup'), '--target', keyed, '--allow-older', '--json'], { cwd: dir });
    assert.equal(r.code, EXIT.POLICY);
    assert.equal(json<{ error: { code: string } }>(r).error.code, 'POLICY_SECURITY_VERSION');
    assert.equal(await hashTree(dir), before, '--allow-older never relaxes the security version');
  } finally {
    await cleanup();
  }
});

test('stage: a corrupt or missing machine, a wrong-size flash.img and a full NVRAM are clear errors that change nothing', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir);
    const mdir = join(dir, 'm');
    const img = IMG('fw-2.0.0-signed.fwup');
    const check = async (what: string, code: number, err: string, re: RegExp) => {
      const before = await hashTree(dir);
      const r = await fwup(['stage', img, '--target', t, '--json'], { cwd: dir });
      assert.equal(r.code, code, `${what}: ${r.stdout}`);
      const e = json<{ error: { code: string; message: string; hint: string } }>(r).error;
      assert.equal(e.code, err, what);
      assert.match(e.message, re, what);
      assert.ok(e.hint, `${what} has a hint`);
      assert.equal(await hashTree(dir), before, `${what}: byte-identical`);
    };
    const good = await readFile(join(mdir, 'machine.json'));
    await writeFile(join(mdir, 'machine.json'), '{"format": "fwup-machine", "version": 2, "cpus": 999');
    await check('corrupt machine.json', EXIT.TARGET, 'TARGET_CORRUPT', /not valid JSON/);
    await writeFile(join(mdir, 'machine.json'), good);
    await copyFile(join(mdir, 'flash.img'), join(dir, 'flash.bak'));
    await truncate(join(mdir, 'flash.img'), 1 << 20);
    await check('short flash.img', EXIT.TARGET, 'TARGET_CORRUPT', /is 1048576 bytes, the machine's flash is 2097152/);
    await copyFile(join(dir, 'flash.bak'), join(mdir, 'flash.img'));
    // Fill NVRAM with other (firmware) variables until an update request no longer fits.
    withFirmware(mdir, (v) => {
      for (let i = 0; v.vars.store.canStore(`Filler${i}`, 8000); i++) v.vars.store.set(`Filler${i}`, Buffer.alloc(8000, i));
      let n = 7000;
      while (n > 0) {
        if (v.vars.store.canStore('Last', n)) {
          v.vars.store.set('Last', Buffer.alloc(n, 1));
          break;
        }
        n -= 16;
      }
    });
    await check('full NVRAM', EXIT.TARGET, 'NVRAM_FULL', /no room for the update request/);
  } finally {
    await cleanup();
  }
});

test('stage: re-staging is nothing to do; a second image replaces the first; unstage', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir);
    const s2 = IMG('fw-2.0.0-signed.fwup');
    const s3 = IMG('fw-3.0.0-signed.fwup');
    let r = await fwup(['stage', s2, '--target', t, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout);
    assert.equal(json(r).replaced, false);
    let before = await hashTree(dir);
    r = await fwup(['stage', s2, '--target', t], { cwd: dir });
    assert.equal(r.code, EXIT.NOTHING_TO_DO);
    assert.match(r.stderr, /already staged/);
    assert.equal(await hashTree(dir), before);
    r = await fwup(['stage', s3, '--target', t, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout);
    assert.equal(json(r).replaced, true);
    assert.equal((await statusJson(dir, t)).staged.version, '3.0.0');
    r = await fwup(['unstage', '--target', t], { cwd: dir });
    assert.equal(r.code, 0);
    assert.equal((await statusJson(dir, t)).staged, null);
    before = await hashTree(dir);
    r = await fwup(['unstage', '--target', t, '--json'], { cwd: dir });
    assert.equal(r.code, EXIT.NOTHING_TO_DO);
    assert.equal(json<{ error: { code: string } }>(r).error.code, 'NOTHING_TO_DO');
    assert.equal(await hashTree(dir), before);
    // The same image again after unstage: STAGING already holds it, so no block is written.
    r = await fwup(['stage', s3, '--target', t, '--json'], { cwd: dir });
    const w = json<{ details: { write: { blocks: number; unchanged: number } } }>(r).details.write;
    assert.equal(w.unchanged, w.blocks);
  } finally {
    await cleanup();
  }
});

test('stage: 8 concurrent processes leave exactly one consistent request', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir);
    const images: string[] = [];
    for (let i = 0; i < 8; i++) {
      const p = join(dir, `p${i}.bin`);
      await writeFile(p, Buffer.alloc(20000 + i * 4096, i + 1));
      images.push(p);
    }
    const results = await Promise.all(
      images.map((p, i) => fwup(['stage', p, '--version', String(10 + i), '--allow-unsigned', '--target', t, '--json'], { cwd: dir })),
    );
    for (const r of results) assert.equal(r.code, 0, r.stdout + r.stderr);
    const st = await statusJson(dir, t);
    const staged = st.staged as { version: string; fileSha256: string; size: number };
    const i = Number(staged.version) - 10;
    const expected = new Digester().update(await readFile(images[i]!)).digest();
    assert.equal(staged.fileSha256, expected.sha256);
    assert.equal(staged.size, expected.length);
    // STAGING holds exactly those bytes.
    withFirmware(join(dir, 'm'), (v, p) => {
      const bytes = p.flash.read(p.map.STAGING.offset, staged.size);
      assert.equal(new Digester().update(bytes).digest().sha256, staged.fileSha256);
      assert.equal(v.vars.store.names().filter((n: string) => n === 'UpdateRequest').length, 1);
    });
  } finally {
    await cleanup();
  }
});

test('stage: a held lock makes a second stage wait, then fail busy; a stale lock is broken', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir);
    const lock = join(dir, 'm', 'lock');
    await writeFile(lock, `${process.pid}\n`);
    const before = await hashTree(join(dir, 'm'));
    const r = await fwup(['stage', IMG('fw-2.0.0-signed.fwup'), '--target', t], { cwd: dir, env: { FWUP_LOCK_TIMEOUT: '0.3' } });
    assert.equal(r.code, EXIT.BUSY);
    assert.match(r.stderr, new RegExp(`busy: another fwup \\(pid ${process.pid}\\)`));
    assert.equal(await hashTree(join(dir, 'm')), before);
    await writeFile(lock, '999999999\n'); // no such process
    const ok = await fwup(['stage', IMG('fw-2.0.0-signed.fwup'), '--target', t], { cwd: dir, env: { FWUP_LOCK_TIMEOUT: '5' } });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /took over the lock of machine .* from pid 999999999, which is no longer running/);
  } finally {
    await cleanup();
  }
});

test('stage: an injected power cut exits 11; the machine stays consistent and stage then succeeds', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir);
    await fwup(['stage', IMG('fw-2.0.0-signed.fwup'), '--target', t], { cwd: dir });
    for (const fault of ['powercut:2', 'torn:3,seed:9', 'powercut:5']) {
      const r = await fwup(['stage', IMG('fw-3.0.0-signed.fwup'), '--target', t, '--json'], { cwd: dir, env: { FWUP_FAULT: fault } });
      assert.equal(r.code, EXIT.POWER_CUT, `${fault}: ${r.stdout}`);
      assert.equal(json<{ error: { code: string } }>(r).error.code, 'POWER_CUT');
      const st = await statusJson(dir, t);
      // The old request was invalidated before STAGING was touched: no request, or the complete new one.
      assert.ok(st.staged === null || st.staged.version === '3.0.0', `${fault}: ${JSON.stringify(st.staged)}`);
      const again = await fwup(['stage', IMG('fw-3.0.0-signed.fwup'), '--target', t], { cwd: dir });
      assert.ok(again.code === 0 || again.code === EXIT.NOTHING_TO_DO, again.stderr);
      assert.equal((await statusJson(dir, t)).staged.version, '3.0.0');
      await fwup(['stage', IMG('fw-2.0.0-signed.fwup'), '--target', t], { cwd: dir });
    }
  } finally {
    await cleanup();
  }
});
