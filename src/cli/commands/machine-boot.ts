import { machineBoot } from '../../core/apply.js';
import type { CommandModule } from '../command-table.js';

export const run: CommandModule['run'] = async (ctx, _args, _opts, g) => {
  const r = await machineBoot(ctx, { ...(g.target ? { target: g.target } : {}) });
  return {
    data: r,
    text: (s) => `${s.bold('cold boot')} of ${r.target}\n${r.boot.events.map((e) => `  ${e}`).join('\n')}\nactive: slot ${r.boot.activeSlot}, firmware ${r.boot.activeVersion}`,
  };
};
