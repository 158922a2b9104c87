import { inspect } from '../../core/inspect.js';
import { rawFromOptions } from '../option-values.js';
import type { CommandModule } from '../command-table.js';
import { imageReportText } from '../render.js';

export const run: CommandModule['run'] = async (ctx, [image], opts) => {
  const raw = rawFromOptions(opts);
  const r = await inspect(ctx, image!, { keys: (opts.key as string[]) ?? [], certs: (opts.cert as string[]) ?? [], ...(raw ? { raw } : {}) });
  const { capsule, cabinet } = r.report;
  // The capsule and cabinet renderers are loaded only for their format, like the rest of their code.
  const capsuleText = capsule ? (await import('../render-capsule.js')).capsuleReportText : null;
  const cabinetText = cabinet ? (await import('../render-cabinet.js')).cabinetReportText : null;
  return {
    data: { path: r.path, fileSha256: r.fileSha256, fileSize: r.fileSize, ...r.report, payloadSha256: r.report.sha256 },
    text: (s) => {
      if (cabinet && cabinetText) return cabinetText(image!, r.report, cabinet, s);
      if (capsule && capsuleText) return capsuleText(image!, r.report, capsule, s);
      return imageReportText(image!, { ...r.report, fileSha256: r.fileSha256 }, s);
    },
    error: r.error,
  };
};
