import { REG_WORDS } from './workload.js';

/**
 * The shared memory between the machine (main thread) and the CPU workers. Three SharedArrayBuffers:
 * register files (the CPUs' architectural state: cleared by any reset), control words (the interrupt
 * controller, the reset cause, start and park signals), and per-CPU timestamps. RAM is a fourth.
 */
export const CPU_STATE = {
  /** Powered, not started (APs waiting for the start signal, like x86 APs before SIPI). */
  WAIT_START: 0,
  RUNNING: 1,
  /** Waiting for an interrupt (an idle OS CPU): the worker sleeps in Atomics.wait if all its CPUs are. */
  IDLE: 2,
  /** Took the rendezvous interrupt, saved its state, acknowledged. */
  HALTED: 3,
  /** Reached its step target (outcome check) and stopped there. */
  PARKED: 4,
  /** Its saved state failed the check at resume: not loaded. */
  FAULT: 5,
} as const;

/** RENDEZVOUS: save state and halt. START: begin at the reset vector (cold) or the resume vector. CONTINUE: leave a halt with registers intact (a rendezvous that was called off). */
export const VECTOR = { NONE: 0, RENDEZVOUS: 0xf0, START: 0xf1, CONTINUE: 0xf2 } as const;
export const START_MODE = { COLD: 1, RESUME: 2 } as const;

/** Global control words. */
export const G = {
  SHUTDOWN: 0,
  ACK_COUNT: 1,
  START_COUNT: 2,
  PARK_COUNT: 3,
  RESET_CAUSE: 4,
  SAVE_ADDR: 5,
  SEED: 6,
  BATCH: 7,
  WORKER_DOORBELL: 16, // + worker index (up to 64 workers)
} as const;

export const RESET_CAUSE = { POWER_ON: 0, WARM: 1, COLD: 2 } as const;

/** Per-CPU control words, CPU_STRIDE each, starting at CPU_BASE. */
export const C = {
  PENDING: 0,
  STATE: 1,
  START_MODE: 2,
  STOP_LO: 3,
  STOP_HI: 4,
  IDLE: 5,
  DEAF: 6,
} as const;
export const CPU_BASE = 96;
export const CPU_STRIDE = 8;

/** Per-CPU timestamps (ms, epoch-based so workers and main thread agree). */
export const T = { ACK: 0, START: 1, IPI_SENT: 2 } as const;
export const T_STRIDE = 4;

export interface SharedBuffers {
  regs: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  times: SharedArrayBuffer;
  ram: SharedArrayBuffer;
}

export function allocateShared(cpus: number, ramBytes: number): SharedBuffers {
  return {
    regs: new SharedArrayBuffer(cpus * REG_WORDS * 4),
    ctl: new SharedArrayBuffer((CPU_BASE + cpus * CPU_STRIDE) * 4),
    times: new SharedArrayBuffer(cpus * T_STRIDE * 8),
    ram: new SharedArrayBuffer(ramBytes),
  };
}

export function cpuWord(cpu: number, field: number): number {
  return CPU_BASE + cpu * CPU_STRIDE + field;
}

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
