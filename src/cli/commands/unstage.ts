import { unstage } from '../../core/status.js';
import type { CommandModule } from '../command-table.js';
import { esc } from '../render.js';
import { dryRunText } from '../render-plan.js';
import { targetOptionsFrom } from '../target-options.js';

export const run: CommandModule['run'] = async (ctx, _args, opts, g) => {
  const r = await unstage(ctx, { ...(g.target ? { target: g.target } : {}), targetOptions: targetOptionsFrom(opts), dryRun: Boolean(opts.dryRun) });
  return { data: r, text: (s) => (r.dryRun ? dryRunText(r.plan, s) : `${s.green('removed')} the staged update from ${esc(r.target)}`) };
};
