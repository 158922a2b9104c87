import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FwupError } from '../src/errors/fwup-error.js';
import { MemoryFlash } from '../src/storage/memory-flash.js';
import { REGION_NAMES } from '../src/storage/flash-map.js';
import { VARIABLE } from '../src/storage/variables.js';
import { chipOf } from '../src/machine/chip.js';
import { runtimeLocks } from '../src/machine/firmware/firmware-view.js';
import { fwup, json, REPO_ROOT, tempDir } from './helpers/cli.js';
import { initMachine } from './helpers/machine.js';
import { asFirmware, makeMemoryMachine, memoryPlatform } from './helpers/memory-platform.js';
import { STRATEGIES } from './helpers/strategies.js';

const FIX = join(REPO_ROOT, 'fixtures');
const PEM = readFileSync(join(FIX, 'keys', 'test-release.pub'), 'utf8');
const SIGNED2 = join(FIX, 'images', 'fw-2.0.0-signed.fwup');
const SIGNED3 = join(FIX, 'images', 'fw-3.0.0-signed.fwup');
const KEY = join(FIX, 'keys', 'test-release.pub');

const protectedCode = (e: unknown) => e instanceof FwupError && e.code === 'FLASH_WRITE_PROTECTED';

test('boundary: the OS view refuses every write outside STAGING and the variable service every firmware variable; nothing changes', () => {
  const m = makeMemoryMachine({ trustPem: [PEM] });
  const flash = new MemoryFlash(m.config.flash, m.chip);
  const p = memoryPlatform(m.config, flash);
  const before = flash.snapshot();
  const b = m.config.flash.blockSize;
  let refused = 0;
  for (const name of REGION_NAMES) {
    const r = p.map[name];
    if (name === 'STAGING') continue;
    for (const at of [r.offset, r.offset + r.size - b]) {
      assert.throws(() => p.flash.program(at + 7, Buffer.of(0)), protectedCode, `program ${name}`);
      assert.throws(() => p.flash.erase(at, b), protectedCode, `erase ${name}`);
      refused += 2;
    }
  }
  // A write that starts in STAGING and runs past its end is refused whole.
  assert.throws(() => p.flash.program(p.map.STAGING.offset + p.map.STAGING.size - 2, Buffer.alloc(4, 0)), protectedCode);
  assert.ok(flash.snapshot().equals(before), 'every refused write changed nothing');
  // Firmware state through the variable service: refused; the update request: allowed.
  for (const name of [VARIABLE.LAST_ATTEMPT, 'History.00', 'BootState', 'SecurityVersion', 'Anything']) {
    assert.throws(() => p.services.setVariable(name, Buffer.alloc(8)), protectedCode, name);
    assert.throws(() => p.services.deleteVariable(name), protectedCode, name);
  }
  assert.ok(flash.snapshot().equals(before));
  p.flash.program(p.map.STAGING.offset, Buffer.alloc(16, 0x11));
  // The firmware's own view writes nothing while the OS runs (no SMM entry), and a locked region stays
  // locked even for the firmware until the next reset.
  const chip = chipOf(p);
  assert.throws(() => chip.controller.firmware.program(p.map.BOOTREC.offset + 4000, Buffer.of(0)), protectedCode);
  assert.throws(() => asFirmware(p, (v) => v.flash.erase(p.map.SLOT_A.offset, b)), (e: unknown) => protectedCode(e) && /locked until the next reset/.test((e as Error).message));
  assert.deepEqual(chip.controller.lockedRegions().map((r) => r.name), runtimeLocks(p.map).map((r) => r.name));
  chip.controller.reset();
  asFirmware(p, (v) => v.flash.program(p.map.SLOT_B.offset + p.map.SLOT_B.size - 1, Buffer.of(0xfe)));
  console.log(`boundary: ${refused} OS-view writes outside STAGING refused, 10 firmware-variable writes refused`);
});

for (const install of STRATEGIES) {
  test(`boundary: every OS-side code path of every command writes only what the OS may (STAGING; in place, the slot the firmware opened); everything else comes from the firmware (audited through the CLI) [${install}]`, async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const t = await initMachine(dir, ['--trust', KEY, '--install', install]);
      // In place the OS also writes the inactive slot, which the firmware opened to it (never the active one: test/in-place.test.ts).
      const osRegions = install === 'copy' ? ['STAGING'] : ['STAGING', 'SLOT_A', 'SLOT_B'];
      const audit = join(dir, 'audit.jsonl');
      const env = { FWUP_EMU_AUDIT: audit };
      const run = async (args: string[], code = 0) => {
        const r = await fwup([...args, '--target', t], { cwd: dir, env });
        assert.equal(r.code, code, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      };
      await run(['stage', SIGNED2]);
      await run(['status']);
      await run(['unstage']);
      await run(['stage', SIGNED2]);
      await run(['apply', '--warm', '--no-confirm']);
      await run(['rollback']);
      await run(['stage', SIGNED3]);
      await run(['apply', '--cold']);
      await run(['history']);
      await run(['machine', 'boot']);
      await run(['stage', SIGNED2, '--allow-older'], 8); // below the security version: refused, nothing written
      await run(['machine', 'start']);
      try {
        await run(['stage', join(FIX, 'images', 'fw-3.0.0-signed.fwup'), '--allow-reinstall']);
        await run(['apply', '--warm']);
      } finally {
        await run(['machine', 'stop']);
      }
      const writes = (await readFile(audit, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { op: string; region: string; mode: string; view: string });
      const byRegion = new Map<string, number>();
      for (const w of writes) {
        byRegion.set(`${w.region}/${w.view}`, (byRegion.get(`${w.region}/${w.view}`) ?? 0) + 1);
        if (w.view === 'os') assert.ok(osRegions.includes(w.region), `an OS-view write outside ${osRegions.join(', ')}: ${JSON.stringify(w)}`);
        if (!osRegions.includes(w.region)) assert.ok(w.view === 'firmware' && w.mode === 'firmware', `a write of ${w.region} not by the firmware: ${JSON.stringify(w)}`);
      }
      // The audit is not vacuous: the OS wrote STAGING, the firmware its records and slots.
      for (const k of install === 'copy' ? ['STAGING/os', 'BOOTREC/firmware', 'NVRAM/firmware', 'SLOT_B/firmware', 'RECOVERY/firmware'] : ['SLOT_B/os', 'SLOT_A/os', 'BOOTREC/firmware', 'NVRAM/firmware', 'RECOVERY/firmware']) assert.ok(byRegion.has(k), `${k} in the audit`);
      console.log(`boundary audit [${install}]: ${writes.length} writes, ${JSON.stringify(Object.fromEntries(byRegion))}`);
    } finally {
      await fwup(['machine', 'stop', '--target', `emu:${join(dir, 'm')}`], { cwd: dir });
      await cleanup();
    }
  });
}

test('boundary: machine.json holds the hardware only; a hand edit that grants trust changes nothing, one that changes the hardware is refused', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir, ['--trust', KEY]);
    const path = join(dir, 'm', 'machine.json');
    const original = await readFile(path, 'utf8');
    const cfg = JSON.parse(original) as Record<string, unknown>;
    assert.deepEqual(Object.keys(cfg).sort(), ['cpus', 'createdAt', 'flash', 'format', 'install', 'ramBytes', 'version']);
    // The old way to grant trust: development, and a key of one's own.
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path, JSON.stringify({ ...cfg, development: true, trustedKeys: [{ name: 'mine', keyId: '0'.repeat(16), pem: 'x' }] }));
    await writeFile(join(dir, 'raw.bin'), Buffer.alloc(4096, 7));
    const r = await fwup(['stage', join(dir, 'raw.bin'), '--version', '9', '--allow-unsigned', '--target', t, '--json'], { cwd: dir });
    assert.equal(r.code, 7, r.stdout);
    assert.equal(json<{ error: { code: string } }>(r).error.code, 'IMAGE_UNSIGNED');
    const st = json<{ machine: { development: boolean }; warnings: string[] }>(await fwup(['status', '--json', '--target', t], { cwd: dir }));
    assert.equal(st.machine.development, false, 'trust comes from the key store');
    assert.ok(st.warnings.some((w) => /fields fwup does not read \(development, trustedKeys\)/.test(w)), st.warnings.join('\n'));
    // Changing the hardware description is damage to the machine: the target code, and nothing written.
    await writeFile(path, JSON.stringify({ ...cfg, cpus: 8 }));
    const x = await fwup(['stage', SIGNED2, '--target', t, '--json'], { cwd: dir });
    assert.equal(x.code, 10, x.stdout);
    assert.match(json<{ error: { message: string } }>(x).error.message, /machine was made with/);
    // An out-of-range value is damage too (exit 10), not a usage error.
    await writeFile(path, JSON.stringify({ ...cfg, ramBytes: 2 ** 40 }));
    const y = await fwup(['status', '--json', '--target', t], { cwd: dir });
    assert.equal(y.code, 10, y.stdout);
    // So is switching the install strategy: it was provisioned into the key store with the trust anchors.
    await writeFile(path, JSON.stringify({ ...cfg, install: cfg.install === 'copy' ? 'in-place' : 'copy' }));
    const z = await fwup(['stage', SIGNED2, '--target', t, '--json'], { cwd: dir });
    assert.equal(z.code, 10, z.stdout);
    assert.match(json<{ error: { message: string } }>(z).error.message, /machine was made with/);
  } finally {
    await cleanup();
  }
});
