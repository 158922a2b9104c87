import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryFlash } from '../src/storage/memory-flash.js';
import { LAST_ATTEMPT_STATUS, REQUEST_FLAGS } from '../src/storage/variables.js';
import { checkPolicy } from '../src/image/policy.js';
import { readImageFile } from '../src/core/image-reader.js';
import { parsePublicKey } from '../src/image/keys.js';
import { initSaveArea, saveSlot, areaCrc, saveAreaBytes } from '../src/machine/state-save.js';
import { RAM_SAVE_AREA_BASE } from '../src/machine/ram-layout.js';
import type { Platform } from '../src/machine/platform.js';
import { REPO_ROOT, Rng } from './helpers/cli.js';
import { testSize } from './helpers/mutate.js';
import { plantImage } from './helpers/plant.js';
import { STRATEGIES } from './helpers/strategies.js';
import { fwupFormat } from '../src/image/formats/fwup.js';
import type { InstallStrategy } from '../src/storage/key-store.js';
import { activeImage, asFirmware, bootFirmware, makeMemoryMachine, memoryPlatform, type MemoryMachine } from './helpers/memory-platform.js';

const FIX = join(REPO_ROOT, 'fixtures');
const PEM = readFileSync(join(FIX, 'keys', 'test-release.pub'), 'utf8');
const SIGNED2 = readFileSync(join(FIX, 'images', 'fw-2.0.0-signed.fwup'));
const SIGNED3 = readFileSync(join(FIX, 'images', 'fw-3.0.0-signed.fwup'));

/** A keyed machine with 3.0.0 (security version 2) installed and confirmed, slot A still holding the factory 1 (security version 0). */
async function confirmed3(install: InstallStrategy = 'copy'): Promise<{ m: MemoryMachine; chip: Buffer }> {
  const m = makeMemoryMachine({ trustPem: [PEM], install });
  const flash = new MemoryFlash(m.config.flash, m.chip);
  const p = memoryPlatform(m.config, flash);
  plantImage(p, SIGNED3, REQUEST_FLAGS.APPLY, fwupFormat.id, install);
  await bootFirmware(p, 'cold');
  p.services.confirmTrial();
  assert.equal(p.services.securityFloor(), 2);
  return { m, chip: flash.snapshot() };
}

/** A warm rollback request with a valid save area, as `fwup rollback` leaves it before the reset. */
function rollbackRam(p: Platform): Uint8Array {
  const cpus = p.hardware.cpus;
  const ram = new Uint8Array(4 << 20);
  initSaveArea(ram, RAM_SAVE_AREA_BASE, cpus);
  for (let c = 0; c < cpus; c++) saveSlot(ram, RAM_SAVE_AREA_BASE, c, Int32Array.from({ length: 12 }, (_, i) => c + i), 0);
  p.services.setRequest({
    recordVersion: 2, flags: REQUEST_FLAGS.ROLLBACK | REQUEST_FLAGS.APPLY | REQUEST_FLAGS.WARM, regionOffset: p.map.STAGING.offset, imageOffset: 0, imageLength: 0,
    imageSha256: Buffer.alloc(32), imageFormat: 1, reserved0: 0, cpuCount: cpus, versionNumber: 1, version: '1',
    stateSaveAddress: BigInt(RAM_SAVE_AREA_BASE), stateSaveLength: saveAreaBytes(cpus), stateSaveCrc32: areaCrc(ram, RAM_SAVE_AREA_BASE, cpus), stagedAt: 0n,
  });
  return ram;
}

/** After an attack: the machine boots 3.0.0, verified, and nothing below security version 2 gets in (stage, firmware, rollback). */
async function holds(m: MemoryMachine, chip: Buffer, deep: boolean, what: string): Promise<void> {
  const f = new MemoryFlash(m.config.flash, chip);
  let p = memoryPlatform(m.config, f);
  // Before any boot, the OS side reads the floor too (stage's policy): never lower, or a clear
  // "damaged" error when the record is gone altogether (never a silent 0).
  try {
    assert.ok(p.services.securityFloor() >= 2, `${what}: the floor before any boot`);
  } catch (e) {
    assert.match((e as Error).message, /boot record is missing in both copies/, what);
  }
  await bootFirmware(p, 'power-on');
  const a = activeImage(p);
  assert.ok(a.verified && a.version === '3.0.0', `${what}: boots 3.0.0 (${a.version}, verified ${a.verified})`);
  const floor = p.services.securityFloor();
  assert.ok(floor >= 2, `${what}: floor ${floor} after the boot`);
  if (!deep) return;
  // stage's policy, from the facts a target reports
  const image = (await readImageFile(join(FIX, 'images', 'fw-2.0.0-signed.fwup'), { trust: { keys: [parsePublicKey(PEM, 'k')], certs: null } })).report;
  const refusal = checkPolicy(image, {
    platform: 'fwup-emu', activeVersionNumber: 0x03000000, lowestSupportedVersion: 0, securityVersion: floor, hasTrustedKeys: true, development: false,
    capacity: { image: p.map.STAGING.size, slot: p.map.SLOT_A.size },
  }, { allowOlder: true, allowUnsigned: false, allowReinstall: true });
  assert.equal(refusal?.code, 'POLICY_SECURITY_VERSION', `${what}: stage refuses`);
  // the firmware, with the request allowing older versions
  plantImage(p, SIGNED2, REQUEST_FLAGS.APPLY | REQUEST_FLAGS.ALLOW_OLDER);
  const r = await bootFirmware(p, 'cold');
  assert.equal(r.rejected?.status, LAST_ATTEMPT_STATUS.ERROR_INCORRECT_VERSION, `${what}: the firmware refuses 2.0.0`);
  // rollback to the factory slot (security version 0)
  p = memoryPlatform(m.config, f);
  const rb = await bootFirmware(p, 'warm', rollbackRam(p));
  assert.equal(rb.rejected?.status, LAST_ATTEMPT_STATUS.ERROR_INCORRECT_VERSION, `${what}: the firmware refuses the rollback: ${JSON.stringify(rb.rejected)}`);
  assert.equal(activeImage(p).version, '3.0.0');
}

test('anti-rollback: no single NOR-legal bit clear in the boot record or the NVRAM store, nor erasing the record, lowers the security version (exhaustive)', async () => {
  const { m, chip } = await confirmed3();
  const p = memoryPlatform(m.config, new MemoryFlash(m.config.flash, chip));
  const record = asFirmware(p, (v) => v.records.usedRanges());
  const nvUsed = p.services.nvram().used;
  const targets: Array<{ name: string; offset: number; length: number }> = [
    ...record.map((r) => ({ name: 'BOOTREC', ...r })),
    { name: 'NVRAM', offset: p.map.NVRAM.offset, length: nvUsed },
  ];
  let cases = 0;
  let deep = 0;
  for (const t of targets) {
    for (let at = t.offset; at < t.offset + t.length; at++) {
      for (let bit = 0; bit < 8; bit++) {
        if (!(chip[at]! & (1 << bit))) continue; // NOR can clear a set bit only
        const attacked = Buffer.from(chip);
        attacked[at] = chip[at]! & ~(1 << bit);
        const isDeep = cases % 97 === 0;
        await holds(m, attacked, isDeep, `${t.name} byte 0x${at.toString(16)} bit ${bit}`);
        cases++;
        if (isDeep) deep++;
      }
    }
  }
  // Erasing one copy of the boot record, or both (two faults; the firmware rebuilds it from the slots and the recovery copy).
  for (const which of [[0], [1], [0, 1]]) {
    const attacked = Buffer.from(chip);
    for (const c of which) attacked.fill(0xff, p.map.BOOTREC.offset + c * (p.map.BOOTREC.size / 2), p.map.BOOTREC.offset + (c + 1) * (p.map.BOOTREC.size / 2));
    await holds(m, attacked, true, `boot record copies ${which.join('+')} erased`);
  }
  console.log(`anti-rollback: ${cases} single-bit clears over ${record.length} boot-record entries and ${nvUsed} bytes of NVRAM (${deep} also checked through stage, firmware and rollback), 3 erased records: floor never below 2`);
  assert.ok(cases > 3000, `${cases} cases`);
});

for (const install of STRATEGIES) {
  test(`recovery: a random single-byte corruption anywhere in the flash image never leaves a machine that cannot boot (seeded) [${install}]`, async () => {
    const { m, chip } = await confirmed3(install);
    const p0 = memoryPlatform(m.config, new MemoryFlash(m.config.flash, chip));
    const map = p0.map;
    // Where the machine keeps something: the used bytes of every region (uniform picks over the whole
    // chip mostly land in erased space, which must be harmless too).
    const used = [
      { name: 'MAP', offset: map.MAP.offset, length: 264 },
      { name: 'MAP_BACKUP', offset: map.MAP_BACKUP.offset, length: 264 },
      { name: 'KEYSTORE', offset: map.KEYSTORE.offset, length: 600 },
      { name: 'KEYSTORE', offset: map.KEYSTORE.offset + map.KEYSTORE.size / 2, length: 600 },
      ...asFirmware(p0, (v) => v.records.usedRanges()).map((r) => ({ name: 'BOOTREC', ...r })),
      { name: 'NVRAM', offset: map.NVRAM.offset, length: p0.services.nvram().used },
      { name: 'SLOT_A', offset: map.SLOT_A.offset, length: 65536 + 200 },
      { name: 'SLOT_B', offset: map.SLOT_B.offset, length: SIGNED3.length },
      { name: 'RECOVERY', offset: map.RECOVERY.offset, length: SIGNED3.length },
    ];
    const groups = [...new Set(used.map((u) => u.name))];
    const rng = new Rng(8_000_001);
    const runs = testSize(400, 8000);
    let bricked = 0;
    let clean = 0;
    let inactiveReported = 0;
    const hits = new Map<string, number>();
    for (let i = 0; i < runs; i++) {
      let at: number;
      let region: string;
      if (i % 2 === 0) {
        at = rng.int(chip.length);
        region = 'anywhere';
      } else {
        // Every region equally often, then a byte of it: a map is 264 bytes, a slot 128 KiB.
        region = groups[rng.int(groups.length)]!;
        const ranges = used.filter((u) => u.name === region);
        let k = rng.int(ranges.reduce((n, u) => n + u.length, 0));
        const u = ranges.find((x) => (k -= x.length) < 0)!;
        at = u.offset + rng.int(u.length);
      }
      const attacked = Buffer.from(chip);
      attacked[at] = (chip[at]! + 1 + rng.int(255)) & 0xff; // any other value: not only NOR-legal changes
      hits.set(region, (hits.get(region) ?? 0) + 1);
      const f = new MemoryFlash(m.config.flash, attacked);
      const p = memoryPlatform(m.config, f);
      try {
        await bootFirmware(p, 'power-on');
        const a = activeImage(p);
        if (!a.verified || a.version !== '3.0.0' || p.services.securityFloor() < 2) throw new Error(`booted ${a.version} (verified ${a.verified})`);
        // The boot repaired what it found: the next status shows nothing damaged — except the previous
        // slot, of which no copy is kept (the recovery copy is the confirmed firmware): it is reported,
        // and a rollback to it is refused.
        const after = memoryPlatform(m.config, f).services.status();
        if (after.warnings.length === 0) clean++;
        else if (after.warnings.every((w) => /^slot A is damaged|^boot the machine/.test(w)) && after.slots.A.state === 'damaged') inactiveReported++;
        else throw new Error(`still damaged after the boot: ${after.warnings.join('; ')}`);
      } catch (e) {
        bricked++;
        console.log(`corruption at 0x${at.toString(16)} (${region}): ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    console.log(`single-byte corruption [${install}]: ${runs} cases ${JSON.stringify(Object.fromEntries(hits))}; booted 3.0.0 every time: fully repaired ${clean}, previous slot damaged and reported ${inactiveReported}; bricked ${bricked}`);
    assert.equal(bricked, 0);
  });
}
