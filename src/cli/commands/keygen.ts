import { keygen } from '../../core/keygen.js';
import type { CommandModule } from '../command-table.js';
import { table } from '../render.js';

export const run: CommandModule['run'] = async (ctx, [name], opts) => {
  const r = await keygen(ctx, name!, { force: Boolean(opts.force) });
  return {
    data: r,
    text: (s) =>
      table(
        [
          ['private key', `${r.privateKey} ${s.dim('(keep secret)')}`],
          ['public key', r.publicKey],
          ['key id', r.keyId],
        ],
        s,
      ),
  };
};
