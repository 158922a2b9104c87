import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EmulatedMachine } from '../src/machine/machine.js';
import { initSaveArea, readSlot, areaCrc } from '../src/machine/state-save.js';
import { RAM_SAVE_AREA_BASE } from '../src/machine/ram-layout.js';
import { CPU_STATE } from '../src/machine/shared-state.js';
import { initialState, referenceRun } from '../src/machine/workload.js';
import { FwupError } from '../src/errors/fwup-error.js';

const RAM = 4 << 20;

async function running(cpus: number, extra: Partial<Parameters<typeof EmulatedMachine.create>[0]> = {}) {
  const m = await EmulatedMachine.create({ cpus, ramBytes: RAM, hostCpus: 2, seed: 7, ...extra });
  m.start('cold');
  m.waitProgress(new Array(cpus).fill(50_000));
  return m;
}

test('machine: CPUs run on a pool no larger than the host cores; the workload matches the reference from power-on', async () => {
  const m = await running(5);
  try {
    assert.equal(m.workers, 2);
    const target = Math.max(...m.steps()) + 300_000;
    m.parkAt(new Array(5).fill(target));
    for (let c = 0; c < 5; c++) {
      const ref = referenceRun(c, 7, initialState(c, 7), target);
      const got = m.snapshot(c);
      assert.equal(got.step, target);
      assert.deepEqual([...got.regs], [...ref.regs], `CPU ${c} registers`);
      assert.deepEqual([...got.page], [...ref.page], `CPU ${c} page`);
    }
  } finally {
    await m.stop();
  }
});

test('machine: rendezvous saves every register file exactly; a warm reset clears them; resume restores them', async () => {
  const m = await running(16, { idleCpus: [3, 9] });
  try {
    initSaveArea(m.ram, RAM_SAVE_AREA_BASE, 16);
    const r = m.rendezvous(RAM_SAVE_AREA_BASE, 5000);
    assert.equal(r.ackLatencyMs.length, 16);
    assert.ok(r.ackLatencyMs.every((x) => x > 0), 'busy and idle CPUs all acknowledged');
    const snaps = Array.from({ length: 16 }, (_, c) => m.snapshot(c));
    for (let c = 0; c < 16; c++) {
      assert.equal(m.state(c), CPU_STATE.HALTED);
      const slot = readSlot(m.ram, RAM_SAVE_AREA_BASE, c);
      assert.ok(slot.ok);
      assert.deepEqual([...slot.regs], [...snaps[c]!.regs]);
    }
    const crc = areaCrc(m.ram, RAM_SAVE_AREA_BASE, 16);
    m.warmReset();
    assert.ok(Array.from({ length: 16 }, (_, c) => m.snapshot(c).regs.every((x) => x === 0)), 'registers cleared');
    assert.equal(areaCrc(m.ram, RAM_SAVE_AREA_BASE, 16), crc, 'RAM (the save area) survives a warm reset');
    m.parkAt(snaps.map((s) => s.step));
    m.start('resume');
    m.waitParked(5000);
    for (let c = 0; c < 16; c++) {
      const now = m.snapshot(c);
      assert.deepEqual([...now.regs], [...snaps[c]!.regs], `CPU ${c} restored`);
      assert.deepEqual([...now.page], [...snaps[c]!.page], `CPU ${c} page intact`);
    }
    // And it goes on exactly as an uninterrupted run would.
    const targets = snaps.map((s) => s.step + 200_000);
    m.unpark(targets);
    m.waitParked(10000);
    for (let c = 0; c < 16; c++) {
      if (c === 3 || c === 9) continue; // idle CPUs do not compute
      const ref = referenceRun(c, 7, snaps[c]!, targets[c]!);
      assert.deepEqual([...m.snapshot(c).regs], [...ref.regs], `CPU ${c} continues like the reference`);
    }
  } finally {
    await m.stop();
  }
});

test('machine: a CPU that never acknowledges times out the rendezvous; the others continue untouched', async () => {
  const m = await running(4, { deafCpus: [2] });
  try {
    initSaveArea(m.ram, RAM_SAVE_AREA_BASE, 4);
    assert.throws(
      () => m.rendezvous(RAM_SAVE_AREA_BASE, 200),
      (e: unknown) => e instanceof FwupError && e.code === 'MACHINE_TIMEOUT' && /CPU 2 did not acknowledge/.test(e.message),
    );
    const before = m.steps();
    m.waitProgress(before);
    for (let c = 0; c < 4; c++) assert.equal(m.state(c), CPU_STATE.RUNNING, `CPU ${c} runs again`);
  } finally {
    await m.stop();
  }
});

test('machine: a cold reset clears RAM too; a damaged save slot is refused at resume', async () => {
  const m = await running(2);
  try {
    initSaveArea(m.ram, RAM_SAVE_AREA_BASE, 2);
    m.rendezvous(RAM_SAVE_AREA_BASE, 5000);
    m.warmReset();
    const at = RAM_SAVE_AREA_BASE + 32 + 64 + 10; // inside CPU 1's saved registers
    m.ram[at] = m.ram[at]! ^ 0xff;
    m.start('resume');
    assert.equal(m.state(1), CPU_STATE.FAULT, 'the resume code never loads a state that fails its CRC');
    assert.equal(m.state(0), CPU_STATE.RUNNING);
    m.parkAt([m.steps()[0]! + 1000, 0]); // quiesce CPU 0 (CPU 1 is not executing)
    m.coldReset();
    assert.ok(m.ram.every((b) => b === 0));
  } finally {
    await m.stop();
  }
});
