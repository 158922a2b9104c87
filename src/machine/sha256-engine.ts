import { Worker } from 'node:worker_threads';
import { FwupError } from '../errors/fwup-error.js';
import { CHUNK_BYTES } from '../image/byte-source.js';
import type { ParallelSha256 } from '../image/format.js';
import { CMD, W, type EngineShared } from './sha256-engine-shared.js';

export const ENGINE_WORKER_URL = new URL('./sha256-engine-worker.js', import.meta.url);

/** A command the engine has not finished in this long means its thread is gone. */
const TIMEOUT_MS = 10_000;

/**
 * The machine's SHA-256 engine, as SoCs carry one beside their CPUs (a hash accelerator the boot
 * firmware drives): a thread of its own that hashes a buffer the firmware fills, while the bootstrap
 * CPU does other work. The firmware uses it for an image's file SHA-256 while it computes the
 * payload's SHA-256 itself, so two digests of a slot cost about one in downtime. Started with the
 * machine (a thread takes milliseconds to start), asleep until a command comes.
 */
export class Sha256Engine implements ParallelSha256 {
  readonly buffer: Buffer;
  private readonly ctl: Int32Array;
  private readonly out: Uint8Array;
  private seq = 0;
  /** Commands run, for tests and the apply report: the engine is really used. */
  jobs = 0;

  private constructor(private readonly worker: Worker, shared: EngineShared) {
    this.ctl = new Int32Array(shared.ctl);
    this.buffer = Buffer.from(shared.data);
    this.out = new Uint8Array(shared.digest);
  }

  static async start(workerUrl: URL = ENGINE_WORKER_URL): Promise<Sha256Engine> {
    const shared: EngineShared = { ctl: new SharedArrayBuffer(16), data: new SharedArrayBuffer(CHUNK_BYTES), digest: new SharedArrayBuffer(32) };
    const worker = new Worker(workerUrl, { workerData: shared });
    await new Promise<void>((ok, fail) => {
      worker.once('online', ok);
      worker.once('error', (e) => fail(new FwupError('MACHINE_FAILURE', `the SHA-256 engine's thread failed to start: ${e.message}`)));
    });
    worker.unref();
    return new Sha256Engine(worker, shared);
  }

  start(): void {
    this.command(CMD.START, 0);
    this.wait();
  }

  /**
   * Hash a chunk in the background; call wait() before the buffer is filled again. A chunk that is not
   * the buffer itself (a source that handed back its own bytes) is copied into it first.
   */
  update(chunk: Buffer): void {
    if (chunk.buffer !== this.buffer.buffer || chunk.byteOffset !== this.buffer.byteOffset) chunk.copy(this.buffer);
    this.begin(chunk.length);
  }

  /** Hash buffer[0, length) in the background; call wait() before the buffer is filled again. */
  begin(length: number): void {
    this.command(CMD.UPDATE, length);
  }

  wait(): void {
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(this.ctl, W.DONE);
      if (done === this.seq) return;
      if (Date.now() > deadline) throw new FwupError('MACHINE_FAILURE', 'the SHA-256 engine did not finish a command');
      Atomics.wait(this.ctl, W.DONE, done, 100);
    }
  }

  digest(): string {
    this.command(CMD.DIGEST, 0);
    this.wait();
    return Buffer.from(this.out).toString('hex');
  }

  async stop(): Promise<void> {
    // Held while it stops: an unreferenced thread's exit would not keep the event loop waiting for it.
    this.worker.ref();
    const exited = new Promise<void>((ok) => this.worker.once('exit', () => ok()));
    this.command(CMD.STOP, 0);
    await exited;
  }

  /** One command at a time: the previous one finishes first. */
  private command(cmd: number, length: number): void {
    this.wait();
    this.jobs++;
    Atomics.store(this.ctl, W.CMD, cmd);
    Atomics.store(this.ctl, W.LENGTH, length);
    this.seq = Atomics.add(this.ctl, W.SEQ, 1) + 1;
    Atomics.notify(this.ctl, W.SEQ);
  }
}
