import { Worker } from 'node:worker_threads';
import { median } from './harness.js';

/**
 * The baseline for the IPI rendezvous: N plain threads blocked in Atomics.wait; the main thread bumps a
 * word and notifies, every thread increments a counter and notifies back. One thread per "CPU", nothing
 * else running: the cost of waking N threads on this host.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const a = new Int32Array(workerData);
let seen = 0;
for (;;) {
  Atomics.wait(a, 0, seen);
  seen = Atomics.load(a, 0);
  if (seen < 0) break;
  Atomics.add(a, 1, 1);
  Atomics.notify(a, 1);
}
`;

export async function rawRendezvousMs(threads: number, rounds = 40): Promise<number> {
  const sab = new SharedArrayBuffer(8);
  const a = new Int32Array(sab);
  const workers = Array.from({ length: threads }, () => new Worker(WORKER_SOURCE, { eval: true, workerData: sab }));
  await new Promise((r) => setTimeout(r, 300 + threads * 20)); // let every thread reach its wait
  const times: number[] = [];
  for (let i = 1; i <= rounds; i++) {
    Atomics.store(a, 1, 0);
    const t = performance.now();
    Atomics.store(a, 0, i);
    Atomics.notify(a, 0);
    for (let got = Atomics.load(a, 1); got < threads; got = Atomics.load(a, 1)) Atomics.wait(a, 1, got, 50);
    times.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 5));
  }
  Atomics.store(a, 0, -1);
  Atomics.notify(a, 0);
  await Promise.all(workers.map((w) => w.terminate()));
  return median(times);
}
