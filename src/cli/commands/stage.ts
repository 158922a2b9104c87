import { stage } from '../../core/stage.js';
import { formatBytes } from '../../util/units.js';
import { downloadFromOptions, rawFromOptions } from '../option-values.js';
import type { CommandModule } from '../command-table.js';
import { signatureText, table } from '../render.js';

export const run: CommandModule['run'] = async (ctx, [image], opts, g) => {
  const raw = rawFromOptions(opts);
  const r = await stage(ctx, image!, {
    ...(g.target ? { target: g.target } : {}),
    allowOlder: Boolean(opts.allowOlder),
    allowUnsigned: Boolean(opts.allowUnsigned),
    allowReinstall: Boolean(opts.allowReinstall),
    ...(raw ? { raw } : {}),
    download: downloadFromOptions(opts),
  });
  return {
    data: r,
    text: (s) => {
      const rows: Array<[string, string]> = [
        ['target', r.target],
        ['version', `${r.staged.version} (${r.staged.format}, ${formatBytes(r.staged.size)})`],
        ['sha256', r.staged.sha256],
        ['signature', signatureText(r.image.signature, s)],
      ];
      if (r.write) {
        rows.push(['written', `${r.write.blocks} blocks: ${r.write.erased} erased and programmed, ${r.write.programmedOnly} programmed without erase, ${r.write.unchanged} unchanged`]);
      }
      if (r.replaced) rows.push(['replaced', 'the previously staged update']);
      if (r.download) {
        const how = r.download.cached ? 'cached copy, no request' : r.download.resumedBytes ? `resumed after ${formatBytes(r.download.resumedBytes)}` : 'downloaded';
        rows.unshift(['from', `${r.download.url} (${how})`]);
      }
      return `${s.green('staged')} ${image}\n${table(rows, s)}\nnext: fwup apply --warm`;
    },
  };
};
