import { history } from '../../core/apply.js';
import type { CommandModule } from '../command-table.js';

export const run: CommandModule['run'] = async (ctx, _args, _opts, g) => {
  const h = await history(ctx, { ...(g.target ? { target: g.target } : {}) });
  return {
    data: h,
    text: (s) =>
      h.entries.length === 0
        ? s.dim('no history yet')
        : h.entries
            .map((e) => `${s.dim(e.time)}  ${e.action.padEnd(11)} ${hex(e.fromVersion)} -> ${hex(e.toVersion)}  ${e.status === 0 ? s.green(e.statusName) : s.red(e.statusName)}  ${e.detail}`)
            .join('\n'),
  };
};

function hex(n: number): string {
  return `0x${n.toString(16).toUpperCase().padStart(8, '0')}`;
}
