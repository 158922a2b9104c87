/**
 * The deterministic OS workload each emulated CPU runs. A CPU's whole architectural state is its
 * register file (8 general registers, program counter, flags, a 64-bit step counter) plus its page of
 * RAM; `runSteps` is the only code that executes it, in the workers and in the reference, so "the state
 * was restored" can be checked exactly: resume from a snapshot must reach the same state as a reference
 * run from the same snapshot.
 */

export const REG = { R0: 0, PC: 8, FLAGS: 9, STEP_LO: 10, STEP_HI: 11 } as const;
/** 32-bit words per register file. */
export const REG_WORDS = 12;
export const REG_BYTES = REG_WORDS * 4;
/** Words in each CPU's private page of RAM (4 KiB). */
export const PAGE_WORDS = 1024;
export const PAGE_BYTES = PAGE_WORDS * 4;
const PROGRAM_LENGTH = 16;

/** A CPU's program: 16 instructions derived from its id, packed as [op, a, b, imm]. */
export function programFor(cpu: number, seed: number): Int32Array {
  const p = new Int32Array(PROGRAM_LENGTH * 4);
  let x = (seed ^ Math.imul(cpu + 1, 0x9e3779b1)) >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  for (let i = 0; i < PROGRAM_LENGTH; i++) {
    p[i * 4] = next() % 6;
    p[i * 4 + 1] = next() % 8;
    p[i * 4 + 2] = next() % 8;
    p[i * 4 + 3] = next() | 0;
  }
  return p;
}

/** Initial register file and page content of a CPU at a cold boot. */
export function initialState(cpu: number, seed: number): { regs: Int32Array; page: Int32Array } {
  const regs = new Int32Array(REG_WORDS);
  for (let i = 0; i < 8; i++) regs[i] = Math.imul(seed + 1, 0x85ebca6b) ^ Math.imul(cpu * 8 + i + 1, 0xc2b2ae35);
  const page = new Int32Array(PAGE_WORDS);
  for (let i = 0; i < PAGE_WORDS; i++) page[i] = Math.imul(i + 1, 0x27d4eb2f) ^ (cpu << 16);
  return { regs, page };
}

/**
 * Execute up to `n` instructions of a CPU whose register file starts at `regs[rb]` and page at
 * `page[pb]`. Stops early when the step counter reaches `stopAt` (0 = no limit). Returns steps done.
 */
export function runSteps(regs: Int32Array, rb: number, page: Int32Array, pb: number, program: Int32Array, n: number, stopAt = 0): number {
  let pc = regs[rb + REG.PC]! & 15;
  let flags = regs[rb + REG.FLAGS]!;
  let lo = regs[rb + REG.STEP_LO]! >>> 0;
  let hi = regs[rb + REG.STEP_HI]! >>> 0;
  let limit = n;
  if (stopAt > 0) {
    const done = hi * 0x1_0000_0000 + lo;
    limit = Math.max(0, Math.min(n, stopAt - done));
  }
  const r0 = rb + REG.R0;
  for (let i = 0; i < limit; i++) {
    const o = pc << 2;
    const op = program[o]!;
    const a = r0 + program[o + 1]!;
    const b = r0 + program[o + 2]!;
    const imm = program[o + 3]!;
    let v: number;
    let next = (pc + 1) & 15;
    switch (op) {
      case 0:
        v = (regs[a]! + regs[b]! + imm) | 0;
        regs[a] = v;
        break;
      case 1: {
        const s = imm & 31;
        const x = regs[b]!;
        v = regs[a]! ^ ((x << s) | (x >>> (32 - s)));
        regs[a] = v;
        break;
      }
      case 2:
        v = Math.imul(regs[a]! | 1, (regs[b]! + imm) | 0);
        regs[a] = v;
        break;
      case 3:
        v = page[pb + ((regs[b]! + imm) & (PAGE_WORDS - 1))]!;
        regs[a] = v;
        break;
      case 4:
        v = regs[b]!;
        page[pb + ((regs[a]! + imm) & (PAGE_WORDS - 1))] = v;
        break;
      default:
        v = regs[a]!;
        if (v & 1) next = imm & 15;
        break;
    }
    flags = (v === 0 ? 1 : 0) | ((v >>> 31) << 1);
    pc = next;
    lo = (lo + 1) >>> 0;
    if (lo === 0) hi = (hi + 1) >>> 0;
  }
  regs[rb + REG.PC] = pc;
  regs[rb + REG.FLAGS] = flags;
  regs[rb + REG.STEP_LO] = lo | 0;
  regs[rb + REG.STEP_HI] = hi | 0;
  return limit;
}

export function stepCount(regs: Int32Array, rb = 0): number {
  return (regs[rb + REG.STEP_HI]! >>> 0) * 0x1_0000_0000 + (regs[rb + REG.STEP_LO]! >>> 0);
}

/** The reference: run a copy of a state forward to `untilStep` and return it. */
export function referenceRun(cpu: number, seed: number, from: { regs: Int32Array; page: Int32Array }, untilStep: number): { regs: Int32Array; page: Int32Array } {
  const regs = Int32Array.from(from.regs);
  const page = Int32Array.from(from.page);
  const program = programFor(cpu, seed);
  while (stepCount(regs) < untilStep) runSteps(regs, 0, page, 0, program, 1 << 20, untilStep);
  return { regs, page };
}
