import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile, truncate } from 'node:fs/promises';
import { MemoryFlash } from '../src/storage/memory-flash.js';
import { FileFlash } from '../src/storage/file-flash.js';
import { FaultyFlash, parseFaultPlan, isPowerCut } from '../src/storage/fault-flash.js';
import type { Flash, FlashGeometry } from '../src/storage/flash.js';
import { FwupError } from '../src/errors/fwup-error.js';
import { Rng, tempDir } from './helpers/cli.js';

const G: FlashGeometry = { size: 64 * 1024, blockSize: 4096, programAlign: 1 };

function violation(fn: () => void, re: RegExp) {
  assert.throws(fn, (e: unknown) => e instanceof FwupError && e.code === 'FLASH_VIOLATION' && re.test(e.message));
}

function semantics(make: () => Flash) {
  const f = make();
  assert.ok(f.read(0, 4096).every((b) => b === 0xff), 'a new chip reads erased');
  f.program(10, Buffer.from([0xf0, 0x0f]));
  assert.deepEqual([...f.read(10, 2)], [0xf0, 0x0f]);
  // Clearing more bits is fine; setting any bit back to 1 is refused and changes nothing.
  f.program(10, Buffer.from([0x70]));
  violation(() => f.program(10, Buffer.from([0xf0, 0x0f])), /would set bits 0->1 \(0x70 -> 0xf0\)/);
  assert.deepEqual([...f.read(10, 2)], [0x70, 0x0f]);
  violation(() => f.program(9, Buffer.from([0x00, 0xff, 0x00])), /at 10 would set bits/);
  assert.equal(f.read(9, 1)[0], 0xff, 'a refused program writes none of its bytes');
  violation(() => f.erase(100, 4096), /not aligned to the 4096-byte block/);
  violation(() => f.erase(0, 100), /not aligned/);
  violation(() => f.program(G.size - 1, Buffer.alloc(2)), /outside the 65536-byte chip/);
  violation(() => f.read(-1, 1), /outside/);
  f.erase(0, 4096);
  assert.ok(f.read(0, 4096).every((b) => b === 0xff));
  f.program(10, Buffer.from([0xf0]));
  const s = f.stats;
  assert.equal(s.programs, 3);
  assert.equal(s.erases, 1);
  assert.equal(s.bytesErased, 4096);
  f.sync();
  assert.equal(f.stats.syncs, 1);
  f.close();
}

test('memory flash: NOR rules (erase to 0xFF, program clears bits only, whole blocks, counted)', () => {
  semantics(() => new MemoryFlash(G));
});

test('file flash: the same rules over a file, durable and size-checked', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    semantics(() => FileFlash.create(join(dir, 'a.img'), G));
    const p = join(dir, 'b.img');
    FileFlash.create(p, G).close();
    const bytes = await readFile(p);
    assert.equal(bytes.length, G.size);
    assert.ok(bytes.every((b) => b === 0xff));
    assert.throws(() => FileFlash.create(p, G), (e: unknown) => e instanceof FwupError && e.code === 'FILE_EXISTS');
    await truncate(p, G.size - 4096);
    assert.throws(() => FileFlash.open(p, G), (e: unknown) => e instanceof FwupError && e.code === 'TARGET_CORRUPT' && /is 61440 bytes/.test(e.message));
  } finally {
    await cleanup();
  }
});

test('program alignment: a flash with 8-byte program units refuses misaligned programs', () => {
  const f = new MemoryFlash({ ...G, programAlign: 8 });
  f.program(8, Buffer.alloc(8, 0));
  violation(() => f.program(4, Buffer.alloc(8, 0)), /not aligned to 8 bytes/);
  violation(() => f.program(16, Buffer.alloc(3, 0)), /not aligned to 8 bytes/);
  assert.throws(() => new MemoryFlash({ ...G, programAlign: 3 }), /power of two/);
  assert.throws(() => new MemoryFlash({ ...G, size: 5000 }), /multiple of the block size/);
});

test('file flash and memory flash agree over 2000 random operations (differential)', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const mem = new MemoryFlash(G);
    const file = FileFlash.create(join(dir, 'f.img'), G);
    const rng = new Rng(42);
    for (let i = 0; i < 2000; i++) {
      const op = rng.int(3);
      if (op === 0) {
        const at = rng.int(G.size / 4096) * 4096;
        mem.erase(at, 4096);
        file.erase(at, 4096);
      } else {
        const at = rng.int(G.size - 64);
        const len = 1 + rng.int(64);
        const data = Buffer.alloc(len);
        for (let j = 0; j < len; j++) data[j] = rng.int(256);
        const r1 = attempt(() => mem.program(at, data));
        const r2 = attempt(() => file.program(at, data));
        assert.equal(r1, r2, `op ${i}: both models accept or refuse`);
      }
    }
    assert.ok(file.read(0, G.size).equals(mem.read(0, G.size)));
    assert.deepEqual(file.stats, mem.stats);
    file.close();
  } finally {
    await cleanup();
  }
});

function attempt(fn: () => void): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return (e as FwupError).code;
  }
}

test('fault wrapper: power cut before the N-th mutating operation, then no power at all', () => {
  const inner = new MemoryFlash(G);
  const f = new FaultyFlash(inner, { powerCutBefore: 3 });
  f.program(0, Buffer.from([0]));
  f.read(0, 1); // reads are not counted
  f.erase(4096, 4096);
  assert.throws(() => f.program(1, Buffer.from([0])), (e: unknown) => isPowerCut(e) && /before flash operation 3/.test((e as Error).message));
  assert.equal(inner.read(1, 1)[0], 0xff, 'the cut operation never ran');
  assert.throws(() => f.read(0, 1), isPowerCut);
  assert.throws(() => f.sync(), isPowerCut);
  assert.equal(f.operations, 3);
});

test('fault wrapper: a torn program leaves a prefix and only clears bits', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const inner = new MemoryFlash(G);
    inner.program(100, Buffer.from([0xf3, 0xf3, 0xf3, 0xf3, 0xf3, 0xf3, 0xf3, 0xf3]));
    const before = inner.read(100, 8);
    const data = Buffer.from([0x01, 0x02, 0x03, 0x00, 0x10, 0x20, 0x30, 0x00]);
    const f = new FaultyFlash(inner, { tornAt: 1, seed });
    assert.throws(() => f.program(100, data), isPowerCut);
    const after = inner.read(100, 8);
    let k = 0;
    while (k < 8 && after[k] === (before[k]! & data[k]!)) k++;
    // after the fully programmed prefix: at most one partial byte, the rest untouched
    for (let i = 0; i < 8; i++) {
      assert.equal(after[i]! & before[i]!, after[i], 'bits only cleared');
      assert.equal(after[i]! & data[i]!, before[i]! & data[i]!, 'never cleared a bit the program would not');
      if (i > k) assert.equal(after[i], before[i], `seed ${seed}: byte ${i} after the torn byte untouched`);
    }
  }
});

test('fault wrapper: a torn erase leaves the chip partly erased, reproducibly from the seed', () => {
  const run = (seed: number) => {
    const inner = new MemoryFlash(G);
    inner.program(0, Buffer.alloc(3 * 4096, 0x00));
    const f = new FaultyFlash(inner, { tornAt: 1, seed });
    assert.throws(() => f.erase(0, 3 * 4096), isPowerCut);
    return inner.read(0, 3 * 4096);
  };
  const a = run(7);
  assert.ok(a.equals(run(7)), 'same seed, same damage');
  assert.ok(!a.every((b) => b === 0xff) && !a.every((b) => b === 0x00), 'partly erased');
  let differs = false;
  for (let s = 8; s < 20 && !differs; s++) differs = !run(s).equals(a);
  assert.ok(differs, 'other seeds tear elsewhere');
});

test('fault wrapper: read bit flips change what is read, never what is stored', () => {
  const inner = new MemoryFlash(G);
  const f = new FaultyFlash(inner, { readBitFlipRate: 1, seed: 3 });
  const seen = f.read(0, 64);
  assert.equal(seen.filter((b) => b !== 0xff).length, 1);
  assert.ok(inner.read(0, 64).every((b) => b === 0xff));
});

test('FWUP_FAULT parsing', () => {
  assert.deepEqual(parseFaultPlan('powercut:12,seed:5'), { powerCutBefore: 12, seed: 5 });
  assert.deepEqual(parseFaultPlan('torn:3'), { tornAt: 3 });
  assert.deepEqual(parseFaultPlan('bitflip:0.5'), { readBitFlipRate: 0.5 });
  for (const bad of ['powercut', 'powercut:0', 'torn:x', 'boom:1', 'bitflip:2']) {
    assert.throws(() => parseFaultPlan(bad), (e: unknown) => e instanceof FwupError && e.code === 'USAGE', bad);
  }
});

