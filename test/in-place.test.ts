import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { FwupError } from '../src/errors/fwup-error.js';
import { chipOf } from '../src/machine/chip.js';
import { checkHardware, parseMachineConfig } from '../src/machine/config.js';
import { EXIT } from '../src/errors/exit-codes.js';
import { MemoryFlash } from '../src/storage/memory-flash.js';
import { REQUEST_FLAGS } from '../src/storage/variables.js';
import { fwupFormat } from '../src/image/formats/fwup.js';
import { fwup, hashTree, json, REPO_ROOT, tempDir } from './helpers/cli.js';
import { initMachine, statusJson } from './helpers/machine.js';
import { activeImage, bootFirmware, makeMemoryMachine, memoryPlatform } from './helpers/memory-platform.js';
import { plantImage } from './helpers/plant.js';

const FIX = join(REPO_ROOT, 'fixtures');
const KEY = join(FIX, 'keys', 'test-release.pub');
const PEM = readFileSync(KEY, 'utf8');
const SIGNED2 = join(FIX, 'images', 'fw-2.0.0-signed.fwup');
const SIGNED3 = join(FIX, 'images', 'fw-3.0.0-signed.fwup');
const refused = (code: string) => (e: unknown) => e instanceof FwupError && e.code === code;

test('in place: the firmware opens the inactive slot to the OS only when asked, only on a machine provisioned for it, never during a trial, and a reset closes it', async () => {
  const b = 4096;
  // A machine that copies: no slot is ever opened, and asking changes nothing.
  const copy = makeMemoryMachine({ trustPem: [PEM], install: 'copy' });
  const cf = new MemoryFlash(copy.config.flash, copy.chip);
  const cp = memoryPlatform(copy.config, cf);
  const before = cf.snapshot();
  assert.throws(() => cp.services.releaseInactiveSlot(0), refused('FLASH_WRITE_PROTECTED'));
  assert.throws(() => cp.flash.erase(cp.map.SLOT_B.offset, b), refused('FLASH_WRITE_PROTECTED'));
  assert.ok(cf.snapshot().equals(before), 'a copy machine: nothing changed');

  const m = makeMemoryMachine({ trustPem: [PEM], install: 'in-place' });
  const flash = new MemoryFlash(m.config.flash, m.chip);
  let p = memoryPlatform(m.config, flash);
  // Not asked: neither slot is writable.
  for (const r of [p.map.SLOT_A, p.map.SLOT_B]) assert.throws(() => p.flash.erase(r.offset, b), refused('FLASH_WRITE_PROTECTED'), r.name);
  const region = p.services.releaseInactiveSlot(0x02000000);
  assert.equal(region.name, 'SLOT_B', 'the inactive slot');
  const rec = p.services.record();
  assert.equal(rec.slots[1], '', 'the record no longer trusts what slot B holds, before its first byte changes');
  assert.equal(rec.progress, 2);
  p.flash.erase(p.map.SLOT_B.offset, b); // now allowed
  assert.throws(() => p.flash.erase(p.map.SLOT_A.offset, b), refused('FLASH_WRITE_PROTECTED'), 'the active slot stays closed');
  assert.throws(() => p.flash.program(p.map.SLOT_B.offset + p.map.SLOT_B.size - 2, Buffer.alloc(4)), refused('FLASH_WRITE_PROTECTED'), 'a write running past the slot is refused whole');
  assert.ok(/consumed the rollback slot/.test(p.services.status().rollback.reason));
  // Install into B (on trial, not confirmed): the reset closed the grant, and a trial keeps the other slot.
  plantImage(p, readFileSync(SIGNED2), REQUEST_FLAGS.APPLY, fwupFormat.id, 'in-place');
  await bootFirmware(p, 'cold');
  assert.equal(activeImage(p).slot, 'B');
  assert.throws(() => p.flash.erase(p.map.SLOT_B.offset, b), refused('FLASH_WRITE_PROTECTED'), 'the reset closed slot B');
  const trial = flash.snapshot();
  assert.throws(() => p.services.releaseInactiveSlot(0), refused('TARGET_BUSY'));
  assert.throws(() => p.flash.erase(p.map.SLOT_A.offset, b), refused('FLASH_WRITE_PROTECTED'));
  assert.ok(flash.snapshot().equals(trial), 'during a trial: nothing changed, the slot a revert needs is intact');
  p.services.confirmTrial();
  p = memoryPlatform(m.config, flash);
  assert.equal(p.services.releaseInactiveSlot(0).name, 'SLOT_A', 'after the confirmation the other slot may be staged into');
});

test('in place: a request the firmware did not release a slot for is discarded: the inactive slot of a copy machine, an unreleased slot, the active slot', async () => {
  const image = readFileSync(SIGNED2);
  for (const install of ['copy', 'in-place'] as const) {
    const m = makeMemoryMachine({ trustPem: [PEM], install });
    const p = memoryPlatform(m.config, new MemoryFlash(m.config.flash, m.chip));
    // The genuine image sits in slot B (put there as a debugger on the chip would), and a request names it.
    const chip = chipOf(p);
    chip.controller.reset();
    chip.controller.asFirmware(() => {
      chip.controller.firmware.erase(p.map.SLOT_B.offset, p.map.SLOT_B.size);
      chip.controller.firmware.program(p.map.SLOT_B.offset, image);
    });
    p.services.setRequest({
      recordVersion: 2, flags: REQUEST_FLAGS.APPLY, regionOffset: p.map.SLOT_B.offset, imageOffset: 0, imageLength: image.length,
      imageSha256: createHash('sha256').update(image).digest(), imageFormat: fwupFormat.id, reserved0: 0, cpuCount: 0, versionNumber: 0x02000000,
      version: '2.0.0', stateSaveAddress: 0n, stateSaveLength: 0, stateSaveCrc32: 0, stagedAt: 0n,
    });
    const boot = await bootFirmware(p, 'cold');
    const what = install === 'copy' ? 'copy machine, request at the inactive slot' : 'in-place machine, slot never released';
    assert.ok(boot.rejected, `${what}: refused`);
    assert.match(boot.rejected.reason, /not at STAGING/, what);
    assert.equal(activeImage(p).version, '1', `${what}: the factory firmware still runs`);
  }
  // Released, but the request names the active slot (the running firmware as the "new" one).
  const m = makeMemoryMachine({ trustPem: [PEM], install: 'in-place' });
  const p = memoryPlatform(m.config, new MemoryFlash(m.config.flash, m.chip));
  const r = plantImage(p, image, REQUEST_FLAGS.APPLY, fwupFormat.id, 'in-place');
  p.services.setRequest({ ...r, regionOffset: p.map.SLOT_A.offset });
  const boot = await bootFirmware(p, 'cold');
  assert.match(boot.rejected?.reason ?? '', /nor at the inactive slot SLOT_B/);
  assert.equal(activeImage(p).version, '1');
  assert.equal(p.services.status().slots.B.state, 'unused', 'the released slot is not bootable');
});

test('in place: stage consumes the rollback slot: status says so, rollback refuses and explains; unstage leaves the slot unbootable; the next confirmed update brings a rollback image back', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir, ['--install', 'in-place', '--trust', KEY]);
    const m = join(dir, 'm');
    const svn0 = join(dir, 'svn0.fwup');
    let r = await fwup(['pack', join(FIX, 'payloads', 'fw-2.0.0.bin'), '-o', svn0, '--version', '2.0.0', '--svn', '0', '--sign', join(FIX, 'keys', 'test-release.key')], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    r = await fwup(['stage', svn0, '--target', t, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([json<{ details: { region: string; inPlace: boolean } }>(r).details.region, json<{ details: { inPlace: boolean } }>(r).details.inPlace], ['SLOT_B', true]);
    assert.equal((await fwup(['apply', '--warm', '--target', t], { cwd: dir })).code, 0);
    let st = await statusJson(dir, t);
    assert.equal(st.machine.install, 'in-place');
    assert.deepEqual([st.firmware.version, st.firmware.rollback.available, st.firmware.rollback.slot], ['2.0.0', true, 'A'], 'after a confirmed update the old firmware is the rollback image');

    // Staging in place takes slot A, the rollback image.
    assert.equal((await fwup(['stage', SIGNED3, '--target', t], { cwd: dir })).code, 0);
    st = await statusJson(dir, t);
    assert.equal(st.stagedIn, 'SLOT_A');
    assert.equal(st.firmware.rollback.available, false);
    assert.equal(st.firmware.rollback.consumed, true);
    assert.match(st.firmware.rollback.reason, /staging in place has consumed the rollback slot/);
    assert.match(st.firmware.slots.A.problem, /consumed the rollback slot/);
    const text = await fwup(['status', '--target', t], { cwd: dir });
    assert.match(text.stdout, /^rollback\s+none: staging in place has consumed the rollback slot/m);
    let before = await hashTree(m);
    r = await fwup(['rollback', '--target', t, '--json'], { cwd: dir });
    assert.equal(r.code, EXIT.NOT_FOUND, r.stdout);
    assert.equal(json<{ error: { code: string } }>(r).error.code, 'NOT_STAGED');
    assert.match(json<{ error: { message: string } }>(r).error.message, /staging in place has consumed the rollback slot/);
    assert.equal(await hashTree(m), before, 'the refused rollback changed nothing');

    // Unstage: no request, and still no rollback image; slot A is not bootable, before and after a boot.
    assert.equal((await fwup(['unstage', '--target', t], { cwd: dir })).code, 0);
    for (const step of ['unstaged', 'booted']) {
      st = await statusJson(dir, t);
      assert.equal(st.staged, null, step);
      assert.deepEqual([st.firmware.version, st.firmware.activeSlot], ['2.0.0', 'B'], step);
      assert.equal(st.firmware.slots.A.state, 'unused', `${step}: slot A is not bootable`);
      assert.equal(st.firmware.rollback.consumed, true, step);
      before = await hashTree(m);
      r = await fwup(['rollback', '--target', t], { cwd: dir });
      assert.equal(r.code, EXIT.NOT_FOUND, `${step}: ${r.stderr}`);
      assert.match(r.stderr, /no previous firmware to roll back to: staging in place has consumed the rollback slot/);
      assert.equal(await hashTree(m), before, `${step}: nothing changed`);
      if (step === 'unstaged') assert.equal((await fwup(['machine', 'boot', '--target', t], { cwd: dir })).code, 0);
    }

    // Stage again and apply: 3.0.0 in slot A; slot B (2.0.0, security version 0) is below the new floor.
    assert.equal((await fwup(['stage', SIGNED3, '--target', t], { cwd: dir })).code, 0);
    assert.equal((await fwup(['apply', '--warm', '--target', t], { cwd: dir })).code, 0);
    st = await statusJson(dir, t);
    assert.deepEqual([st.firmware.version, st.firmware.activeSlot, st.firmware.rollback.consumed, st.firmware.rollback.available], ['3.0.0', 'A', false, false]);
    assert.match(st.firmware.rollback.reason, /below the floor 2/);
    assert.equal(st.firmware.slots.B.state, 'verified');
  } finally {
    await cleanup();
  }
});

test('in place: a re-stage of the running version goes into the other slot; after it both slots hold it and a rollback is possible again', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir, ['--install', 'in-place', '--trust', KEY]);
    assert.equal((await fwup(['stage', SIGNED2, '--target', t], { cwd: dir })).code, 0);
    assert.equal((await fwup(['apply', '--warm', '--target', t], { cwd: dir })).code, 0);
    let r = await fwup(['stage', SIGNED2, '--target', t], { cwd: dir });
    assert.notEqual(r.code, 0, 'the installed version needs --allow-reinstall');
    r = await fwup(['stage', SIGNED2, '--allow-reinstall', '--target', t, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json<{ details: { region: string } }>(r).details.region, 'SLOT_A');
    // The same image staged again is "nothing to do", and changes nothing.
    r = await fwup(['stage', SIGNED2, '--allow-reinstall', '--target', t], { cwd: dir });
    assert.equal(r.code, EXIT.NOTHING_TO_DO, r.stderr);
    assert.equal((await fwup(['apply', '--warm', '--target', t], { cwd: dir })).code, 0);
    const st = await statusJson(dir, t);
    assert.deepEqual([st.firmware.activeSlot, st.firmware.slots.A.version, st.firmware.slots.B.version, st.firmware.rollback.available], ['A', '2.0.0', '2.0.0', true]);
    r = await fwup(['rollback', '--target', t], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await statusJson(dir, t)).firmware.activeSlot, 'B');
  } finally {
    await cleanup();
  }
});

test('in place: stage is refused while a trial runs (the inactive slot is what a revert needs), and nothing changes', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir, ['--install', 'in-place', '--trust', KEY]);
    assert.equal((await fwup(['stage', SIGNED2, '--target', t], { cwd: dir })).code, 0);
    assert.equal((await fwup(['apply', '--warm', '--no-confirm', '--target', t], { cwd: dir })).code, 0);
    const before = await hashTree(join(dir, 'm'));
    const r = await fwup(['stage', SIGNED3, '--target', t, '--json'], { cwd: dir });
    assert.equal(r.code, EXIT.BUSY, r.stdout);
    assert.match(json<{ error: { message: string } }>(r).error.message, /on trial/);
    assert.equal(await hashTree(join(dir, 'm')), before);
    // The trial reverts at the next reset to the intact slot A.
    assert.equal((await fwup(['machine', 'boot', '--target', t], { cwd: dir })).code, 0);
    const st = await statusJson(dir, t);
    assert.deepEqual([st.firmware.version, st.firmware.slots.A.state], ['1', 'verified']);
  } finally {
    await cleanup();
  }
});

test('in place: images the firmware wraps in a slot header of its own (a raw payload) are staged into STAGING and copied; the rollback image stays', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir, ['--install', 'in-place']);
    await writeFile(join(dir, 'v5.bin'), Buffer.alloc(30_000, 5));
    const r = await fwup(['stage', join(dir, 'v5.bin'), '--version', '5', '--allow-unsigned', '--target', t, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([json<{ details: { region: string } }>(r).details.region, json<{ details: { inPlace: boolean } }>(r).details.inPlace], ['STAGING', false]);
    const a = await fwup(['apply', '--warm', '--target', t, '--json'], { cwd: dir });
    assert.equal(a.code, 0, a.stdout);
    assert.ok(json<{ report: { phases: Array<{ name: string }> } }>(a).report.phases.some((ph) => ph.name === 'program'), 'copied by the firmware');
    const st = await statusJson(dir, t);
    assert.deepEqual([st.firmware.version, st.firmware.rollback.available], ['5', true]);
  } finally {
    await cleanup();
  }
});

test('in place: after both boot-record copies are lost, the rebuilt record does not trust the slot the OS may have written (an unsigned image there never becomes a rollback target)', async () => {
  const m = makeMemoryMachine({ trustPem: [PEM], install: 'in-place' });
  const flash = new MemoryFlash(m.config.flash, m.chip);
  const p = memoryPlatform(m.config, flash);
  // A hostile OS: the released slot gets an unsigned image (stage would refuse it on this keyed machine).
  const region = p.services.releaseInactiveSlot(0);
  const unsigned = readFileSync(join(FIX, 'images', 'fw-2.0.0-unsigned.fwup'));
  p.flash.erase(region.offset, Math.ceil(unsigned.length / 4096) * 4096);
  p.flash.program(region.offset, unsigned);
  // Two faults at once: both copies of the boot record erased (as a debugger on the chip would).
  const chip = chipOf(p);
  chip.controller.reset();
  chip.controller.asFirmware(() => chip.controller.firmware.erase(p.map.BOOTREC.offset, p.map.BOOTREC.size));
  const boot = await bootFirmware(p, 'power-on');
  assert.ok(boot.events.some((e) => /boot record rebuilt/.test(e)), boot.events.join('\n'));
  assert.equal(activeImage(p).version, '1');
  const st = p.services.status();
  assert.equal(st.record!.slots[1], '', 'slot B is not trusted');
  assert.equal(st.rollback.available, false);
  assert.notEqual(st.slots.B.state, 'verified');
});

test('in place: a machine made before the strategies (no "install" in machine.json nor in its key store) copies; a changed strategy is damage', () => {
  const old = { format: 'fwup-machine', version: 2, cpus: 2, ramBytes: 16 << 20, flash: { size: 2 << 20, blockSize: 4096, programAlign: 1 }, createdAt: 'then' };
  const c = parseMachineConfig(JSON.stringify(old), 'machine.json');
  assert.equal(c.install, 'copy');
  assert.deepEqual(c.ignored, []);
  const provisioned = { cpus: 2, ramBytes: 16 << 20, flash: old.flash };
  checkHardware(c, provisioned, 'machine.json'); // no field on either side: the same hardware
  assert.throws(() => checkHardware({ ...c, install: 'in-place' }, provisioned, 'machine.json'), refused('TARGET_CORRUPT'));
  assert.throws(() => parseMachineConfig(JSON.stringify({ ...old, install: 'swap' }), 'machine.json'), refused('TARGET_CORRUPT'));
});
