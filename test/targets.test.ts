import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT } from '../src/errors/exit-codes.js';
import { REPO_ROOT, fwup, hashTree, json, tempDir } from './helpers/cli.js';
import { stagedRegion, STRATEGIES } from './helpers/strategies.js';
import { initMachine } from './helpers/machine.js';
import { makeSysroot } from './helpers/sysroot.js';
import { FLASHROM } from './helpers/requirements.js';

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
    // Whether flashrom is here is a fact of this host: the listing must agree with it.
    assert.equal(t.flashrom.found, FLASHROM().ok);
    if (t.flashrom.found) assert.ok(t.flashrom.version, 'flashrom reports a version string');
    else assert.equal(t.flashrom.version, null);
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

for (const install of STRATEGIES) {
  test(`emu: stage --dry-run and apply --dry-run print the plan of the real code path: it equals what a real run on a copy wrote, and nothing changes [${install}]`, async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const target = await initMachine(dir, ['--install', install]);
        const region = stagedRegion(install);
      const m = join(dir, 'm');
      type Plan = { dryRun: boolean; plan: Array<{ kind: string; region?: string; offset?: number; length?: number; purpose: string }> };
      const flashOps = (p: Plan['plan']) => p.filter((a) => a.kind === 'flash').map((a) => [a.region, a.offset, a.length, a.purpose]);
      const before = await hashTree(m);
      const s = await fwup(['stage', IMG, '--dry-run', '--json', '--target', target], { cwd: dir });
      assert.equal(s.code, 0, s.stderr);
      const plan = json<Plan>(s);
      assert.equal(plan.dryRun, true);
      assert.equal(await hashTree(m), before, 'a dry run writes nothing');
      const staging = plan.plan.find((a) => a.region === region)!;
      assert.equal(staging.length, (await import('node:fs')).statSync(IMG).size, `the whole image goes into ${region}`);
      assert.ok(plan.plan.some((a) => a.region === 'NVRAM'), 'then the request into NVRAM');
      // The same command for real, on a copy: the operations it performed are the plan printed.
      await cp(m, join(dir, 'copy'), { recursive: true });
      const real = await fwup(['stage', IMG, '--json', '--target', `emu:${join(dir, 'copy')}`], { cwd: dir });
      assert.equal(real.code, 0, real.stdout);
      assert.deepEqual(flashOps(json<Plan>(real).plan), flashOps(plan.plan));
      const text = await fwup(['stage', IMG, '--dry-run', '--target', target], { cwd: dir });
      assert.match(text.stdout, /dry run: nothing was changed/);
      assert.match(text.stdout, new RegExp(`flash\\s+${region} at 0x`));

      const none = await fwup(['apply', '--dry-run', '--target', target], { cwd: dir });
      assert.equal(none.code, EXIT.NOT_FOUND, none.stderr);
      assert.equal((await fwup(['stage', IMG, '--target', target], { cwd: dir })).code, 0);
      const staged = await hashTree(m);
      await cp(m, join(dir, 'copy2'), { recursive: true });
      const a = await fwup(['apply', '--warm', '--dry-run', '--json', '--target', target], { cwd: dir });
      assert.equal(a.code, 0, a.stderr);
      const ap = json<Plan>(a).plan;
      const imageSize = (await import('node:fs')).statSync(IMG).size;
      if (install === 'copy') assert.ok(ap.some((x) => x.region === 'SLOT_B' && x.length === imageSize), 'the firmware would write the image into slot B');
      else assert.ok(!ap.some((x) => x.region === 'SLOT_A' || x.region === 'SLOT_B'), 'staged in place: the firmware writes no slot');
      assert.ok(ap.some((x) => x.region === 'BOOTREC'), 'and activate it in the boot record');
      assert.ok(ap.some((x) => x.region === 'RECOVERY'), 'and, once confirmed, refresh the recovery copy');
      assert.equal(await hashTree(m), staged, 'a dry run of the whole method writes nothing');
      const ra = await fwup(['apply', '--warm', '--json', '--target', `emu:${join(dir, 'copy2')}`], { cwd: dir });
      assert.equal(ra.code, 0, ra.stdout);
      assert.deepEqual(flashOps(json<Plan>(ra).plan), flashOps(ap));
    } finally {
      await cleanup();
    }
  });
}

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
