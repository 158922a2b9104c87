import { inspect } from '../../core/inspect.js';
import { rawFromOptions } from '../option-values.js';
import type { CommandModule } from '../command-table.js';
import { imageReportText } from '../render.js';

export const run: CommandModule['run'] = async (ctx, [image], opts) => {
  const raw = rawFromOptions(opts);
  const r = await inspect(ctx, image!, { keys: (opts.key as string[]) ?? [], certs: (opts.cert as string[]) ?? [], ...(raw ? { raw } : {}) });
  const capsule = r.report.capsule;
  // The capsule renderer is loaded only for a capsule, like the rest of the capsule code.
  const capsuleText = capsule ? (await import('../render-capsule.js')).capsuleReportText : null;
  return {
    data: { path: r.path, ...r.report },
    text: (s) => (capsule && capsuleText ? capsuleText(image!, r.report, capsule, s) : imageReportText(image!, r.report, s)),
    error: r.error,
  };
};
