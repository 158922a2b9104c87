import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT } from '../src/errors/exit-codes.js';
import { REPO_ROOT, fwup, hashTree, json, tempDir } from './helpers/cli.js';
import { initMachine } from './helpers/machine.js';
import { makeSysroot } from './helpers/sysroot.js';

const IMG = join(REPO_ROOT, 'fixtures', 'images', 'fw-2.0.0-signed.fwup');

interface Targets {
  emu: Array<{ spec: string; isDefault: boolean; cpus: number; firmware: string; staged: string | null; error: string | null }>;
  flashrom: { found: boolean; version: string | null };
  uefi: { available: boolean; esrt: Array<{ name: string; fwClass: string; fwType: string; fwVersion: number }> | null; loader: string | null; capsuleOnDisk: boolean; esp: string | null };
}

test('targets: lists the default machine and the ones beside it, flashrom and its version, and the sysroot\'s ESRT', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    let r = await fwup(['targets', '--json', '--sysroot', join(dir, 'nothing')], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    let t = json<Targets>(r);
    assert.deepEqual(t.emu, [], 'no machine yet, and none is created by listing');
    assert.equal(t.flashrom.found, true);
    assert.ok(t.flashrom.version, 'flashrom reports a version string');
    assert.equal(t.uefi.available, false);

    assert.equal((await fwup(['machine', 'init', '--flash-size', '4M'], { cwd: dir })).code, 0);
    await initMachine(join(dir, '.fwup'), ['--cpus', '3']); // .fwup/m, beside the default (the last --cpus wins)
    assert.equal((await fwup(['stage', IMG], { cwd: dir })).code, 0);
    const root = await makeSysroot(join(dir, 'root'), {
      esrt: [{ fwClass: '050B1160-7519-4C47-A2DE-1C97EA5F5406', fwVersion: 0x200 }, { fwClass: 'B9013687-CD7C-4981-AFD7-255F0F32FE17', fwType: 2, fwVersion: 7 }],
      loader: 'none',
      osIndicationsSupported: 0x4n,
    });
    r = await fwup(['targets', '--json', '--sysroot', root], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    t = json<Targets>(r);
    assert.deepEqual(
      t.emu.map((m) => [m.spec, m.isDefault, m.cpus, m.staged, m.error]),
      [
        [`emu:${join(dir, '.fwup/machine')}`, true, 4, '2.0.0', null],
        [`emu:${join(dir, '.fwup/m')}`, false, 3, null, null],
      ],
    );
    assert.equal(t.uefi.available, true);
    assert.deepEqual(t.uefi.esrt!.map((e) => [e.name, e.fwClass, e.fwType, e.fwVersion]), [
      ['entry0', '050B1160-7519-4C47-A2DE-1C97EA5F5406', 'system-firmware', 0x200],
      ['entry1', 'B9013687-CD7C-4981-AFD7-255F0F32FE17', 'device-firmware', 7],
    ]);
    assert.equal(t.uefi.loader, null);
    assert.equal(t.uefi.capsuleOnDisk, true);
    assert.equal(t.uefi.esp, join(root, 'boot/efi'));
    const text = await fwup(['targets', '--sysroot', root], { cwd: dir });
    assert.match(text.stdout, /emu:.*\.fwup\/machine \(default\)\s+4 CPUs/);
    assert.match(text.stdout, /entry1\s+B9013687-CD7C-4981-AFD7-255F0F32FE17\s+device-firmware/);
  } finally {
    await cleanup();
  }
});

test('emu: stage --dry-run and apply --dry-run list the flash regions and leave the machine byte-identical', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const target = await initMachine(dir);
    const before = await hashTree(join(dir, 'm'));
    const s = await fwup(['stage', IMG, '--dry-run', '--json', '--target', target], { cwd: dir });
    assert.equal(s.code, 0, s.stderr);
    const plan = json<{ dryRun: boolean; plan: Array<{ kind: string; region: string; length: number }> }>(s);
    assert.equal(plan.dryRun, true);
    assert.deepEqual(plan.plan.map((a) => [a.kind, a.region]), [['flash', 'STAGING'], ['flash', 'NVRAM']]);
    assert.equal(plan.plan[0]!.length, (await import('node:fs')).statSync(IMG).size);
    assert.equal(await hashTree(join(dir, 'm')), before);
    const text = await fwup(['stage', IMG, '--dry-run', '--target', target], { cwd: dir });
    assert.match(text.stdout, /dry run: nothing was changed/);
    assert.match(text.stdout, /flash\s+STAGING at 0x/);

    const none = await fwup(['apply', '--dry-run', '--target', target], { cwd: dir });
    assert.equal(none.code, EXIT.NOT_FOUND, none.stderr);
    assert.equal((await fwup(['stage', IMG, '--target', target], { cwd: dir })).code, 0);
    const staged = await hashTree(join(dir, 'm'));
    const a = await fwup(['apply', '--warm', '--dry-run', '--json', '--target', target], { cwd: dir });
    assert.equal(a.code, 0, a.stderr);
    const ap = json<{ plan: Array<{ kind: string; region?: string }> }>(a).plan;
    assert.deepEqual(ap.filter((x) => x.kind === 'flash').map((x) => x.region), ['SLOT_B', 'NVRAM']);
    assert.equal(await hashTree(join(dir, 'm')), staged);
  } finally {
    await cleanup();
  }
});

test('start-up: execa is loaded only when a helper runs (--version, emulated stage and uefi status never load it)', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const hook = join(dir, 'refuse-execa.mjs');
    const resolver = "export async function resolve(s, c, next) { if (s === 'execa') throw new Error('REFUSED ' + s); return next(s, c); }";
    await writeFile(hook, `import { register } from 'node:module';\nregister('data:text/javascript,' + encodeURIComponent(${JSON.stringify(resolver)}));\n`);
    const env = { NODE_OPTIONS: `--import=${hook}` };
    const root = await makeSysroot(join(dir, 'root'), { esrt: [{ fwClass: '050B1160-7519-4C47-A2DE-1C97EA5F5406', fwVersion: 1 }], loader: 'file', osIndicationsSupported: null });
    let r = await fwup(['--version'], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    r = await fwup(['stage', IMG], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    r = await fwup(['status', '--target', 'uefi', '--sysroot', root], { cwd: dir, env: { ...env, XDG_STATE_HOME: join(dir, 'state') } });
    assert.equal(r.code, 0, r.stderr);
    r = await fwup(['targets'], { cwd: dir, env });
    assert.equal(r.code, EXIT.INTERNAL, 'the hook really refuses execa: listing targets runs flashrom');
    assert.match(r.stderr, /REFUSED execa/);
  } finally {
    await cleanup();
  }
});
