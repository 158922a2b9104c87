import type { Progress, ProgressTask } from '../core/context.js';
import { importEsm } from '../util/import-esm.js';
import { formatBytes } from '../util/units.js';

/**
 * Progress on an interactive terminal only (never with --json or --quiet, never in a pipe).
 * ora is imported on the first task, so commands that finish without progress never load it.
 */
export function terminalProgress(stream: NodeJS.WriteStream, color: boolean): Progress {
  // A terminal that reports no width (a pty nobody sized, as some CI wrappers make) sends ora into an
  // endless line-clearing loop: seen with ora 9 under a bare pty.fork(). Show no progress there.
  if (!(stream.columns > 0)) return { start: () => ({ update() {}, succeed() {}, fail() {} }) };
  return {
    start(label: string, total?: number): ProgressTask {
      let spinner: { text: string; stop(): void; succeed(t?: string): void; fail(t?: string): void } | null = null;
      let pending: string | null = label;
      let closed = false;
      // The rate is measured from the first update, not from zero: a resumed download reports its
      // starting offset first, so bytes from an earlier attempt do not inflate the rate and shrink the ETA.
      let baseline: { at: number; done: number } | null = null;
      const load = importEsm<typeof import('ora')>('ora').then(({ default: ora }) => {
        if (closed) return;
        spinner = ora({ text: pending ?? label, stream, color: color ? 'cyan' : false, isEnabled: true }).start();
      });
      void load;
      const render = (done: number, text?: string) => {
        baseline ??= { at: Date.now(), done };
        if (text !== undefined) return text;
        if (!total) return label;
        const pct = Math.min(100, Math.floor((done / total) * 100));
        const secs = (Date.now() - baseline.at) / 1000;
        const rate = secs > 0 ? (done - baseline.done) / secs : 0;
        const eta = rate > 0 ? Math.max(0, (total - done) / rate) : 0;
        return `${label} ${pct}% ${formatBytes(done)}/${formatBytes(total)} ${formatBytes(Math.round(rate))}/s ETA ${eta.toFixed(0)}s`;
      };
      return {
        update(done, text) {
          const t = render(done, text);
          if (spinner) spinner.text = t;
          else pending = t;
        },
        succeed(text) {
          closed = true;
          if (!spinner) return;
          if (text) spinner.succeed(text);
          else spinner.stop();
        },
        fail(text) {
          closed = true;
          if (spinner) spinner.fail(text);
        },
      };
    },
  };
}
