import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, Rng, xorByte } from './helpers/cli.js';
import { makeMemoryMachine, memoryPlatform } from './helpers/memory-platform.js';
import { plantImage } from './helpers/plant.js';
import { STRATEGIES } from './helpers/strategies.js';
import { fwupFormat } from '../src/image/formats/fwup.js';
import { testSize } from './helpers/mutate.js';
import { MemoryFlash } from '../src/storage/memory-flash.js';
import { isPowerCut } from '../src/storage/fault-flash.js';
import { firmwareBoot } from '../src/machine/firmware/firmware.js';
import { BOOT_TABLE, decide, type BootFacts } from '../src/machine/firmware/boot-table.js';
import { chipOf } from '../src/machine/chip.js';
import { activeImage } from './helpers/memory-platform.js';
import { initSaveArea, saveSlot, areaCrc, saveAreaBytes } from '../src/machine/state-save.js';
import { RAM_SAVE_AREA_BASE } from '../src/machine/ram-layout.js';
import { FwupError } from '../src/errors/fwup-error.js';
import { LAST_ATTEMPT_STATUS, REQUEST_FLAGS, VARIABLE, updateRequestCodec } from '../src/storage/variables.js';
import { Digester } from '../src/util/digest.js';
import { buildFwupHeader } from '../src/image/fwup-format.js';
import type { Platform } from '../src/machine/platform.js';

const FIX = join(REPO_ROOT, 'fixtures');
const PEM = readFileSync(join(FIX, 'keys', 'test-release.pub'), 'utf8');
const img = (n: string) => readFileSync(join(FIX, 'images', n));
const SIGNED2 = img('fw-2.0.0-signed.fwup');
const SIGNED3 = img('fw-3.0.0-signed.fwup');
const BASES = Object.fromEntries(STRATEGIES.map((s) => [s, makeMemoryMachine({ trustPem: [PEM], install: s })]));
const now = () => new Date(1_800_000_000_000);

function boot(p: Platform, cause: 'power-on' | 'warm' | 'cold' = 'cold', ram = new Uint8Array(0)) {
  return firmwareBoot({ chip: chipOf(p), ram, cpus: p.hardware.cpus, cause, now });
}

function slotDigest(p: Platform, slot: 'SLOT_A' | 'SLOT_B'): string {
  return new Digester().update(p.flash.read(p.map[slot].offset, p.map[slot].size)).digest().sha256;
}

/** The machine boots a slot whose image verifies; returns its version. */
function bootable(p: Platform): string {
  const a = activeImage(p);
  assert.ok(a.verified, `slot ${a.slot} verifies`);
  return a.version ?? '?';
}

/** A RAM image with a valid state-save area for `cpus`, as the OS leaves it after the rendezvous. */
function savedRam(cpus: number): { ram: Uint8Array; crc: number } {
  const ram = new Uint8Array(4 << 20);
  initSaveArea(ram, RAM_SAVE_AREA_BASE, cpus);
  for (let c = 0; c < cpus; c++) saveSlot(ram, RAM_SAVE_AREA_BASE, c, Int32Array.from({ length: 12 }, (_, i) => c * 100 + i), 0);
  return { ram, crc: areaCrc(ram, RAM_SAVE_AREA_BASE, cpus) };
}

test('boot table: every combination of facts has a row, and each row is reachable', async () => {
  const used = new Set<number>();
  for (const cause of ['power-on', 'warm', 'cold'] as const)
    for (const request of ['none', 'staged', 'apply-warm', 'apply-cold', 'rollback-warm', 'invalid'] as const)
      for (const image of ['valid', 'invalid', 'n/a'] as const)
        for (const state of ['valid', 'invalid', 'n/a'] as const) {
          const facts: BootFacts = { cause, request, image, state };
          const row = decide(facts);
          assert.ok(row, JSON.stringify(facts));
          used.add(BOOT_TABLE.indexOf(row));
          // Safety invariants of the table itself:
          if (row.then.includes('install')) assert.equal(image, 'valid', 'install only a verified image');
          if (row.then.includes('resume')) assert.equal(state, 'valid', 'resume only from a verified state');
        }
  assert.equal(used.size, BOOT_TABLE.length, 'no dead rows');
});

for (const install of STRATEGIES) {
  test(`firmware: a cold apply of a planted, valid signed image installs it on trial [${install}]`, async () => {
    const machine = BASES[install]!;
    const flash = new MemoryFlash(machine.config.flash, machine.chip);
    const p = memoryPlatform(machine.config, flash);
    plantImage(p, SIGNED2, REQUEST_FLAGS.APPLY, fwupFormat.id, install);
    const r = await boot(p);
    assert.deepEqual(r.actions, ['install', 'cold-boot']);
    assert.equal(r.activeVersion, '2.0.0');
    assert.equal(p.services.record().trial, 1);
    assert.equal(bootable(p), '2.0.0');
    // A reset before confirmation reverts it.
    const q = memoryPlatform(machine.config, flash);
    const again = await boot(q, 'power-on');
    assert.equal(again.activeVersion, '1');
    assert.equal(q.services.lastAttempt()?.status, LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL);
  });
}

for (const install of STRATEGIES) {
  test(`firmware: refuses planted attacks the OS checks would have caught (bit flips, unknown key, security version, downgrade, platform) [${install}]`, async () => {
    const machine = BASES[install]!;
    // Install 3.0.0 (lowest supported 2.0.0, security version 2) and confirm it, as the base for the version rules.
    const flash = new MemoryFlash(machine.config.flash, machine.chip);
    let p = memoryPlatform(machine.config, flash);
    plantImage(p, SIGNED3, REQUEST_FLAGS.APPLY, fwupFormat.id, install);
    await boot(p);
    p.services.confirmTrial();
    const installed = flash.snapshot();
    const cases: Array<[string, Buffer, number]> = [
      ['unknown key', img('fw-2.0.0-other-key.fwup'), LAST_ATTEMPT_STATUS.ERROR_AUTH_ERROR],
      ['security version below the machine\'s', SIGNED2, LAST_ATTEMPT_STATUS.ERROR_INCORRECT_VERSION],
      ['wrong platform', img('fw-2.0.0-other-platform.fwup'), LAST_ATTEMPT_STATUS.ERROR_INVALID_FORMAT],
      ['unsigned on a keyed machine', img('fw-2.0.0-unsigned.fwup'), LAST_ATTEMPT_STATUS.ERROR_AUTH_ERROR],
    ];
    const rng = new Rng(77);
    const bits = testSize(2_000, 20_000);
    for (let i = 0; i < bits; i++) {
      // Every bit of the header (and the first of the payload), then bits drawn from the whole image.
      const bit = i < 8 * 240 ? i : rng.int(SIGNED3.length * 8);
      cases.push([`bit ${bit} flipped`, xorByte(Buffer.from(SIGNED3), bit >> 3, 1 << (bit & 7)), -1]);
    }
    for (const [what, image, status] of cases) {
      const f = new MemoryFlash(machine.config.flash, installed);
      p = memoryPlatform(machine.config, f);
      plantImage(p, image, REQUEST_FLAGS.APPLY, fwupFormat.id, install);
      const a = slotDigest(p, 'SLOT_A');
      const b = slotDigest(p, 'SLOT_B');
      const r = await boot(p);
      assert.ok(r.rejected, `${what}: refused`);
      if (status >= 0) assert.equal(p.services.lastAttempt()?.status, status, `${what}: ${r.rejected.reason}`);
      else assert.notEqual(p.services.lastAttempt()?.status, LAST_ATTEMPT_STATUS.SUCCESS);
      assert.equal(slotDigest(p, 'SLOT_A'), a, `${what}: slot A untouched`);
      assert.equal(slotDigest(p, 'SLOT_B'), b, `${what}: slot B untouched`);
      assert.equal(bootable(p), '3.0.0');
      assert.equal(p.services.request(), null, `${what}: the request is cleared`);
    }
    console.log(`firmware planted-attack cases: ${cases.length}`);
  });
}

test('firmware: a downgrade below the installed lowest supported version is refused unless the request allows older', async () => {
  // Install 3.0.0 with lowest supported 2.0.0 and security version 0 (so only the version rule speaks),
  // then plant a raw 1.5.0.
  const dev = makeMemoryMachine({ development: true });
  const f = new MemoryFlash(dev.config.flash, dev.chip);
  let p = memoryPlatform(dev.config, f);
  const payload = Buffer.alloc(3000, 3);
  const v3 = Buffer.concat([
    buildFwupHeader({ platform: 'fwup-emu', version: '3.0.0', versionNumber: 0x03000000, lowestSupportedVersion: 0x02000000, securityVersion: 0, flags: 0, buildTime: null, description: null }, new Digester().update(payload).digest()),
    payload,
  ]);
  plantImage(p, v3, REQUEST_FLAGS.APPLY | REQUEST_FLAGS.ALLOW_UNSIGNED);
  assert.equal((await boot(p)).activeVersion, '3.0.0');
  p.services.confirmTrial();
  const raw = Buffer.alloc(5000, 1);
  const d = new Digester().update(raw).digest();
  const plantRaw = (flags: number) => {
    plantImage(p, raw, flags);
    const r = p.services.request()!;
    p.services.setRequest({ ...r, imageFormat: 3, versionNumber: 0x01050000, version: '1.5.0', imageSha256: Buffer.from(d.sha256, 'hex') });
  };
  plantRaw(REQUEST_FLAGS.APPLY | REQUEST_FLAGS.ALLOW_UNSIGNED);
  let r = await boot(p);
  assert.ok(r.rejected);
  assert.match(r.rejected.reason, /below the lowest supported version/);
  assert.equal(p.services.lastAttempt()?.status, LAST_ATTEMPT_STATUS.ERROR_INCORRECT_VERSION);
  p = memoryPlatform(dev.config, f);
  plantRaw(REQUEST_FLAGS.APPLY | REQUEST_FLAGS.ALLOW_UNSIGNED | REQUEST_FLAGS.ALLOW_OLDER);
  r = await boot(p);
  assert.equal(r.activeVersion, '1.5.0', 'allowed older: installed');
});

for (const install of STRATEGIES) {
  test(`fuzz: mutated request records through the firmware (warm and cold): no crash, slots intact unless a genuine image installs [${install}]`, async () => {
    const machine = BASES[install]!;
    const runs = testSize(1500, 50_000);
    const flash0 = new MemoryFlash(machine.config.flash, machine.chip);
    const p0 = memoryPlatform(machine.config, flash0);
    const req = plantImage(p0, SIGNED2, REQUEST_FLAGS.APPLY, fwupFormat.id, install);
    const { ram, crc } = savedRam(machine.config.cpus);
    const warmReq = updateRequestCodec.encode({ ...req, flags: REQUEST_FLAGS.APPLY | REQUEST_FLAGS.WARM, cpuCount: machine.config.cpus, stateSaveAddress: BigInt(RAM_SAVE_AREA_BASE), stateSaveLength: saveAreaBytes(machine.config.cpus), stateSaveCrc32: crc });
    const coldReq = updateRequestCodec.encode(req);
    const chip = flash0.snapshot();
    const rng = new Rng(4242);
    const outcomes = new Map<string, number>();
    for (let i = 0; i < runs; i++) {
      const warm = i % 2 === 0;
      const rec = Buffer.from(warm ? warmReq : coldReq);
      const n = 1 + rng.int(4);
      for (let k = 0; k < n; k++) {
        const at = rng.int(rec.length);
        if (rng.int(2)) rec[at] = rec[at]! ^ (1 << rng.int(8));
        else rec[at] = rng.int(256);
      }
      if (rng.int(4) === 0) {
        // Keep the record's own CRC right, so the field checks behind it are reached.
        const body = rec.subarray(0, rec.length - 4);
        rec.writeUInt32LE(new Digester().update(body).digest().crc32, rec.length - 4);
      }
      const f = new MemoryFlash(machine.config.flash, chip);
      const p = memoryPlatform(machine.config, f);
      p.services.setVariable(VARIABLE.UPDATE_REQUEST, rec);
      const a = slotDigest(p, 'SLOT_A');
      const b = slotDigest(p, 'SLOT_B');
      let r;
      try {
        r = await boot(p, warm ? 'warm' : 'cold', warm ? Uint8Array.from(ram) : new Uint8Array(0));
      } catch (e) {
        assert.ok(e instanceof FwupError, `run ${i}: ${String(e)}`);
        throw e;
      }
      const key = r.installed ? 'installed' : r.rejected ? 'rejected' : r.actions.join('+');
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      if (r.installed) {
        assert.equal(bootable(p), '2.0.0', `run ${i}: only the genuine image can install`);
      } else {
        assert.equal(slotDigest(p, 'SLOT_A'), a, `run ${i}: slot A untouched`);
        assert.equal(slotDigest(p, 'SLOT_B'), b, `run ${i}: slot B untouched`);
        assert.equal(bootable(p), '1');
      }
      memoryPlatform(machine.config, f); // NVRAM still parses
    }
    console.log(`firmware request fuzz: ${runs} records, outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);
  });
}

for (const install of STRATEGIES) {
  test(`multi-cut: up to 5 successive power cuts at random points of the same update, then a clean boot and a retry [${install}]`, async () => {
    const machine = BASES[install]!;
    const runs = testSize(300, 3000);
    const rng = new Rng(99);
    let bricked = 0;
    let cuts = 0;
    const versions = new Map<string, number>();
    for (let run = 0; run < runs; run++) {
      const flash = new MemoryFlash(machine.config.flash, machine.chip);
      plantImage(memoryPlatform(machine.config, flash), SIGNED2, REQUEST_FLAGS.APPLY, fwupFormat.id, install);
      const n = 1 + rng.int(5);
      for (let c = 0; c < n; c++) {
        const plan = rng.int(2) ? { powerCutBefore: 1 + rng.int(40) } : { tornAt: 1 + rng.int(40), seed: rng.next() };
        try {
          const p = memoryPlatform(machine.config, flash, plan);
          await boot(p, c === 0 ? 'cold' : 'power-on');
        } catch (e) {
          if (!isPowerCut(e)) throw e;
          cuts++;
        }
      }
      // Power back for good: the machine boots a verifying slot, old or new; NVRAM parses.
      const p = memoryPlatform(machine.config, flash);
      let v: string;
      try {
        await boot(p, 'power-on');
        v = bootable(p);
      } catch (e) {
        // Counted, not thrown: the total the test checks is the real one.
        bricked++;
        console.log(`multi-cut run ${run}: bricked: ${String(e)}`);
        continue;
      }
      assert.ok(v === '1' || v === '2.0.0', `run ${run}: version ${v}`);
      versions.set(v, (versions.get(v) ?? 0) + 1);
      // A repeated apply then succeeds.
      const q = memoryPlatform(machine.config, flash);
      if (v === '1') {
        plantImage(q, SIGNED2, REQUEST_FLAGS.APPLY, fwupFormat.id, install);
        await boot(q);
        assert.equal(bootable(q), '2.0.0', `run ${run}: the retry installs`);
      }
    }
    console.log(`multi-cut: ${runs} runs, ${cuts} power cuts, versions after recovery ${JSON.stringify(Object.fromEntries(versions))}, bricked ${bricked}`);
    assert.equal(bricked, 0);
  });
}
