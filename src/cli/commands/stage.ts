import { stage } from '../../core/stage.js';
import { formatBytes } from '../../util/units.js';
import { downloadFromOptions, rawFromOptions } from '../option-values.js';
import type { CommandModule } from '../command-table.js';
import { signatureText, table } from '../render.js';
import { dryRunText } from '../render-plan.js';
import { targetOptionsFrom } from '../target-options.js';

export const run: CommandModule['run'] = async (ctx, [image], opts, g) => {
  const raw = rawFromOptions(opts);
  const r = await stage(ctx, image!, {
    ...(g.target ? { target: g.target } : {}),
    allowOlder: Boolean(opts.allowOlder),
    allowUnsigned: Boolean(opts.allowUnsigned),
    allowReinstall: Boolean(opts.allowReinstall),
    ...(raw ? { raw } : {}),
    download: downloadFromOptions(opts),
    dryRun: Boolean(opts.dryRun),
    targetOptions: targetOptionsFrom(opts),
  });
  return {
    data: r,
    text: (s) => {
      if (r.dryRun) return `${s.dim(`${image} is valid for ${r.target}`)}
${dryRunText(r.plan, s)}`;
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
      for (const [k, v] of Object.entries(stageDetails(r.details))) rows.push([k, v]);
      const next = r.target === 'uefi' ? 'fwup apply --target uefi --warm' : r.target.startsWith('flashrom:') ? `fwup apply --target ${r.target}` : 'fwup apply --warm';
      return `${s.green('staged')} ${image}\n${table(rows, s)}\nnext: ${next}`;
    },
  };
};

/** The hardware targets' facts worth a line each: where the image goes. */
function stageDetails(d: Record<string, unknown> | undefined): Record<string, string> {
  if (!d) return {};
  const out: Record<string, string> = {};
  if (typeof d.delivery === 'string') out.delivery = `${d.delivery} (${String(d.why)})`;
  if (typeof d.deliveredTo === 'string') out['handed to'] = d.deliveredTo;
  const region = d.region as { name: string; start: number; end: number } | null | undefined;
  if (region !== undefined) out.writes = region ? `region ${region.name} (0x${region.start.toString(16)}-0x${region.end.toString(16)})` : 'the whole chip';
  const before = d.chipBefore as { sha256: string } | null | undefined;
  if (before) out['chip now'] = `sha256 ${before.sha256}`;
  return out;
}
