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
    data: { path: r.path, fileSha256: r.fileSha256, fileSize: r.fileSize, ...r.report, payloadSha256: r.report.sha256 },
    text: (s) => (capsule && capsuleText ? capsuleText(image!, r.report, capsule, s) : imageReportText(image!, { ...r.report, fileSha256: r.fileSha256 }, s)),
    error: r.error,
  };
};
