import { FwupError } from '../errors/fwup-error.js';
import type { Context, ProgressTask } from './context.js';

/**
 * The engine's bookkeeping for one command: its steps in order, each with a share of one progress
 * bar (the weights), and the prefix a target's error gets ("stage: write: …", as fwupd's engine
 * prefixes device errors), so a message says which step of which command failed.
 */
export class Steps<S extends string> {
  private readonly task: ProgressTask;
  private readonly starts: Record<string, number> = {};
  private readonly total: number;

  constructor(private readonly ctx: Context, private readonly command: string, label: string, private readonly weights: Record<S, number>) {
    let at = 0;
    for (const [k, w] of Object.entries(weights) as Array<[string, number]>) {
      this.starts[k] = at;
      at += w;
    }
    this.total = at;
    this.task = ctx.progress.start(label, 100);
  }

  /** Run one step; `tick(fraction)` moves the bar inside the step's share. Errors of `prefix` steps are prefixed. */
  async run<T>(step: S, fn: (tick: (fraction: number) => void) => Promise<T>, opts: { prefix?: boolean } = {}): Promise<T> {
    const tick = (f: number) => this.task.update(Math.floor(((this.starts[step]! + Math.max(0, Math.min(1, f)) * this.weights[step]) / this.total) * 100));
    tick(0);
    this.ctx.log.verbose(`${this.command}: ${step}`);
    try {
      return await fn(tick);
    } catch (e) {
      this.task.fail();
      if (opts.prefix && e instanceof FwupError && e.code !== 'POWER_CUT' && e.code !== 'INTERRUPTED' && e.code !== 'TERMINATED') throw e.prefixed(`${this.command}: ${step}`);
      throw e;
    }
  }

  done(): void {
    this.task.succeed();
  }
}
