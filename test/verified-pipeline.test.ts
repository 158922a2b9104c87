import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { quietContext } from '../src/core/context.js';
import { stage } from '../src/core/stage.js';
import { FwupError } from '../src/errors/fwup-error.js';
import { crc32 } from '../src/util/crc32.js';
import { MemoryFlash } from '../src/storage/memory-flash.js';
import type { Flash, FlashGeometry, FlashStats } from '../src/storage/flash.js';
import { LAST_ATTEMPT_STATUS, REQUEST_FLAGS } from '../src/storage/variables.js';
import { DEFAULT_IMAGE_TYPE_ID } from '../src/machine/config.js';
import { platformOn } from '../src/machine/platform.js';
import { chipOf } from '../src/machine/chip.js';
import { firmwareBoot } from '../src/machine/firmware/firmware.js';
import { fwup, hashTree, json, REPO_ROOT, tempDir } from './helpers/cli.js';
import { forgeCrc } from './helpers/crc-forge.js';
import { initMachine, statusJson } from './helpers/machine.js';
import { activeImage, bootFirmware, makeMemoryMachine } from './helpers/memory-platform.js';
import { plantImage } from './helpers/plant.js';

const FIX = join(REPO_ROOT, 'fixtures');
const SIGNED2 = join(FIX, 'images', 'fw-2.0.0-signed.fwup');
const PEM = readFileSync(join(FIX, 'keys', 'test-release.pub'), 'utf8');

test('pipeline: a file rewritten between the verify pass and the write pass with the same CRC-32 and length is not staged: the bytes written are the bytes verified', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir, ['--trust', join(FIX, 'keys', 'test-release.pub')]);
    const img = join(dir, 'fw.fwup');
    const good = await readFile(SIGNED2);
    await writeFile(img, good);
    // The attacker's bytes: a changed payload with the same length and CRC-32 as the verified file.
    const evil = Buffer.from(good);
    evil.fill(0x90, good.length - 4096, good.length - 64);
    forgeCrc(evil, good.length - 32, crc32(good));
    assert.equal(crc32(evil), crc32(good));
    assert.notEqual(createHash('sha256').update(evil).digest('hex'), createHash('sha256').update(good).digest('hex'));
    const ctx = quietContext(dir);
    let swapped = false;
    await assert.rejects(
      stage(ctx, img, {
        target: t, allowOlder: false, allowUnsigned: false, allowReinstall: false,
        betweenPasses: async () => {
          // In place, on the same inode the one open descriptor reads: a rename would not even be seen.
          const fh = await (await import('node:fs/promises')).open(img, 'r+');
          await fh.write(evil, 0, evil.length, 0);
          await fh.close();
          swapped = true;
        },
      }),
      (e: unknown) => e instanceof FwupError && e.code === 'FILE_IO' && /changed between its verification and the write/.test(e.message),
    );
    assert.ok(swapped);
    const st = await statusJson(dir, t);
    assert.equal(st.staged, null, 'nothing points at what was written');
    const a = await fwup(['apply', '--warm', '--target', t, '--json'], { cwd: dir });
    assert.equal(a.code, 3, a.stdout);
    assert.equal(json<{ error: { code: string } }>(a).error.code, 'NOT_STAGED');
    assert.equal((await statusJson(dir, t)).firmware.version, '1');
  } finally {
    await cleanup();
  }
});

/** A chip whose reads of a range flip one bit once armed: a fault that strikes during the firmware's copy. */
class FlipInRange implements Flash {
  reads = 0;
  armed = false;
  constructor(private readonly inner: Flash, private readonly from: number, private readonly to: number) {}
  get geometry(): FlashGeometry {
    return this.inner.geometry;
  }
  get stats(): Readonly<FlashStats> {
    return this.inner.stats;
  }
  read(offset: number, length: number, into?: Buffer): Buffer {
    const out = this.inner.read(offset, length, into);
    if (this.armed && offset < this.to && offset + length > this.from) {
      this.reads++;
      const at = Math.max(offset, this.from) - offset + 100;
      out[at] = out[at]! ^ 0x10;
    }
    return out;
  }
  program(o: number, d: Uint8Array): void {
    this.inner.program(o, d);
  }
  erase(o: number, l: number): void {
    this.inner.erase(o, l);
  }
  sync(): void {}
  close(): void {}
}

test('pipeline: a bit flipped in STAGING while the firmware copies it is caught before activation; the machine stays on the old firmware with the status recorded', async () => {
  const m = makeMemoryMachine({ trustPem: [PEM] });
  const base = new MemoryFlash(m.config.flash, m.chip);
  const setup = platformOn('(memory)', m.config, base);
  plantImage(setup, readFileSync(SIGNED2));
  const staging = setup.map.STAGING;
  const slotB = setup.map.SLOT_B;
  const before = base.read(slotB.offset, slotB.size);
  // The firmware verifies STAGING, then copies it: the reads of the copy (from the 'program' phase on) see a bit flipped.
  const flaky = new FlipInRange(base, staging.offset, staging.offset + staging.size);
  const p = platformOn('(memory)', m.config, flaky);
  const r = await firmwareBoot({ chip: chipOf(p), ram: new Uint8Array(0), cpus: 2, cause: 'cold', now: () => new Date(), phase: (ph) => { if (ph === 'program') flaky.armed = true; } });
  assert.equal(r.installed, null);
  assert.equal(r.rejected?.status, LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL);
  assert.match(r.rejected!.reason, /differ from the ones verified/);
  assert.equal(activeImage(p).version, '1');
  assert.equal(p.services.lastAttempt()?.status, LAST_ATTEMPT_STATUS.ERROR_UNSUCCESSFUL);
  assert.ok(flaky.reads > 0, 'the flip happened during the copy');
  // A clean boot afterwards: the old firmware, slot B not bootable (never activated), nothing to undo.
  const again = platformOn('(memory)', m.config, base);
  await bootFirmware(again, 'power-on');
  assert.equal(activeImage(again).version, '1');
  assert.notEqual(again.services.status().slots.B.state, 'verified');
  assert.ok(!base.read(slotB.offset, slotB.size).equals(before), 'slot B was written (and never activated)');
});

test('pipeline: size edges per format: the largest image stage takes installs, one byte more is refused, an empty payload is refused; refusals write nothing', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir, ['--development']);
    const mdir = join(dir, 'm');
    // The slot size of a 2 MiB machine, from the flash map.
    const { planFlashMap } = await import('../src/storage/flash-map.js');
    const slot = planFlashMap({ size: 2 << 20, blockSize: 4096, programAlign: 1 }).SLOT_A.size;
    const { payloadSlotHeader } = await import('../src/image/formats/raw.js');
    const { rawReport } = await import('../src/image/raw-format.js');
    const rawHeader = (n: number) => payloadSlotHeader(rawReport({ version: '9', versionNumber: 9, platform: null, lowestSupportedVersion: 0, securityVersion: 0 }, { length: n, crc32: 0, sha256: '0'.repeat(64) }), 'fwup-emu').length;
    const maxRaw = slot - rawHeader(slot);
    const cases: Array<{ what: string; file: string; args: string[] }> = [];
    await writeFile(join(dir, 'raw-max.bin'), Buffer.alloc(maxRaw, 0x5a));
    await writeFile(join(dir, 'raw-over.bin'), Buffer.alloc(maxRaw + 1, 0x5a));
    await writeFile(join(dir, 'raw-empty.bin'), Buffer.alloc(0));
    // .fwup: the image itself must fit (header included).
    const pack = async (name: string, size: number) => {
      await writeFile(join(dir, `${name}.bin`), Buffer.alloc(size, 0x3c));
      const r = await fwup(['pack', `${name}.bin`, '-o', `${name}.fwup`, '--version', '5.0.0'], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
    };
    await pack('probe', 1);
    const fwupHeader = (await readFile(join(dir, 'probe.fwup'))).length - 1;
    await pack('fwup-max', slot - fwupHeader);
    await pack('fwup-over', slot - fwupHeader + 1);
    await pack('fwup-empty', 0);
    // Capsules: the capsule must fit STAGING and its payload (with the slot header) a slot.
    const capsule = async (name: string, size: number) => {
      await writeFile(join(dir, `${name}.bin`), Buffer.alloc(size, 0x7e));
      const r = await fwup(['pack', `${name}.bin`, '-o', `${name}.cap`, '--format', 'capsule', '--guid', DEFAULT_IMAGE_TYPE_ID, '--version', '0x10'], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
    };
    await capsule('cprobe', 1);
    const capOverhead = (await readFile(join(dir, 'cprobe.cap'))).length - 1;
    const capSlotHeader = payloadSlotHeader({ ...rawReport({ version: '0x00000010', versionNumber: 16, platform: null, lowestSupportedVersion: 0, securityVersion: 0 }, { length: 1, crc32: 0, sha256: '0'.repeat(64) }), format: 'capsule' }, 'fwup-emu').length;
    const maxCap = slot - Math.max(capOverhead, capSlotHeader);
    await capsule('cap-max', maxCap);
    await capsule('cap-over', maxCap + 1);
    // An empty FMP payload is no capsule at all (edk2 rejects it): pack refuses to make one.
    await writeFile(join(dir, 'cap-empty.bin'), Buffer.alloc(0));
    const empty = await fwup(['pack', 'cap-empty.bin', '-o', 'cap-empty.cap', '--format', 'capsule', '--guid', DEFAULT_IMAGE_TYPE_ID, '--version', '0x10'], { cwd: dir });
    assert.equal(empty.code, 4, empty.stderr);
    cases.push(
      { what: 'capsule, one byte too many', file: 'cap-over.cap', args: ['--allow-unsigned'] },
      { what: 'raw, one byte too many', file: 'raw-over.bin', args: ['--version', '9', '--allow-unsigned'] },
      { what: 'raw, empty', file: 'raw-empty.bin', args: ['--version', '9', '--allow-unsigned'] },
      { what: '.fwup, one byte too many', file: 'fwup-over.fwup', args: ['--allow-unsigned'] },
      { what: '.fwup, empty payload', file: 'fwup-empty.fwup', args: ['--allow-unsigned'] },
    );
    for (const c of cases) {
      const before = await hashTree(mdir);
      const r = await fwup(['stage', c.file, ...c.args, '--target', t, '--json'], { cwd: dir });
      assert.equal(r.code, 8, `${c.what}: ${r.stdout}`);
      assert.match(json<{ error: { code: string } }>(r).error.code, /POLICY_(TOO_LARGE|EMPTY)/, c.what);
      assert.equal(await hashTree(mdir), before, `${c.what}: nothing written`);
    }
    for (const [file, args] of [['raw-max.bin', ['--version', '9', '--allow-unsigned']], ['fwup-max.fwup', ['--allow-unsigned', '--allow-older']], ['cap-max.cap', ['--allow-unsigned', '--allow-older']]] as const) {
      let r = await fwup(['stage', file, ...args, '--target', t, '--json'], { cwd: dir });
      assert.equal(r.code, 0, `${file}: ${r.stdout}`);
      r = await fwup(['apply', '--warm', '--target', t, '--json'], { cwd: dir });
      assert.equal(r.code, 0, `${file}: the largest accepted image installs: ${r.stdout}`);
    }
    console.log(`size edges: slot ${slot} bytes, largest raw payload ${maxRaw}, largest .fwup payload ${slot - fwupHeader}, largest capsule payload ${maxCap}`);
  } finally {
    await cleanup();
  }
});

test('pipeline: an image planted past the stage check that a slot cannot hold is refused by the firmware before anything is written, and no power event is recorded', async () => {
  const m = makeMemoryMachine({ development: true });
  const flash = new MemoryFlash(m.config.flash, m.chip);
  const p = platformOn('(memory)', m.config, flash);
  // A raw payload filling STAGING exactly: it fits STAGING, but not a slot once it has a header.
  const raw = Buffer.alloc(p.map.STAGING.size, 0x42);
  const req = plantImage(p, raw, REQUEST_FLAGS.APPLY | REQUEST_FLAGS.ALLOW_UNSIGNED, 3);
  p.services.setRequest({ ...req, versionNumber: 7, version: '7' });
  const slots = () => flash.read(p.map.SLOT_A.offset, p.map.SLOT_A.size * 2);
  const before = slots();
  const r = await bootFirmware(p, 'cold');
  assert.equal(r.rejected?.status, LAST_ATTEMPT_STATUS.ERROR_INSUFFICIENT_RESOURCES, JSON.stringify(r.rejected));
  assert.ok(slots().equals(before), 'no slot byte written');
  const h = p.services.history();
  assert.ok(!h.some((e) => e.action === 'interrupted'), 'history never records an event that did not happen');
  assert.equal(h.at(-1)?.action, 'reject');
});
