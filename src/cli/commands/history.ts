import { history } from '../../core/apply.js';
import type { CommandModule } from '../command-table.js';
import { esc } from '../render.js';
import { targetOptionsFrom } from '../target-options.js';

export const run: CommandModule['run'] = async (ctx, _args, opts, g) => {
  const h = await history(ctx, { ...(g.target ? { target: g.target } : {}), targetOptions: targetOptionsFrom(opts) });
  return {
    data: h,
    text: (s) =>
      h.entries.length === 0
        ? s.dim('no history yet')
        : h.entries
            .map((e) => {
              const from = e.fromDisplay ?? (e.fromVersion ? String(e.fromVersion) : '-');
              const to = e.toDisplay ?? (e.toVersion ? String(e.toVersion) : '-');
              const versions = `${esc(from || '-')} -> ${esc(to || '-')}`;
              return `${s.dim(e.time)}  ${e.action.padEnd(11)} ${versions.padEnd(20)}  ${e.status === 0 ? s.green(e.statusName) : s.red(e.statusName)}  ${esc(e.detail)}`;
            })
            .join('\n'),
  };
};
