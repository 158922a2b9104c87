import { Worker } from 'node:worker_threads';
import { FwupError } from '../errors/fwup-error.js';
import { G, type SharedBuffers } from './shared-state.js';

export const WORKER_URL = new URL('./cpu-worker.js', import.meta.url);

/**
 * The worker threads that run the CPUs: never more than the host's cores (one thread per CPU would make
 * every IPI wait for the scheduler once threads outnumber cores). CPU c runs on worker c mod n.
 */
export class CpuPool {
  private constructor(private readonly workers: Worker[], readonly assignment: number[][], private readonly ctl: Int32Array) {}

  static async start(shared: SharedBuffers, cpus: number, hostCpus: number, workerUrl: URL = WORKER_URL): Promise<CpuPool> {
    const n = Math.max(1, Math.min(cpus, hostCpus));
    const assignment: number[][] = Array.from({ length: n }, () => []);
    for (let c = 0; c < cpus; c++) assignment[c % n]!.push(c);
    const ctl = new Int32Array(shared.ctl);
    const workers = await Promise.all(
      assignment.map(
        (mine, index) =>
          new Promise<Worker>((ok, fail) => {
            const w = new Worker(workerUrl, { workerData: { index, cpus: mine, shared } });
            const onError = (e: Error) => fail(new FwupError('MACHINE_FAILURE', `CPU worker ${index} failed to start: ${e.message}`));
            w.once('error', onError);
            w.once('message', () => {
              w.off('error', onError);
              ok(w);
            });
          }),
      ),
    );
    return new CpuPool(workers, assignment, ctl);
  }

  get size(): number {
    return this.workers.length;
  }

  workerOf(cpu: number): number {
    return cpu % this.workers.length;
  }

  /** Wake the worker running `cpu` (the doorbell half of an IPI). */
  ring(cpu: number): void {
    const w = G.WORKER_DOORBELL + this.workerOf(cpu);
    Atomics.add(this.ctl, w, 1);
    Atomics.notify(this.ctl, w);
  }

  ringAll(): void {
    for (let i = 0; i < this.workers.length; i++) {
      Atomics.add(this.ctl, G.WORKER_DOORBELL + i, 1);
      Atomics.notify(this.ctl, G.WORKER_DOORBELL + i);
    }
  }

  async stop(): Promise<void> {
    Atomics.store(this.ctl, G.SHUTDOWN, 1);
    this.ringAll();
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((done) => {
            const timer = setTimeout(() => void w.terminate().then(() => done()), 2000);
            w.once('exit', () => {
              clearTimeout(timer);
              done();
            });
          }),
      ),
    );
  }
}
