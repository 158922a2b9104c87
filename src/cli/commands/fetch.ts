import { fetchImage } from '../../core/fetch-image.js';
import { FwupError } from '../../errors/fwup-error.js';
import { formatBytes } from '../../util/units.js';
import { downloadFromOptions, rawFromOptions } from '../option-values.js';
import type { CommandModule } from '../command-table.js';
import { VERSION } from '../main.js';
import { signatureText, table } from '../render.js';

export const run: CommandModule['run'] = async (ctx, [url], opts) => {
  if (typeof opts.output !== 'string') throw new FwupError('USAGE', 'fetch needs -o/--output FILE', { hint: 'fwup fetch URL -o image.fwup (or stage the URL directly: fwup stage URL)' });
  const raw = rawFromOptions(opts);
  const r = await fetchImage(ctx, url!, {
    output: opts.output,
    keyFiles: (opts.key as string[]) ?? [],
    ...(raw ? { raw } : {}),
    ...downloadFromOptions(opts),
    userAgent: `fwup/${VERSION}`,
  });
  return {
    data: r,
    text: (s) => {
      const how = r.cached ? s.dim('cached copy, no request') : r.resumed ? `resumed after ${formatBytes(r.resumed)}` : 'downloaded';
      return table(
        [
          ['wrote', `${r.path} (${r.size} bytes)`],
          ['from', `${r.url} (${how})`],
          ['fileSha256', r.fileSha256],
          ['payloadSha256', r.payloadSha256],
          ['image', `${r.image.format} ${r.image.version}${r.image.platform ? ` for ${r.image.platform}` : ''}`],
          ['signature', signatureText(r.image.signature, s)],
        ],
        s,
      );
    },
  };
};
