import { outcomeError, rollback } from '../../core/apply.js';
import { FwupError } from '../../errors/fwup-error.js';
import type { CommandModule } from '../command-table.js';
import { applyReportText } from '../render-apply.js';
import { targetOptionsFrom } from '../target-options.js';

export const run: CommandModule['run'] = async (ctx, _args, opts, g) => {
  const seconds = Number(opts.timeout);
  if (!(seconds > 0)) throw new FwupError('USAGE', `--timeout ${String(opts.timeout)} is not a positive number of seconds`, { hint: 'give the seconds the CPU rendezvous may take, e.g. --timeout 10' });
  const out = await rollback(ctx, { ...(g.target ? { target: g.target } : {}), timeoutMs: seconds * 1000, confirm: opts.confirm !== false, dryRun: Boolean(opts.dryRun), targetOptions: targetOptionsFrom(opts) });
  return { data: out, text: (s) => applyReportText(out, s), error: outcomeError(out) };
};
