import { pack } from '../../core/pack.js';
import { FwupError } from '../../errors/fwup-error.js';
import { FWUP_FLAGS } from '../../image/fwup-format.js';
import { parseUint } from '../../util/units.js';
import { parseVersion } from '../../util/version.js';
import type { CommandModule } from '../command-table.js';
import { table } from '../render.js';
import { hex32 } from '../../util/digest.js';

export const run: CommandModule['run'] = async (ctx, [payload], opts) => {
  if (typeof opts.output !== 'string') throw new FwupError('USAGE', 'pack needs -o/--output FILE');
  if (typeof opts.version !== 'string') throw new FwupError('USAGE', 'pack needs --version V', { hint: 'e.g. --version 1.2.0' });
  const version = parseVersion(opts.version);
  const lsv = /\./.test(String(opts.lsv)) ? parseVersion(String(opts.lsv)).number : parseUint(String(opts.lsv), '--lsv');
  const r = await pack(ctx, {
    payload: payload!,
    output: opts.output,
    meta: {
      platform: String(opts.platform),
      version: version.display,
      versionNumber: version.number,
      lowestSupportedVersion: lsv,
      securityVersion: parseUint(String(opts.svn), '--svn'),
      flags: opts.coldOnly ? FWUP_FLAGS.COLD_ONLY : 0,
      description: typeof opts.description === 'string' ? opts.description : null,
      buildTime: ctx.now(),
    },
    ...(typeof opts.sign === 'string' ? { signKey: opts.sign } : {}),
  });
  return {
    data: r,
    text: (s) =>
      table(
        [
          ['wrote', `${r.output} (${r.size} bytes)`],
          ['payload', `${r.payloadSize} bytes`],
          ['sha256', r.sha256],
          ['crc32', hex32(r.crc32)],
          ['signed', r.keyId ? `key ${r.keyId}` : s.yellow('no')],
        ],
        s,
      ),
  };
};
