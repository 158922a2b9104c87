import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { quietContext, type Context } from '../src/core/context.js';
import { stage } from '../src/core/stage.js';
import { apply } from '../src/core/apply.js';
import { unstage } from '../src/core/status.js';
import type { PlannedAction } from '../src/targets/plan.js';
import { fwup, json, prngBytes, tempDir } from './helpers/cli.js';
import { makeSysroot, readVar } from './helpers/sysroot.js';
import { FLASHROM, needs } from './helpers/requirements.js';

const SYS_FW = '050B1160-7519-4C47-A2DE-1C97EA5F5406';
const DEV_FW = '969DFDB3-EEDA-47C5-899E-698081F8189F';
const CHIP = 16 << 20;

/** A context like the CLI's for a sysroot and state directory, calling `after` after every action a target performs. */
function hostContext(dir: string, root: string, after?: (a: PlannedAction) => void): Context {
  return { ...quietContext(dir), sysroot: root, stateDir: join(dir, 'state', 'fwup'), isRoot: true, ...(after ? { afterAction: after } : {}) };
}

/** A crash leaves the lock of a process that is gone: what the snapshots hold instead of ours. */
function deadLocks(stateDir: string): void {
  for (const e of readdirSync(stateDir, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && e.name === 'lock') writeFileSync(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name), '999999999\n');
  }
}

/** The same plan with process ids (in temporary file names) blanked, so two runs compare. */
const normalize = (plan: PlannedAction[]) => JSON.parse(JSON.stringify(plan).replace(/-\d+\.tmp/g, '-PID.tmp')) as PlannedAction[];

interface UefiWorld {
  root: string;
  cap: string;
  env: Record<string, string>;
  run: (a: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;
  /** With two ESRT entries: the other entry's capsule, staged before the sweep, which must come through untouched. */
  other: { cap: string; file: string } | null;
}

/** A sysroot with one ESRT entry, or two (then the second entry's capsule is staged first). */
async function uefiWorld(dir: string, entries: 1 | 2 = 1): Promise<UefiWorld> {
  const esrt = [{ fwClass: SYS_FW, fwVersion: 0x200, lowestSupportedFwVersion: 0x100 }, { fwClass: DEV_FW, fwVersion: 0x300 }].slice(0, entries);
  const root = await makeSysroot(join(dir, 'root'), { esrt, loader: 'none', osIndicationsSupported: 0x5n });
  await mkdir(join(dir, 'state'));
  const pack = async (guid: string, version: string, name: string, seed: number) => {
    await writeFile(join(dir, `${name}.bin`), prngBytes(seed, 4096));
    const r = await fwup(['pack', `${name}.bin`, '-o', `${name}.cap`, '--format', 'capsule', '--guid', guid, '--version', version, '--capflag', 'PersistAcrossReset'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    return join(dir, `${name}.cap`);
  };
  const cap = await pack(SYS_FW, '0x20A', 'fw', 5);
  const env = { XDG_STATE_HOME: join(dir, 'state') };
  const run = (a: string[]) => fwup([...a, '--target', 'uefi', '--sysroot', root], { cwd: dir, env });
  let other: UefiWorld['other'] = null;
  if (entries === 2) {
    other = { cap: await pack(DEV_FW, '0x301', 'dev', 6), file: join(root, 'boot/efi/EFI/UpdateCapsule', `fwup-${DEV_FW.toLowerCase()}.cap`) };
    const r = await run(['stage', other.cap, '--allow-unsigned']);
    assert.equal(r.code, 0, r.stderr);
  }
  return { root, cap, env, run, other };
}

for (const entries of [1, 2] as const) {
  const also = entries === 2 ? 'two ESRT entries: the other entry\'s capsule comes through untouched' : 'one ESRT entry';
  test(`uefi: a crash after any write of a stage leaves nothing unexplained: status says so, unstage undoes it all, a new stage works (${also})`, async () => {
    const { dir, cleanup } = await tempDir('fwup-sweep-');
    try {
      const w = await uefiWorld(dir, entries);
      const snaps: string[] = [];
      const ctx = hostContext(dir, w.root, () => {
        const s = join(dir, `snap-${snaps.length}`);
        cpSync(w.root, join(s, 'root'), { recursive: true });
        cpSync(join(dir, 'state'), join(s, 'state'), { recursive: true });
        snaps.push(s);
      });
      await stage(ctx, w.cap, { target: 'uefi', allowOlder: false, allowUnsigned: true, allowReinstall: false });
      assert.ok(snaps.length >= (w.other ? 3 : 4), `${snaps.length} crash points`);
      const capsules = () => (existsSync(join(w.root, 'boot/efi/EFI/UpdateCapsule')) ? readdirSync(join(w.root, 'boot/efi/EFI/UpdateCapsule')) : []);
      const state = () => readdirSync(join(dir, 'state', 'fwup', 'uefi', readdirSync(join(dir, 'state', 'fwup', 'uefi'))[0]!)).filter((n) => n.endsWith('.json'));
      const otherBytes = w.other ? readFileSync(w.other.cap) : null;
      for (const [k, s] of snaps.entries()) {
        rmSync(w.root, { recursive: true });
        rmSync(join(dir, 'state'), { recursive: true });
        cpSync(join(s, 'root'), w.root, { recursive: true });
        cpSync(join(s, 'state'), join(dir, 'state'), { recursive: true });
        deadLocks(join(dir, 'state'));
        const st = await w.run(['status', '--json']);
        assert.equal(st.code, 0, `after write ${k}: ${st.stdout}`);
        const view = json<{ staged: unknown; warnings: string[] }>(st);
        if (state().some((n) => n.startsWith('intent'))) assert.ok(view.warnings.some((x) => /cut before the capsule was fully delivered/.test(x)), `after write ${k}: status tells`);
        const u = await w.run(['unstage', '--json', ...(w.other ? ['--component', SYS_FW] : [])]);
        assert.ok(u.code === 0 || u.code === 2, `after write ${k}: ${u.stdout}`);
        if (w.other) {
          assert.deepEqual(capsules(), [w.other.file.split('/').pop()], `after write ${k}: only the other entry's capsule is left on the ESP`);
          assert.deepEqual(readFileSync(w.other.file), otherBytes, `after write ${k}: the other entry's capsule is byte for byte as staged`);
          assert.equal((await readVar(w.root, 'OsIndications'))?.value, 0x4n, `after write ${k}: OsIndications still asks for it`);
          assert.deepEqual(state(), [`request-${DEV_FW}.json`], `after write ${k}: the other entry's request alone is left`);
        } else {
          assert.deepEqual(capsules(), [], `after write ${k}: no capsule is left on the ESP`);
          assert.equal(await readVar(w.root, 'OsIndications'), null, `after write ${k}: OsIndications is back as fwup found it (absent)`);
          assert.deepEqual(state(), [], `after write ${k}: no record left`);
        }
        const again = await w.run(['stage', w.cap, '--allow-unsigned']);
        assert.equal(again.code, 0, `after write ${k}: ${again.stderr}`);
      }
      console.log(`uefi stage crash sweep (${entries} ESRT entr${entries === 1 ? 'y' : 'ies'}): ${snaps.length} crash points, each explained and undone`);
    } finally {
      await cleanup();
    }
  });

  test(`uefi: a crash after any write of an unstage is finished by the next unstage (${entries === 2 ? 'two ESRT entries\' capsules' : 'one ESRT entry'})`, async () => {
    const { dir, cleanup } = await tempDir('fwup-sweep-');
    try {
      const w = await uefiWorld(dir, entries);
      const pristineOf = join(dir, 'pristine');
      assert.equal((await w.run(['stage', w.cap, '--allow-unsigned'])).code, 0);
      const snaps: string[] = [];
      const ctx = hostContext(dir, w.root, () => {
        const s = join(dir, `snap-${snaps.length}`);
        cpSync(w.root, join(s, 'root'), { recursive: true });
        cpSync(join(dir, 'state'), join(s, 'state'), { recursive: true });
        snaps.push(s);
      });
      await unstage(ctx, { target: 'uefi', dryRun: false });
      cpSync(w.root, pristineOf, { recursive: true });
      assert.ok(snaps.length >= (w.other ? 5 : 3), `${snaps.length} crash points`);
      const tree = (root: string) => readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => `${join(e.parentPath, e.name).slice(root.length)}:${readFileSync(join(e.parentPath, e.name)).toString('hex')}`).sort();
      for (const [k, s] of snaps.entries()) {
        rmSync(w.root, { recursive: true });
        rmSync(join(dir, 'state'), { recursive: true });
        cpSync(join(s, 'root'), w.root, { recursive: true });
        cpSync(join(s, 'state'), join(dir, 'state'), { recursive: true });
        deadLocks(join(dir, 'state'));
        const u = await w.run(['unstage', '--json']);
        assert.ok(u.code === 0 || u.code === 2, `after write ${k}: ${u.stdout}`);
        assert.deepEqual(tree(w.root), tree(pristineOf), `after write ${k}: the sysroot is as fwup found it (no capsule, OsIndications absent)`);
        assert.equal(await readVar(w.root, 'OsIndications'), null, `after write ${k}`);
      }
      console.log(`uefi unstage crash sweep (${entries} ESRT entr${entries === 1 ? 'y' : 'ies'}): ${snaps.length} crash points, each finished by the next unstage`);
    } finally {
      await cleanup();
    }
  });

  test(`uefi: --dry-run plans exactly what the real run then does (${entries === 2 ? 'with another entry\'s capsule staged' : 'one ESRT entry'})`, async () => {
    const { dir, cleanup } = await tempDir('fwup-sweep-');
    try {
      const w = await uefiWorld(dir, entries);
      const d = await w.run(['stage', w.cap, '--allow-unsigned', '--dry-run', '--json']);
      assert.equal(d.code, 0, d.stdout);
      const r = await w.run(['stage', w.cap, '--allow-unsigned', '--json']);
      assert.equal(r.code, 0, r.stdout);
      assert.deepEqual(normalize(json<{ plan: PlannedAction[] }>(r).plan), normalize(json<{ plan: PlannedAction[] }>(d).plan));
      const da = await w.run(['apply', '--json', '--dry-run']);
      const ra = await w.run(['apply', '--json']);
      assert.equal(ra.code, 0, ra.stdout);
      assert.deepEqual(normalize(json<{ plan: PlannedAction[] }>(ra).plan), normalize(json<{ plan: PlannedAction[] }>(da).plan));
      if (entries === 2) assert.equal(json<{ plan: PlannedAction[] }>(ra).plan.filter((a) => a.kind === 'write' && 'path' in a && /pending-/.test(a.path)).length, 2, 'apply hands over both');
    } finally {
      await cleanup();
    }
  });
}

async function flashromWorld(dir: string, content: Buffer) {
  const chip = join(dir, 'chip', 'chip.bin');
  mkdirSync(join(dir, 'chip'));
  mkdirSync(join(dir, 'state'));
  await writeFile(chip, content);
  const spec = `flashrom:dummy:emulate=W25Q128FV,image=${chip}`;
  const env = { XDG_STATE_HOME: join(dir, 'state') };
  return { chip, spec, run: (a: string[]) => fwup([...a, '--target', spec], { cwd: dir, env }) };
}

test('flashrom: --dry-run plans exactly what the real stage and apply then do', async (t) => {
  if (!needs(t, FLASHROM())) return;
  const { dir, cleanup } = await tempDir('fwup-sweep-');
  try {
    const w = await flashromWorld(dir, prngBytes(41, CHIP));
    await writeFile(join(dir, 'new.bin'), prngBytes(42, CHIP));
    for (const cmd of [['stage', 'new.bin', '--allow-unsigned'], ['apply']]) {
      const d = await w.run([...cmd, '--dry-run', '--json']);
      assert.equal(d.code, 0, d.stdout);
      const r = await w.run([...cmd, '--json']);
      assert.equal(r.code, 0, r.stdout);
      assert.deepEqual(normalize(json<{ plan: PlannedAction[] }>(r).plan), normalize(json<{ plan: PlannedAction[] }>(d).plan), cmd[0]);
    }
  } finally {
    await cleanup();
  }
});

test('flashrom: a crash after any step of an apply leaves the way back: the previous content is saved before the chip changes', async (t) => {
  if (!needs(t, FLASHROM())) return;
  const { dir, cleanup } = await tempDir('fwup-sweep-');
  try {
    const original = prngBytes(51, CHIP);
    const w = await flashromWorld(dir, original);
    await writeFile(join(dir, 'new.bin'), prngBytes(52, CHIP));
    assert.equal((await w.run(['stage', 'new.bin', '--allow-unsigned'])).code, 0);
    const snaps: Array<{ dir: string; action: string }> = [];
    const ctx = hostContext(dir, '/', (a) => {
      const s = join(dir, `snap-${snaps.length}`);
      cpSync(join(dir, 'chip'), join(s, 'chip'), { recursive: true });
      cpSync(join(dir, 'state'), join(s, 'state'), { recursive: true });
      const label = a.kind === 'exec' ? `flashrom ${a.argv.slice(3).map((x) => x.split('/').pop()).join(' ')}` : `${a.kind} ${'path' in a ? a.path.split('/').pop() : ''}`;
      snaps.push({ dir: s, action: label });
    });
    await apply(ctx, { target: w.spec, mode: 'warm', timeoutMs: 10_000, confirm: true });
    let changed = 0;
    for (const s of snaps) {
      rmSync(join(dir, 'chip'), { recursive: true });
      rmSync(join(dir, 'state'), { recursive: true });
      cpSync(join(s.dir, 'chip'), join(dir, 'chip'), { recursive: true });
      cpSync(join(s.dir, 'state'), join(dir, 'state'), { recursive: true });
      deadLocks(join(dir, 'state'));
      assert.equal((await w.run(['status'])).code, 0, `after ${s.action}`);
      if (readFileSync(w.chip).equals(original)) continue;
      changed++;
      // The chip changed: its previous content was saved before, and rollback writes it back.
      const rb = await w.run(['rollback', '--json']);
      assert.equal(rb.code, 0, `after ${s.action}: ${rb.stdout}`);
      assert.ok(readFileSync(w.chip).equals(original), `after ${s.action}: rollback restored the chip`);
    }
    assert.ok(changed > 0 && snaps.length >= 5, `${snaps.length} crash points, ${changed} after the chip changed`);
    console.log(`flashrom apply crash sweep: ${snaps.length} crash points (${snaps.map((s) => s.action).join(' | ')}); ${changed} after the write, each rolled back to the original`);
  } finally {
    await cleanup();
  }
});

test('host state: temporary files a killed fwup left behind are removed by the next command, which says so; those of a live process stay', async () => {
  const { dir, cleanup } = await tempDir('fwup-sweep-');
  try {
    const w = await uefiWorld(dir);
    assert.equal((await w.run(['stage', w.cap, '--allow-unsigned'])).code, 0);
    const base = join(dir, 'state', 'fwup', 'uefi');
    const sub = join(base, readdirSync(base)[0]!);
    writeFileSync(join(sub, '.backup-999999999.tmp'), Buffer.alloc(1 << 20)); // a 1 MiB read left by a kill -9
    writeFileSync(join(sub, '.request.json.999999998.tmp'), '{');
    writeFileSync(join(sub, `.image-${process.pid}.tmp`), 'still being written');
    const r = await w.run(['unstage']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /removed 2 temporary files left by a fwup that was killed/);
    assert.deepEqual(readdirSync(sub).filter((n) => n.endsWith('.tmp')), [`.image-${process.pid}.tmp`]);
  } finally {
    await cleanup();
  }
});
