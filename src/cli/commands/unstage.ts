import { unstage } from '../../core/status.js';
import type { CommandModule } from '../command-table.js';
import { targetOptionsFrom } from '../target-options.js';

export const run: CommandModule['run'] = async (ctx, _args, opts, g) => {
  const r = await unstage(ctx, { ...(g.target ? { target: g.target } : {}), targetOptions: targetOptionsFrom(opts) });
  return { data: r, text: (s) => `${s.green('removed')} the staged update from ${r.target}` };
};
