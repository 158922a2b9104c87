import { FwupError } from '../errors/fwup-error.js';
import { CpuPool } from './cpu-pool.js';
import { Sha256Engine } from './sha256-engine.js';
import {
  allocateShared, C, CPU_STATE, cpuWord, G, nowMs, RESET_CAUSE, START_MODE, T, T_STRIDE, VECTOR, type SharedBuffers,
} from './shared-state.js';
import { PAGE_WORDS, REG_WORDS, stepCount } from './workload.js';
import { pageOffset } from './ram-layout.js';

export interface MachineOptions {
  cpus: number;
  ramBytes: number;
  hostCpus: number;
  /** Seed of the OS workload (programs and initial state). */
  seed: number;
  /** Instructions per slice between interrupt polls. */
  batch?: number;
  /** CPUs that idle (wait for interrupts) instead of computing. */
  idleCpus?: readonly number[];
  /** CPUs with interrupts masked: they never acknowledge a rendezvous (test knob). */
  deafCpus?: readonly number[];
}

export interface CpuSnapshot {
  cpu: number;
  regs: Int32Array;
  page: Int32Array;
  step: number;
}

export interface RendezvousResult {
  /** ms from the IPI to each CPU's acknowledgement. */
  ackLatencyMs: number[];
  totalMs: number;
}

export const DEFAULT_BATCH = 4096;

/**
 * The emulated machine's processors, RAM, interrupt controller and reset controller. The firmware and the
 * OS-side procedures drive it; it owns no flash (the platform does).
 */
export class EmulatedMachine {
  readonly ram: Uint8Array;
  private readonly ctl: Int32Array;
  private readonly regs: Int32Array;
  private readonly times: Float64Array;
  readonly bootedAt = Date.now();

  private constructor(readonly options: MachineOptions, readonly shared: SharedBuffers, private readonly pool: CpuPool, readonly hashEngine: Sha256Engine) {
    this.ram = new Uint8Array(shared.ram);
    this.ctl = new Int32Array(shared.ctl);
    this.regs = new Int32Array(shared.regs);
    this.times = new Float64Array(shared.times);
  }

  /** Power on: processors in reset, waiting for the start signal; RAM cleared. */
  static async create(options: MachineOptions): Promise<EmulatedMachine> {
    const shared = allocateShared(options.cpus, options.ramBytes);
    const ctl = new Int32Array(shared.ctl);
    ctl[G.SEED] = options.seed | 0;
    ctl[G.BATCH] = options.batch ?? DEFAULT_BATCH;
    ctl[G.RESET_CAUSE] = RESET_CAUSE.POWER_ON;
    for (const c of options.idleCpus ?? []) ctl[cpuWord(c, C.IDLE)] = 1;
    for (const c of options.deafCpus ?? []) ctl[cpuWord(c, C.DEAF)] = 1;
    const [pool, engine] = await Promise.all([CpuPool.start(shared, options.cpus, options.hostCpus), Sha256Engine.start()]);
    return new EmulatedMachine(options, shared, pool, engine);
  }

  get cpus(): number {
    return this.options.cpus;
  }

  get workers(): number {
    return this.pool.size;
  }

  state(cpu: number): number {
    return Atomics.load(this.ctl, cpuWord(cpu, C.STATE));
  }

  steps(): number[] {
    return Array.from({ length: this.cpus }, (_, c) => stepCount(this.regs, c * REG_WORDS));
  }

  /** Send START to every CPU (cold: reset vector; resume: restore from the save area) and wait. */
  start(mode: 'cold' | 'resume', timeoutMs = 5000): { latencyMs: number[] } {
    const sent = nowMs();
    Atomics.store(this.ctl, G.START_COUNT, 0);
    for (let c = 0; c < this.cpus; c++) {
      Atomics.store(this.ctl, cpuWord(c, C.START_MODE), mode === 'cold' ? START_MODE.COLD : START_MODE.RESUME);
      Atomics.store(this.ctl, cpuWord(c, C.PENDING), VECTOR.START);
    }
    this.pool.ringAll();
    this.waitCount(G.START_COUNT, this.cpus, timeoutMs, 'start');
    return { latencyMs: Array.from({ length: this.cpus }, (_, c) => this.times[c * T_STRIDE + T.START]! - sent) };
  }

  /**
   * The rendezvous: an IPI to every CPU; each saves its register file into its slot of the save area at
   * `saveAddr`, acknowledges and halts. If some CPU does not acknowledge within the timeout, the others
   * are released with their registers intact and MACHINE_TIMEOUT is thrown: nothing changed.
   */
  rendezvous(saveAddr: number, timeoutMs: number): RendezvousResult {
    Atomics.store(this.ctl, G.SAVE_ADDR, saveAddr);
    Atomics.store(this.ctl, G.ACK_COUNT, 0);
    const sent = nowMs();
    for (let c = 0; c < this.cpus; c++) {
      this.times[c * T_STRIDE + T.ACK] = 0;
      Atomics.store(this.ctl, cpuWord(c, C.PENDING), VECTOR.RENDEZVOUS);
    }
    this.pool.ringAll();
    try {
      this.waitCount(G.ACK_COUNT, this.cpus, timeoutMs, 'rendezvous');
    } catch (e) {
      const missing = Array.from({ length: this.cpus }, (_, c) => c).filter((c) => this.state(c) !== CPU_STATE.HALTED);
      for (const c of missing) Atomics.store(this.ctl, cpuWord(c, C.PENDING), VECTOR.NONE);
      this.continueHalted();
      throw new FwupError('MACHINE_TIMEOUT', `CPU${missing.length > 1 ? 's' : ''} ${missing.join(', ')} did not acknowledge the rendezvous IPI within ${timeoutMs} ms`, {
        hint: 'nothing was changed: the other CPUs continued; retry, or raise --timeout',
        details: { missing },
        cause: e,
      });
    }
    const total = nowMs() - sent;
    return { ackLatencyMs: Array.from({ length: this.cpus }, (_, c) => this.times[c * T_STRIDE + T.ACK]! - sent), totalMs: total };
  }

  /** Release CPUs halted by a rendezvous that was called off (registers were never touched). */
  continueHalted(timeoutMs = 5000): void {
    const halted = Array.from({ length: this.cpus }, (_, c) => c).filter((c) => this.state(c) === CPU_STATE.HALTED);
    Atomics.store(this.ctl, G.START_COUNT, 0);
    for (const c of halted) Atomics.store(this.ctl, cpuWord(c, C.PENDING), VECTOR.CONTINUE);
    this.pool.ringAll();
    this.waitCount(G.START_COUNT, halted.length, timeoutMs, 'continue');
  }

  /** A processor-only reset: every register file is cleared, RAM survives. CPUs must be halted. */
  warmReset(): void {
    this.requireQuiet('warm reset');
    this.regs.fill(0);
    for (let c = 0; c < this.cpus; c++) Atomics.store(this.ctl, cpuWord(c, C.STATE), CPU_STATE.WAIT_START);
    Atomics.store(this.ctl, G.RESET_CAUSE, RESET_CAUSE.WARM);
  }

  /** A full reset: registers and RAM cleared. */
  coldReset(): void {
    this.regs.fill(0);
    this.ram.fill(0);
    for (let c = 0; c < this.cpus; c++) Atomics.store(this.ctl, cpuWord(c, C.STATE), CPU_STATE.WAIT_START);
    Atomics.store(this.ctl, G.RESET_CAUSE, RESET_CAUSE.COLD);
  }

  /** Halt every CPU at an exact step (`targets[c]`), e.g. to compare it with the reference. */
  parkAt(targets: readonly number[], timeoutMs = 10000): void {
    Atomics.store(this.ctl, G.PARK_COUNT, 0);
    let expect = 0;
    for (let c = 0; c < this.cpus; c++) {
      const t = targets[c]!;
      Atomics.store(this.ctl, cpuWord(c, C.STOP_LO), t % 0x1_0000_0000 | 0);
      Atomics.store(this.ctl, cpuWord(c, C.STOP_HI), Math.floor(t / 0x1_0000_0000) | 0);
      if (this.state(c) === CPU_STATE.RUNNING) expect++;
      else if (this.state(c) === CPU_STATE.IDLE) Atomics.store(this.ctl, cpuWord(c, C.STATE), CPU_STATE.PARKED);
    }
    this.pool.ringAll();
    this.waitCount(G.PARK_COUNT, expect, timeoutMs, 'park');
  }

  /** Let parked CPUs run on: freely, or up to new step targets (set before they move, so none overshoots). */
  unpark(targets?: readonly number[]): void {
    for (let c = 0; c < this.cpus; c++) {
      const t = targets?.[c] ?? 0;
      Atomics.store(this.ctl, cpuWord(c, C.STOP_LO), t % 0x1_0000_0000 | 0);
      Atomics.store(this.ctl, cpuWord(c, C.STOP_HI), Math.floor(t / 0x1_0000_0000) | 0);
      if (this.state(c) === CPU_STATE.PARKED) {
        Atomics.store(this.ctl, cpuWord(c, C.STATE), Atomics.load(this.ctl, cpuWord(c, C.IDLE)) ? CPU_STATE.IDLE : CPU_STATE.RUNNING);
      }
    }
    this.pool.ringAll();
  }

  /** Wait until every running CPU has executed past `steps[c]` (the OS really runs again). */
  waitProgress(steps: readonly number[], timeoutMs = 5000): void {
    const deadline = nowMs() + timeoutMs;
    for (let c = 0; c < this.cpus; c++) {
      if (this.state(c) !== CPU_STATE.RUNNING) continue;
      while (stepCount(this.regs, c * REG_WORDS) <= steps[c]!) {
        if (nowMs() > deadline) throw new FwupError('MACHINE_TIMEOUT', `CPU ${c} did not run after the resume`);
        Atomics.wait(this.ctl, G.SHUTDOWN, 0, 0.05);
      }
    }
  }

  /** Wait until every CPU is parked (or idle, or refused its state). */
  waitParked(timeoutMs: number): void {
    const deadline = nowMs() + timeoutMs;
    for (let c = 0; c < this.cpus; c++) {
      for (;;) {
        const s = this.state(c);
        if (s === CPU_STATE.PARKED || s === CPU_STATE.IDLE || s === CPU_STATE.FAULT) break;
        if (nowMs() > deadline) throw new FwupError('MACHINE_TIMEOUT', `CPU ${c} did not reach its step target`);
        Atomics.wait(this.ctl, G.SHUTDOWN, 0, 0.05);
      }
    }
  }

  /** A CPU's register file and page as they are now (call with the CPU halted or parked). */
  snapshot(cpu: number): CpuSnapshot {
    const regs = this.regs.slice(cpu * REG_WORDS, (cpu + 1) * REG_WORDS);
    const pw = pageOffset(cpu) / 4;
    const page = new Int32Array(this.shared.ram, 0).slice(pw, pw + PAGE_WORDS);
    return { cpu, regs, page, step: stepCount(regs) };
  }

  async stop(): Promise<void> {
    await Promise.all([this.pool.stop(), this.hashEngine.stop()]);
  }

  private requireQuiet(what: string): void {
    for (let c = 0; c < this.cpus; c++) {
      const s = this.state(c);
      if (s === CPU_STATE.RUNNING || s === CPU_STATE.IDLE) throw new Error(`${what} with CPU ${c} still running`);
    }
  }

  private waitCount(word: number, n: number, timeoutMs: number, what: string): void {
    const deadline = nowMs() + timeoutMs;
    for (;;) {
      const v = Atomics.load(this.ctl, word);
      if (v >= n) return;
      const left = deadline - nowMs();
      if (left <= 0) throw new FwupError('MACHINE_TIMEOUT', `${what}: ${v} of ${n} CPUs answered within ${timeoutMs} ms`);
      Atomics.wait(this.ctl, word, v, left);
    }
  }
}
