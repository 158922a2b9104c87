import { parentPort, workerData } from 'node:worker_threads';
import { C, CPU_STATE, cpuWord, G, nowMs, START_MODE, T, T_STRIDE, VECTOR, type SharedBuffers } from './shared-state.js';
import { readSlot, saveSlot } from './state-save.js';
import { initialState, programFor, REG_WORDS, runSteps } from './workload.js';
import { pageOffset } from './ram-layout.js';

/**
 * One worker thread runs several emulated CPUs round-robin in short slices (as QEMU's round-robin TCG
 * does). Between slices it polls the interrupt controller: a per-worker doorbell word that every IPI to
 * one of its CPUs bumps, so a rendezvous reaches all its CPUs within one slice. When none of its CPUs has
 * work, it sleeps in Atomics.wait on that doorbell.
 */
interface WorkerInit {
  index: number;
  cpus: number[];
  shared: SharedBuffers;
}

const init = workerData as WorkerInit;
const ctl = new Int32Array(init.shared.ctl);
const regs = new Int32Array(init.shared.regs);
const times = new Float64Array(init.shared.times);
const ram = new Uint8Array(init.shared.ram);
const ramWords = new Int32Array(init.shared.ram);
const seed = Atomics.load(ctl, G.SEED);
const batch = Atomics.load(ctl, G.BATCH);
const doorbell = G.WORKER_DOORBELL + init.index;
const programs = new Map(init.cpus.map((c) => [c, programFor(c, seed)]));

function setState(cpu: number, s: number): void {
  Atomics.store(ctl, cpuWord(cpu, C.STATE), s);
}

function signal(word: number): void {
  Atomics.add(ctl, word, 1);
  Atomics.notify(ctl, word);
}

/** Handle a pending vector for one CPU; returns true if it did anything. */
function interrupt(cpu: number): void {
  const v = Atomics.load(ctl, cpuWord(cpu, C.PENDING));
  if (v === VECTOR.NONE) return;
  const state = Atomics.load(ctl, cpuWord(cpu, C.STATE));
  if (v === VECTOR.RENDEZVOUS) {
    if (Atomics.load(ctl, cpuWord(cpu, C.DEAF))) return; // interrupts masked (test knob): never acknowledges
    if (state !== CPU_STATE.RUNNING && state !== CPU_STATE.IDLE && state !== CPU_STATE.PARKED) return;
    saveSlot(ram, Atomics.load(ctl, G.SAVE_ADDR), cpu, regs, cpu * REG_WORDS);
    setState(cpu, CPU_STATE.HALTED);
    times[cpu * T_STRIDE + T.ACK] = nowMs();
    Atomics.store(ctl, cpuWord(cpu, C.PENDING), VECTOR.NONE);
    signal(G.ACK_COUNT);
  } else if (v === VECTOR.START) {
    if (state !== CPU_STATE.WAIT_START && state !== CPU_STATE.HALTED) return;
    const mode = Atomics.load(ctl, cpuWord(cpu, C.START_MODE));
    let next: number = Atomics.load(ctl, cpuWord(cpu, C.IDLE)) ? CPU_STATE.IDLE : CPU_STATE.RUNNING;
    if (mode === START_MODE.RESUME) {
      // The resume vector: restore the register file from this CPU's slot, checked once more.
      const slot = readSlot(ram, Atomics.load(ctl, G.SAVE_ADDR), cpu);
      if (slot.ok) regs.set(slot.regs, cpu * REG_WORDS);
      else next = CPU_STATE.FAULT;
    } else {
      const s = initialState(cpu, seed);
      regs.set(s.regs, cpu * REG_WORDS);
      ramWords.set(s.page, pageOffset(cpu) / 4);
    }
    setState(cpu, next);
    times[cpu * T_STRIDE + T.START] = nowMs();
    Atomics.store(ctl, cpuWord(cpu, C.PENDING), VECTOR.NONE);
    signal(G.START_COUNT);
  } else if (v === VECTOR.CONTINUE) {
    if (state === CPU_STATE.HALTED) setState(cpu, Atomics.load(ctl, cpuWord(cpu, C.IDLE)) ? CPU_STATE.IDLE : CPU_STATE.RUNNING);
    Atomics.store(ctl, cpuWord(cpu, C.PENDING), VECTOR.NONE);
    signal(G.START_COUNT);
  }
}

function run(): void {
  let seen = -1;
  while (Atomics.load(ctl, G.SHUTDOWN) === 0) {
    let busy = false;
    for (const cpu of init.cpus) {
      const bell = Atomics.load(ctl, doorbell);
      if (bell !== seen) {
        // Something was signalled: serve every CPU of this worker now, not at its next turn.
        seen = bell;
        for (const c of init.cpus) interrupt(c);
      }
      if (Atomics.load(ctl, cpuWord(cpu, C.STATE)) !== CPU_STATE.RUNNING) continue;
      busy = true;
      const stopAt = (Atomics.load(ctl, cpuWord(cpu, C.STOP_HI)) >>> 0) * 0x1_0000_0000 + (Atomics.load(ctl, cpuWord(cpu, C.STOP_LO)) >>> 0);
      const done = runSteps(regs, cpu * REG_WORDS, ramWords, pageOffset(cpu) / 4, programs.get(cpu)!, batch, stopAt);
      if (stopAt > 0 && done < batch) {
        setState(cpu, CPU_STATE.PARKED);
        signal(G.PARK_COUNT);
      }
    }
    if (!busy) {
      const bell = Atomics.load(ctl, doorbell);
      if (bell === seen) Atomics.wait(ctl, doorbell, bell, 200);
    }
  }
}

parentPort!.postMessage({ ready: init.index });
run();
parentPort!.postMessage({ exited: init.index });
