import { unstage } from '../../core/status.js';
import type { CommandModule } from '../command-table.js';

export const run: CommandModule['run'] = async (ctx, _args, _opts, g) => {
  const r = await unstage(ctx, { ...(g.target ? { target: g.target } : {}) });
  return { data: r, text: (s) => `${s.green('removed')} the staged update from ${r.target}` };
};
