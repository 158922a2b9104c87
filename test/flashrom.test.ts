import { createHash } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT } from '../src/errors/exit-codes.js';
import { FlashromOutputParser, type FlashromProgress } from '../src/targets/flashrom/flashrom-output.js';
import { ifdRegions } from '../src/targets/flashrom/flash-regions.js';
import { REPO_ROOT, fwup, hashTree, json, prngBytes, tempDir, xorByte, type RunResult } from './helpers/cli.js';
import { fakeExec } from './helpers/fake-exec.js';
import { runInProcess } from './helpers/in-process.js';
import { FLASHROM, needs } from './helpers/requirements.js';

const MiB = 1 << 20;
const CHIP = 16 * MiB;

/**
 * These tests drive the real Debian flashrom with its dummy programmer emulating a W25Q128FV (16 MiB) on
 * a file: without flashrom they are skipped with the reason (and fail under FWUP_TEST_REQUIRE_ALL, as in CI).
 */
function flashromTest(name: string, fn: () => Promise<void>): void {
  test(name, async (t) => {
    if (!needs(t, FLASHROM())) return;
    await fn();
  });
}

interface Chip {
  dir: string;
  chip: string;
  spec: string;
  env: Record<string, string>;
  cleanup: () => Promise<void>;
  run: (args: string[], opts?: { spec?: string; env?: Record<string, string> }) => Promise<RunResult>;
  /** The chip file and fwup's state directory, hashed together. */
  snapshot: () => Promise<string>;
}

async function chip(content: Buffer = prngBytes(1, CHIP), params = ''): Promise<Chip> {
  const { dir, cleanup } = await tempDir('fwup-flashrom-');
  const path = join(dir, 'chip', 'chip.bin');
  await mkdir(join(dir, 'chip'));
  await writeFile(path, content);
  await mkdir(join(dir, 'state'));
  const spec = `flashrom:dummy:emulate=W25Q128FV,image=${path}${params}`;
  const env = { XDG_STATE_HOME: join(dir, 'state') };
  return {
    dir,
    chip: path,
    spec,
    env,
    cleanup,
    run: (args, o = {}) => fwup([...args, '--target', o.spec ?? spec], { cwd: dir, env: { ...env, ...o.env } }),
    snapshot: async () => `${await hashTree(join(dir, 'chip'))}/${await hashTree(join(dir, 'state'))}`,
  };
}

/** An Intel Flash Descriptor (5-series layout) naming fd 0-0xfff, me 0x1000-0x7fffff and bios 0x800000-0xffffff. */
function withIfd(content: Buffer): Buffer {
  const d = Buffer.alloc(4096);
  d.writeUInt32LE(0x0ff0a55a, 0x10);
  d.writeUInt32LE((4 << 24) | (0x04 << 16) | 0x03, 0x14); // NR=4 (5 regions), FRBA=0x40, FCBA=0x30
  d.writeUInt32LE((0x10 << 24) | (0x10 << 16) | (2 << 8) | 0x06, 0x18); // ISL=16, FISBA=0x100, NM=2, FMBA=0x60
  d.writeUInt32LE(0x20, 0x1c); // FMSBA=0x200
  d.writeUInt32LE(0x5, 0x30); // component 1: 16 MiB
  const reg = (base: number, limit: number) => (((limit >>> 12) << 16) | (base >>> 12)) >>> 0;
  d.writeUInt32LE(reg(0, 0xfff), 0x40);
  d.writeUInt32LE(reg(0x800000, 0xffffff), 0x44);
  d.writeUInt32LE(reg(0x1000, 0x7fffff), 0x48);
  d.writeUInt32LE(0x7fff, 0x4c);
  d.writeUInt32LE(0x7fff, 0x50);
  const out = Buffer.from(content);
  d.copy(out, 0);
  return out;
}

flashromTest('flashrom: stage + apply writes a whole-chip image; the read-back equals the image; rollback writes the old content back', async () => {
  const c = await chip();
  try {
    const original = await readFile(c.chip);
    const image = prngBytes(2, CHIP);
    await writeFile(join(c.dir, 'new.bin'), image);
    const s = await c.run(['stage', 'new.bin', '--allow-unsigned', '--json']);
    assert.equal(s.code, 0, s.stderr + s.stdout);
    const staged = json<{ staged: { size: number; sha256: string }; details: { chipBefore: { sha256: string }; region: null } }>(s);
    assert.equal(staged.staged.size, CHIP);
    assert.equal(staged.details.region, null);
    assert.deepEqual(await readFile(c.chip), original, 'stage does not touch the chip');

    const a = await c.run(['apply', '--json']);
    assert.equal(a.code, 0, a.stderr + a.stdout);
    const out = json<{ ok: boolean; report: { verified: boolean; blocks: { erased: number; written: number; skipped: number }; reboot: null } }>(a);
    assert.equal(out.ok, true);
    assert.equal(out.report.verified, true);
    assert.equal(out.report.blocks.erased + out.report.blocks.skipped, CHIP / 4096, 'flashrom -V listed every 4 KiB block');
    assert.equal(out.report.reboot, null, 'no reboot without --warm');
    assert.deepEqual(await readFile(c.chip), image);

    const st = json<{ staged: null; backup: { sha256: string }; lastWrite: { action: string } }>(await c.run(['status', '--json']));
    assert.equal(st.staged, null);
    assert.equal(st.backup.sha256, staged.details.chipBefore.sha256);
    assert.equal(st.lastWrite.action, 'install');
    assert.equal((await c.run(['apply'])).code, EXIT.NOT_FOUND, 'the request was consumed');

    const rb = await c.run(['rollback']);
    assert.equal(rb.code, 0, rb.stderr);
    assert.deepEqual(await readFile(c.chip), original);
  } finally {
    await c.cleanup();
  }
});

flashromTest('flashrom: one region through --layout: only that region changes', async () => {
  const c = await chip();
  try {
    const original = await readFile(c.chip);
    await writeFile(join(c.dir, 'layout.txt'), '00000000:007fffff low\n00800000:00ffffff high\n');
    const image = prngBytes(3, 8 * MiB);
    await writeFile(join(c.dir, 'high.bin'), image);
    const s = await c.run(['stage', 'high.bin', '--allow-unsigned', '--region', 'high', '--layout', 'layout.txt']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /writes\s+region high \(0x800000-0xffffff\)/);
    // fwup keeps its own copy of the layout: editing the user's file after stage cannot move the write.
    await writeFile(join(c.dir, 'layout.txt'), '00000000:00ffffff high\n');
    const a = await c.run(['apply', '--dry-run', '--json']);
    const write = json<{ plan: Array<{ kind: string; argv?: string[] }> }>(a).plan.filter((x) => x.kind === 'exec')[1]!;
    assert.deepEqual(write.argv!.slice(0, 4), ['flashrom', '-p', c.spec.slice('flashrom:'.length), '-V']);
    assert.deepEqual([write.argv![4], write.argv![6], write.argv![7], write.argv![8]], ['-l', '-i', 'high', '-N']);
    assert.match(write.argv![5]!, new RegExp(`^${join(c.dir, 'state', 'fwup', 'flashrom')}/.*/layout\\.txt$`));
    assert.equal(await readFile(write.argv![5]!, 'utf8'), '00000000:007fffff low\n00800000:00ffffff high\n');
    assert.equal((await c.run(['apply'])).code, 0);
    const after = await readFile(c.chip);
    assert.deepEqual(after.subarray(0, 8 * MiB), original.subarray(0, 8 * MiB));
    assert.deepEqual(after.subarray(8 * MiB), image);
  } finally {
    await c.cleanup();
  }
});

flashromTest('flashrom: one region through --ifd: the region comes from the chip\'s descriptor, as flashrom reads it', async () => {
  const c = await chip(withIfd(prngBytes(4, CHIP)));
  try {
    const original = await readFile(c.chip);
    assert.deepEqual(ifdRegions(original).map((r) => [r.name, r.start, r.end]), [['fd', 0, 0xfff], ['bios', 0x800000, 0xffffff], ['me', 0x1000, 0x7fffff]]);
    const bios = prngBytes(5, 8 * MiB);
    await writeFile(join(c.dir, 'bios.bin'), bios);
    await writeFile(join(c.dir, 'me-sized.bin'), prngBytes(6, 0x7ff000 - 1));
    const before = await c.snapshot();
    const wrong = await c.run(['stage', 'me-sized.bin', '--allow-unsigned', '--region', 'bios', '--ifd', '--json']);
    assert.equal(wrong.code, EXIT.POLICY, wrong.stdout);
    assert.match(json<{ error: { message: string } }>(wrong).error.message, /is 8384511 bytes but IFD region bios is 8388608 bytes/);
    assert.equal(await c.snapshot(), before);
    const s = await c.run(['stage', 'bios.bin', '--allow-unsigned', '--region', 'bios', '--ifd']);
    assert.equal(s.code, 0, s.stderr);
    const a = await c.run(['apply']);
    assert.equal(a.code, 0, a.stderr);
    const after = await readFile(c.chip);
    assert.deepEqual(after.subarray(0, 8 * MiB), original.subarray(0, 8 * MiB));
    assert.deepEqual(after.subarray(8 * MiB), bios);
  } finally {
    await c.cleanup();
  }
});

flashromTest('flashrom: wrong-size images, a missing chip, a bad programmer and bad options are clear errors with nothing written', async () => {
  const c = await chip();
  try {
    await writeFile(join(c.dir, 'small.bin'), prngBytes(7, MiB));
    await writeFile(join(c.dir, 'full.bin'), prngBytes(8, CHIP));
    await writeFile(join(c.dir, 'layout.txt'), '00000000:007fffff low\n00800000:00ffffff high\n');
    await writeFile(join(c.dir, 'commented.txt'), '# flashrom 1.3 knows no comments\n00800000:00ffffff high\n');
    await writeFile(join(c.dir, 'high.bin'), prngBytes(16, 8 * MiB));
    const missing = `flashrom:dummy:emulate=NOSUCHCHIP,image=${c.chip}`;
    const cases: Array<{ what: string; args: string[]; spec?: string; code: number; err: string; msg: RegExp }> = [
      { what: 'image smaller than the chip', args: ['small.bin', '--allow-unsigned'], code: EXIT.POLICY, err: 'IMAGE_SIZE_MISMATCH', msg: /1048576 bytes but the 16777216-byte chip is 16777216 bytes/ },
      { what: 'region image of the chip size', args: ['full.bin', '--allow-unsigned', '--region', 'low', '--layout', 'layout.txt'], code: EXIT.POLICY, err: 'IMAGE_SIZE_MISMATCH', msg: /region low is 8388608 bytes/ },
      { what: 'missing chip', args: ['full.bin', '--allow-unsigned'], spec: missing, code: EXIT.NOT_FOUND, err: 'TARGET_NOT_FOUND', msg: /found no flash chip: Invalid chip specified for emulation: NOSUCHCHIP/ },
      { what: 'unknown programmer', args: ['full.bin', '--allow-unsigned'], spec: 'flashrom:nosuchprogrammer', code: EXIT.USAGE, err: 'TARGET_INVALID', msg: /no programmer "nosuchprogrammer"/ },
      { what: 'unsigned without consent', args: ['full.bin'], code: EXIT.SIGNATURE, err: 'IMAGE_UNSIGNED', msg: /not signed/ },
      { what: 'layout without region', args: ['full.bin', '--allow-unsigned', '--layout', 'layout.txt'], code: EXIT.USAGE, err: 'USAGE', msg: /--region NAME/ },
      { what: 'a layout flashrom would reject', args: ['high.bin', '--allow-unsigned', '--region', 'high', '--layout', 'commented.txt'], code: EXIT.USAGE, err: 'USAGE', msg: /commented\.txt:1: not a layout line/ },
      { what: 'unknown region', args: ['full.bin', '--allow-unsigned', '--region', 'ec', '--layout', 'layout.txt'], code: EXIT.USAGE, err: 'USAGE', msg: /no region "ec"/ },
      { what: 'no IFD on the chip', args: ['full.bin', '--allow-unsigned', '--region', 'bios', '--ifd'], code: EXIT.TARGET, err: 'TARGET_UNSUPPORTED', msg: /no usable Intel Flash Descriptor/ },
      { what: 'a capsule', args: [join(REPO_ROOT, 'fixtures', 'capsules', 'unsigned-4k.cap'), '--allow-unsigned'], code: EXIT.TARGET, err: 'TARGET_UNSUPPORTED', msg: /not a flash image/ },
    ];
    for (const k of cases) {
      const before = await c.snapshot();
      const r = await c.run(['stage', ...k.args, '--json'], k.spec ? { spec: k.spec } : {});
      assert.equal(r.code, k.code, `${k.what}: ${r.stdout}${r.stderr}`);
      const e = json<{ error: { code: string; message: string; hint: string } }>(r).error;
      assert.equal(e.code, k.err, k.what);
      assert.match(e.message, k.msg, k.what);
      assert.ok(e.hint, `${k.what} has a hint`);
      assert.equal(await c.snapshot(), before, `${k.what}: chip and state unchanged`);
    }
  } finally {
    await c.cleanup();
  }
});

flashromTest('flashrom: a write-protected chip fails the write with a clear error; the chip and the staged request are left as they were', async () => {
  // Status register BP bits set and the WP# pin asserted: flashrom cannot unprotect, erase fails.
  const original = prngBytes(9, CHIP);
  const c = await chip(original, ',spi_status=0x9c,hwwp=yes');
  try {
    await writeFile(join(c.dir, 'new.bin'), prngBytes(10, CHIP));
    assert.equal((await c.run(['stage', 'new.bin', '--allow-unsigned'])).code, 0);
    const before = await hashTree(join(c.dir, 'chip'));
    const staged = json<{ staged: unknown }>(await c.run(['status', '--json'])).staged;
    const r = await c.run(['apply', '--json']);
    assert.equal(r.code, EXIT.TARGET, r.stdout);
    const e = json<{ error: { code: string; message: string; hint: string; details: { chip: string } } }>(r).error;
    assert.equal(e.code, 'FLASH_WRITE_PROTECTED');
    assert.match(e.hint, /disable the protection/);
    assert.match(e.hint, /the chip was not changed/);
    assert.equal(e.details.chip, 'unchanged');
    assert.equal(await hashTree(join(c.dir, 'chip')), before, 'the chip is unchanged');
    const st = json<{ staged: unknown; backup: { sha256: string }; lastWrite: { action: string } }>(await c.run(['status', '--json']));
    assert.deepEqual(st.staged, staged, 'the request stays staged');
    // The chip's content was kept durably before the write was tried (the rule for every write).
    assert.equal(st.backup.sha256, createHash('sha256').update(original).digest('hex'));
    assert.equal(st.lastWrite.action, 'failed');
  } finally {
    await c.cleanup();
  }
});

flashromTest('flashrom: a write that fails half way (chip erased, page program refused) keeps the previous content for rollback', async () => {
  // spi_blacklist=0x02: the emulated chip refuses PAGE PROGRAM, so flashrom erases and then cannot write.
  const c = await chip(prngBytes(17, CHIP), ',spi_blacklist=0x02');
  try {
    const original = await readFile(c.chip);
    await writeFile(join(c.dir, 'new.bin'), prngBytes(18, CHIP));
    assert.equal((await c.run(['stage', 'new.bin', '--allow-unsigned'])).code, 0);
    const r = await c.run(['apply', '--json']);
    assert.equal(r.code, EXIT.FAILURE, r.stdout);
    const e = json<{ error: { code: string; hint: string; details: { chip: string } } }>(r).error;
    assert.equal(e.code, 'HELPER_FAILED');
    assert.equal(e.details.chip, 'unknown state');
    assert.match(e.hint, /restore it with `fwup rollback --target flashrom:dummy:/);
    assert.notDeepEqual(await readFile(c.chip), original, 'flashrom did change the chip');
    const st = json<{ backup: { sha256: string; replacedBy: string }; staged: { size: number } | null }>(await c.run(['status', '--json']));
    // Saved before flashrom started: the content the half-finished write destroyed.
    assert.equal(st.backup.replacedBy, 'unversioned');
    const dir = join(c.dir, 'state', 'fwup', 'flashrom');
    const [name] = await readdir(dir);
    assert.deepEqual(await readFile(join(dir, name!, 'backup.bin')), original);
    assert.notEqual(st.staged, null, 'the request stays staged');
  } finally {
    await c.cleanup();
  }
});

flashromTest('flashrom: a chip changed between stage and apply is refused before any write', async () => {
  const c = await chip();
  try {
    await writeFile(join(c.dir, 'new.bin'), prngBytes(11, CHIP));
    assert.equal((await c.run(['stage', 'new.bin', '--allow-unsigned'])).code, 0);
    await writeFile(c.chip, xorByte(await readFile(c.chip), 12345, 0xff));
    const before = await c.snapshot();
    const r = await c.run(['apply']);
    assert.equal(r.code, EXIT.TARGET, r.stderr);
    assert.match(r.stderr, /the chip changed since the image was staged/);
    assert.equal(await c.snapshot(), before);
  } finally {
    await c.cleanup();
  }
});

flashromTest('flashrom: --dry-run prints the exact flashrom argv and writes, and changes nothing', async () => {
  const c = await chip();
  try {
    await writeFile(join(c.dir, 'new.bin'), prngBytes(12, CHIP));
    const before = await c.snapshot();
    const s = await c.run(['stage', 'new.bin', '--allow-unsigned', '--dry-run', '--json']);
    assert.equal(s.code, 0, s.stderr + s.stdout);
    const plan = json<{ dryRun: boolean; plan: Array<{ kind: string; argv?: string[]; path?: string }> }>(s).plan;
    const programmer = c.spec.slice('flashrom:'.length);
    assert.deepEqual(plan[0]!.argv!.slice(0, 4), ['flashrom', '-p', programmer, '-r']);
    assert.deepEqual(plan.slice(1).map((a) => [a.kind, a.path!.split('/').pop()]), [['write', 'image.bin'], ['write', 'request.json']]);
    assert.equal(await c.snapshot(), before);
    const text = await c.run(['stage', 'new.bin', '--allow-unsigned', '--dry-run']);
    assert.match(text.stdout, new RegExp(`run\\s+flashrom -p ${programmer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} -r `));

    assert.equal((await c.run(['stage', 'new.bin', '--allow-unsigned'])).code, 0);
    const staged = await c.snapshot();
    const log = join(c.dir, 'reboots.jsonl');
    const a = await c.run(['apply', '--warm', '--dry-run', '--sysroot', join(c.dir, 'no-such-root'), '--json'], { env: { FWUP_REBOOT_COMMAND: `${process.execPath} ${log}` } });
    assert.equal(a.code, 0, a.stderr + a.stdout);
    const ap = json<{ plan: Array<{ kind: string; argv?: string[] }> }>(a).plan.filter((x) => x.kind === 'exec').map((x) => x.argv!);
    assert.deepEqual(ap.map((x) => x.slice(0, 4)), [
      ['flashrom', '-p', programmer, '-r'],
      ['flashrom', '-p', programmer, '-V'],
      ['flashrom', '-p', programmer, '-r'],
      [process.execPath, log],
    ]);
    assert.equal(await c.snapshot(), staged);
  } finally {
    await c.cleanup();
  }
});

flashromTest('flashrom: apply --warm reboots through the reboot command after a verified write (mode written first)', async () => {
  const c = await chip();
  try {
    const root = join(c.dir, 'root');
    await mkdir(join(root, 'sys/kernel/reboot'), { recursive: true });
    await writeFile(join(root, 'sys/kernel/reboot/mode'), 'cold\n');
    await writeFile(join(c.dir, 'new.bin'), prngBytes(13, CHIP));
    assert.equal((await c.run(['stage', 'new.bin', '--allow-unsigned'])).code, 0);
    const log = join(c.dir, 'reboots.jsonl');
    const mode = join(root, 'sys/kernel/reboot/mode');
    const rec = join(REPO_ROOT, 'dist', 'test', 'helpers', 'record-argv.js');
    const r = await c.run(['apply', '--warm', '--sysroot', root], { env: { FWUP_REBOOT_COMMAND: JSON.stringify([process.execPath, rec, log, '--snapshot', mode]) } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /reboot\s+warm: /);
    const calls = (await readFile(log, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { snapshot: Record<string, string> });
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.snapshot[mode], 'warm\n');
  } finally {
    await c.cleanup();
  }
});

flashromTest('flashrom: progress comes from flashrom -V output, whatever way it is cut into chunks', async () => {
  const c = await chip();
  try {
    await writeFile(join(c.dir, 'new.bin'), prngBytes(14, CHIP));
    const programmer = c.spec.slice('flashrom:'.length);
    const out = execFileSync('flashrom', ['-p', programmer, '-V', '-w', join(c.dir, 'new.bin')], { encoding: 'utf8', maxBuffer: 64 * MiB });
    for (const cut of [1, 7, 4096, out.length]) {
      const seen: FlashromProgress[] = [];
      const p = new FlashromOutputParser({ start: 0, size: CHIP }, (x) => seen.push(x));
      for (let i = 0; i < out.length; i += cut) p.feed(out.slice(i, i + cut));
      p.flush();
      assert.deepEqual([...new Set(seen.map((x) => x.phase))], ['read', 'erase-write', 'verify', 'done'], `cut ${cut}`);
      const writes = seen.filter((x) => x.phase === 'erase-write' && x.done > 0);
      assert.equal(writes.length, CHIP / 4096, `cut ${cut}: one event per block`);
      assert.ok(writes.every((x, i) => i === 0 || x.done > writes[i - 1]!.done), 'progress only goes forward');
      assert.equal(writes[writes.length - 1]!.done, CHIP);
      assert.equal(p.blocks.erased, CHIP / 4096);
    }
  } finally {
    await c.cleanup();
  }
});

flashromTest('flashrom: a programmer that needs root is refused without root, and run through sudo -n with --sudo (exec injected)', async () => {
  const { dir, cleanup } = await tempDir('fwup-flashrom-root-');
  try {
    await writeFile(join(dir, 'img.bin'), prngBytes(15, 4096));
    const env = { XDG_STATE_HOME: join(dir, 'state') };
    const refused = fakeExec();
    const r = await runInProcess(['stage', 'img.bin', '--allow-unsigned', '--target', 'flashrom:internal', '--json'], dir, env, { exec: refused.exec, uid: 1000 });
    assert.equal(r.code, EXIT.PERMISSION, r.stdout);
    const e = json<{ error: { message: string; hint: string } }>(r).error;
    assert.match(e.message, /^flashrom -p internal needs root/);
    assert.match(e.hint, /--sudo to run it as: sudo -n flashrom -p internal/);
    assert.deepEqual(refused.calls, [], 'nothing ran');

    const sudo = fakeExec(() => ({ exitCode: 1, stderr: 'sudo: a password is required\n' }));
    const s = await runInProcess(['stage', 'img.bin', '--allow-unsigned', '--target', 'flashrom:internal', '--sudo', '--json'], dir, env, { exec: sudo.exec, uid: 1000 });
    assert.equal(s.code, EXIT.PERMISSION, s.stdout);
    assert.deepEqual(sudo.calls, [['sudo', '-n', 'flashrom', '-p', 'internal', '--flash-size']]);
    assert.match(json<{ error: { message: string } }>(s).error.message, /sudo -n refused to run sudo -n flashrom -p internal --flash-size/);

    const asRoot = fakeExec(() => ({ exitCode: 0, stdout: '8388608\n' }));
    const t = await runInProcess(['stage', 'img.bin', '--allow-unsigned', '--target', 'flashrom:internal', '--json'], dir, env, { exec: asRoot.exec, uid: 0 });
    assert.equal(t.code, EXIT.POLICY, t.stdout);
    assert.deepEqual(asRoot.calls, [['flashrom', '-p', 'internal', '--flash-size']], 'as root: flashrom directly, and the size check stops before the read');

    const missing = fakeExec(() => ({ exitCode: null, spawnError: 'ENOENT' }));
    const m = await runInProcess(['stage', 'img.bin', '--allow-unsigned', '--target', 'flashrom:dummy', '--json'], dir, env, { exec: missing.exec, uid: 0 });
    assert.equal(m.code, EXIT.NOT_FOUND, m.stdout);
    assert.match(json<{ error: { message: string; hint: string } }>(m).error.hint, /apt-get install flashrom/);
  } finally {
    await cleanup();
  }
});

flashromTest('flashrom: a real non-root user gets PERMISSION_DENIED for flashrom:internal before anything runs', async () => {
  const { dir, cleanup } = await tempDir('fwup-flashrom-user-');
  try {
    await writeFile(join(dir, 'img.bin'), prngBytes(19, 4096));
    await mkdir(join(dir, 'state'));
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    if (asUser.uid !== undefined) {
      await chmod(dir, 0o755);
      await chown(join(dir, 'state'), asUser.uid, asUser.gid);
    }
    const before = await hashTree(dir);
    const r = await fwup(['stage', 'img.bin', '--allow-unsigned', '--target', 'flashrom:internal'], { cwd: dir, env: { XDG_STATE_HOME: join(dir, 'state') }, ...asUser });
    assert.equal(r.code, EXIT.PERMISSION, r.stderr);
    assert.match(r.stderr, /error: flashrom -p internal needs root \(the programmer drives the hardware directly\) and fwup is not running as root/);
    assert.match(r.stderr, /hint: .*sudo -n flashrom -p internal/);
    assert.equal(await hashTree(dir), before);
  } finally {
    await cleanup();
  }
});
