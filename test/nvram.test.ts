import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFlash } from '../src/storage/memory-flash.js';
import { FaultyFlash, isPowerCut, type FaultPlan } from '../src/storage/fault-flash.js';
import { planFlashMap, type FlashMap } from '../src/storage/flash-map.js';
import { VariableStore } from '../src/storage/nvram/variable-store.js';
import type { Flash, FlashGeometry } from '../src/storage/flash.js';
import { FwupError } from '../src/errors/fwup-error.js';
import { prngBytes, Rng } from './helpers/cli.js';

const G: FlashGeometry = { size: 1 << 20, blockSize: 4096, programAlign: 1 };
const MAP: FlashMap = planFlashMap(G);

function open(flash: Flash, writable = true, format = false) {
  return VariableStore.open(flash, MAP.NVRAM, MAP.NVRAM_SPARE, { writable, format });
}

function contents(s: VariableStore): Map<string, string> {
  return new Map(s.names().map((n) => [n, s.get(n)!.toString('hex')]));
}

/**
 * A base chip: formatted store with a few variables. `nearlyFull` churns a variable until fewer than
 * 48 bytes are free, so the next update cannot append and has to go through a reclaim.
 */
function baseChip(nearlyFull: boolean): { chip: Buffer; vars: Map<string, string> } {
  const f = new MemoryFlash(G);
  const s = open(f, true, true);
  s.set('Keep', Buffer.from('keep me'));
  s.set('Update', Buffer.from('old value'));
  s.set('Gone', Buffer.from('delete me'));
  if (nearlyFull) {
    for (let i = 1; s.usage().free > 1100; i++) s.set('Churn', prngBytes(i, 1000));
    s.set('Pad', Buffer.alloc(s.usage().free - 16 - 3 - 40, 0x11));
    assert.ok(s.usage().free < 48, `free ${s.usage().free}`);
  }
  return { chip: f.snapshot(), vars: contents(s) };
}

type Op = { name: string; run: (s: VariableStore) => void; expectNew: (before: Map<string, string>) => Map<string, string> };

const NEW_VALUE = Buffer.from('the new value, longer than the old one');
const OPS: Op[] = [
  {
    name: 'update an existing variable',
    run: (s) => s.set('Update', NEW_VALUE),
    expectNew: (b) => new Map(b).set('Update', NEW_VALUE.toString('hex')),
  },
  {
    name: 'create a variable',
    run: (s) => s.set('Fresh', Buffer.from('fresh')),
    expectNew: (b) => new Map(b).set('Fresh', Buffer.from('fresh').toString('hex')),
  },
  {
    name: 'delete a variable',
    run: (s) => assert.equal(s.delete('Gone'), true),
    expectNew: (b) => {
      const m = new Map(b);
      m.delete('Gone');
      return m;
    },
  },
  {
    name: 'explicit reclaim',
    run: (s) => s.reclaim(),
    expectNew: (b) => b,
  },
];

/** Run `op` once without faults and count its mutating flash operations. */
function countOps(chip: Buffer, op: Op): number {
  const f = new FaultyFlash(new MemoryFlash(G, chip), {});
  op.run(open(f));
  return f.operations;
}

/**
 * Cut (or tear) at operation k, power back on, reopen: every variable must hold its old or its new value
 * (all variables of an operation switch together: the old set or the new set), and the store stays usable.
 */
function sweep(fill: boolean, op: Op, plan: (k: number) => FaultPlan): { points: number; newSeen: number } {
  const { chip, vars } = baseChip(fill);
  const after = op.expectNew(vars);
  const n = countOps(chip, op);
  let newSeen = 0;
  for (let k = 1; k <= n + 1; k++) {
    const mem = new MemoryFlash(G, chip);
    const faulty = new FaultyFlash(mem, plan(k));
    let cut = false;
    try {
      op.run(open(faulty));
    } catch (e) {
      if (!isPowerCut(e)) throw e;
      cut = true;
    }
    if (k <= n) assert.ok(cut, `${op.name}: operation ${k} of ${n} was cut`);
    const reopened = open(mem);
    const got = contents(reopened);
    const isOld = sameMap(got, vars);
    const isNew = sameMap(got, after);
    assert.ok(isOld || isNew, `${op.name}, fill ${fill}, cut at ${k}/${n} (${JSON.stringify(plan(k))}): got ${[...got.keys()]} neither old nor new`);
    if (isNew) newSeen++;
    if (!cut) assert.ok(isNew, 'an uncut operation completed');
    // The store is usable afterwards: one more update, and a fresh open sees it.
    reopened.set('After', Buffer.from([k & 0xff]));
    const again = open(mem);
    assert.equal(again.get('After')?.[0], k & 0xff);
    assert.equal(again.get('Keep')?.toString(), 'keep me');
  }
  return { points: n + 1, newSeen };
}

function sameMap(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

// Plenty of room (the append path), and a nearly full log (the update runs through a reclaim that
// carries the new value).
for (const fill of [false, true]) {
  for (const op of OPS) {
    test(`nvram: power cut before every operation of "${op.name}" (${fill ? 'nearly full' : 'room'})`, () => {
      const r = sweep(fill, op, (k) => ({ powerCutBefore: k }));
      assert.ok(r.points >= 2);
    });
    test(`nvram: torn program/erase at every operation of "${op.name}" (${fill ? 'nearly full' : 'room'}, 5 seeds)`, () => {
      for (let seed = 1; seed <= 5; seed++) sweep(fill, op, (k) => ({ tornAt: k, seed: seed * 7919 + k }));
    });
  }
}

test('nvram: the nearly-full update really reclaims (generation moves)', () => {
  const { chip } = baseChip(true);
  const f = new MemoryFlash(G, chip);
  const s = open(f);
  const gen = s.usage().generation;
  s.set('Update', NEW_VALUE);
  assert.equal(open(f).usage().generation, gen + 1);
});

test('nvram: random multi-cut runs (up to 5 cuts inside the same update and its recoveries)', () => {
  const rng = new Rng(2024);
  for (let run = 0; run < 150; run++) {
    const fill = rng.int(2) === 0;
    const { chip, vars } = baseChip(fill);
    const op = OPS[rng.int(OPS.length)]!;
    const after = op.expectNew(vars);
    const mem = new MemoryFlash(G, chip);
    const cuts = 1 + rng.int(5);
    let done = false;
    for (let c = 0; c <= cuts && !done; c++) {
      const plan: FaultPlan = c === cuts ? {} : rng.int(2) ? { powerCutBefore: 1 + rng.int(12) } : { tornAt: 1 + rng.int(12), seed: rng.next() };
      try {
        const s = open(new FaultyFlash(mem, plan));
        // After a cut the OS retries the same operation (idempotent for set/reclaim; delete may find it gone).
        const got = contents(s);
        if (sameMap(got, after) && op.name !== 'explicit reclaim') done = true;
        else op.run(s);
        done = true;
      } catch (e) {
        if (!(isPowerCut(e) || (e instanceof assert.AssertionError && op.name === 'delete a variable'))) throw e;
      }
      const mid = contents(open(mem));
      assert.ok(sameMap(mid, vars) || sameMap(mid, after), `run ${run} cut ${c}: old or new`);
    }
    assert.ok(sameMap(contents(open(mem)), after), `run ${run}: the retried operation completed`);
  }
});

test('nvram: full store is a clear error and changes nothing', () => {
  const f = new MemoryFlash(G);
  const s = open(f, true, true);
  const big = prngBytes(1, 8000);
  let i = 0;
  assert.throws(() => {
    for (; i < 100; i++) s.set(`Big${i}`, big);
  }, (e: unknown) => e instanceof FwupError && e.code === 'NVRAM_FULL');
  const snapshot = f.snapshot();
  assert.throws(() => open(f).set('Another', big), (e: unknown) => e instanceof FwupError && e.code === 'NVRAM_FULL');
  assert.ok(f.snapshot().equals(snapshot), 'a refused set wrote nothing');
  assert.throws(() => s.set('Huge', Buffer.alloc(9000)), /limit is 8192/);
});

test('nvram: blank and damaged stores', () => {
  const f = new MemoryFlash(G);
  assert.throws(() => open(f), (e: unknown) => e instanceof FwupError && e.code === 'NVRAM_CORRUPT' && /not formatted/.test(e.message));
  open(f, true, true).set('X', Buffer.from('1'));
  open(f, true).set('Y', Buffer.from('2'));
  f.program(MAP.NVRAM.offset + 12, Buffer.alloc(4, 0)); // store header: generation cleared, CRC now wrong
  // Every record keeps its own CRC: a damaged header loses nothing. Read-only, the records are read as
  // they are and the damage is reported; a writable open rebuilds the store around them.
  const ro = open(f, false);
  assert.equal(ro.get('X')?.toString(), '1');
  assert.equal(ro.get('Y')?.toString(), '2');
  assert.equal(ro.usage().damage.header, true);
  const rw = open(f, true);
  assert.equal(rw.usage().damage.header, false, 'rebuilt');
  assert.equal(open(f, false).get('Y')?.toString(), '2');
  assert.equal(open(f, false).usage().damage.header, false);
});

test('nvram: a damaged record header in the middle of the log loses that record only', () => {
  const f = new MemoryFlash(G);
  const s = open(f, true, true);
  for (const n of ['A', 'B', 'C', 'D']) s.set(n, Buffer.from(n.repeat(6)));
  const image = f.snapshot();
  // Four damaged bytes of B's record header (its start id and state): the log used to end there.
  const at = image.indexOf(Buffer.from('B'), MAP.NVRAM.offset + 32) - 16;
  f.erase(MAP.NVRAM.offset, MAP.NVRAM.size);
  const broken = Buffer.from(image.subarray(MAP.NVRAM.offset, MAP.NVRAM.offset + MAP.NVRAM.size));
  broken.fill(0, at - MAP.NVRAM.offset, at - MAP.NVRAM.offset + 4);
  f.program(MAP.NVRAM.offset, broken);
  const ro = open(f, false);
  assert.deepEqual(ro.names(), ['A', 'C', 'D']);
  assert.equal(ro.get('D')?.toString(), 'DDDDDD');
  assert.ok(ro.usage().damage.skippedBytes > 0);
  const rw = open(f, true);
  rw.set('E', Buffer.from('e'));
  assert.deepEqual(open(f, false).names(), ['A', 'C', 'D', 'E'], 'the next write rebuilt the store around the good records');
  assert.equal(open(f, false).usage().damage.skippedBytes, 0);
});

test('nvram: a record whose data was damaged reads as absent, never as garbage', () => {
  const f = new MemoryFlash(G);
  const s = open(f, true, true);
  s.set('A', Buffer.from('aaaa'));
  s.set('B', Buffer.from('bbbb'));
  const image = f.snapshot();
  // Clear a bit in B's data (media damage): its CRC fails, B reads as absent rather than as garbage.
  const at = image.indexOf(Buffer.from('bbbb'), MAP.NVRAM.offset);
  f.program(at, Buffer.from([0x60]));
  const r = open(f);
  assert.equal(r.get('A')?.toString(), 'aaaa');
  assert.equal(r.get('B'), undefined);
});

test('nvram: read-only open during an interrupted reclaim reads the committed spare without writing', () => {
  const { chip } = baseChip(true);
  const mem = new MemoryFlash(G, chip);
  const n = countOps(chip, OPS[0]!);
  // Find a cut point after the spare commit (the copy-back erase of the primary).
  for (let k = 1; k <= n; k++) {
    const m = new MemoryFlash(G, chip);
    try {
      OPS[0]!.run(open(new FaultyFlash(m, { powerCutBefore: k })));
    } catch {
      /* cut */
    }
    const snap = m.snapshot();
    const ro = open(m, false);
    if (ro.get('Update')?.equals(NEW_VALUE) && !open(new MemoryFlash(G, snap), false).usage().dirtyTail) {
      assert.ok(m.snapshot().equals(snap), 'read-only open changed nothing');
      return;
    }
  }
  void mem;
  assert.fail('no cut point left the new value readable');
});

// One commit of several writes (the firmware records an update's outcome and clears the request so):
// two syncs, and a cut anywhere leaves each variable its old or its new value, as separate writes would.
for (const fill of [false, true]) {
  test(`nvram: commit of an update, a create and a delete: cut before and torn at every operation, each variable old or new (${fill ? 'nearly full' : 'room'})`, () => {
    const { chip, vars } = baseChip(fill);
    const ops = [{ name: 'Update', data: NEW_VALUE }, { name: 'Fresh', data: Buffer.from('fresh') }, { name: 'Gone', data: null }];
    const want = new Map(vars).set('Update', NEW_VALUE.toString('hex')).set('Fresh', Buffer.from('fresh').toString('hex'));
    want.delete('Gone');
    const whole = new MemoryFlash(G, chip);
    const counted = new FaultyFlash(whole, {});
    const s = open(counted);
    const syncsBefore = whole.stats.syncs;
    s.commit(ops);
    if (!fill) assert.equal(whole.stats.syncs - syncsBefore, 2, 'one barrier and one final sync');
    assert.ok(sameMap(contents(open(whole)), want), 'an uncut commit writes all of it');
    const n = counted.operations;
    let points = 0;
    for (const plan of [(k: number): FaultPlan => ({ powerCutBefore: k }), (k: number): FaultPlan => ({ tornAt: k, seed: 31 * k })]) {
      for (let k = 1; k <= n; k++) {
        const mem = new MemoryFlash(G, chip);
        assert.throws(() => open(new FaultyFlash(mem, plan(k))).commit(ops), isPowerCut);
        points++;
        const got = contents(open(mem));
        for (const name of ['Update', 'Fresh', 'Gone', 'Keep']) {
          const v = got.get(name);
          assert.ok(v === vars.get(name) || v === want.get(name), `${name} after a cut at ${k}/${n}: neither old nor new`);
        }
        assert.equal(got.size - [...got.keys()].filter((x) => x === 'Fresh' || x === 'Gone').length, vars.size - 1, `cut at ${k}: no other variable appears or disappears`);
        const again = open(mem);
        again.set('After', Buffer.of(k));
        assert.equal(open(mem).get('After')?.[0], k);
      }
    }
    assert.ok(points >= 4, `${points} cut points`);
  });
}
