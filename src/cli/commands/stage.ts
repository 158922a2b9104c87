import { stage, type StageOutcome } from '../../core/stage.js';
import { formatBytes } from '../../util/units.js';
import { downloadFromOptions, rawFromOptions } from '../option-values.js';
import type { CommandModule } from '../command-table.js';
import { esc, signatureText, table } from '../render.js';
import { dryRunText } from '../render-plan.js';
import { targetOptionsFrom } from '../target-options.js';
import { taskText } from '../render-redfish.js';
import type { Style } from '../style.js';

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
  return { data: r, text: (s) => stageText(image!, r, s) };
};

function stageText(image: string, r: StageOutcome, s: Style): string {
  if (r.dryRun) return `${s.dim(`${esc(image)} is valid for ${esc(r.target)}; nothing was written`)}\n${dryRunText(r.plan, s)}`;
  const rows: Array<[string, string]> = [
    ['target', esc(r.target)],
    ['version', `${esc(r.staged.version)} (${r.staged.format}, ${formatBytes(r.staged.size)})`],
    ['fileSha256', r.image.fileSha256],
    ['payloadSha256', r.image.sha256],
    ['signature', signatureText(r.image.signature, s)],
  ];
  const cab = r.image.cabinet;
  if (cab) {
    rows.splice(2, 0, ['cabinet', `${esc(cab.metainfo.id)} ${esc(cab.release.version)}: installs ${esc(cab.payload.file)}; jcat signature ${cab.signature.status}${cab.signature.signer ? ` (${esc(cab.signature.signer)})` : ''}`]);
  }
  const d = r.details;
  switch (d.kind) {
    case 'emu':
      rows.push(['into', d.inPlace ? `${d.region}, the inactive slot (staged in place: ${s.yellow('the rollback image there is consumed')})` : d.region]);
      if (d.write) rows.push(['written', `${d.write.blocks} blocks: ${d.write.erased} erased and programmed, ${d.write.programmedOnly} programmed without erase, ${d.write.unchanged} unchanged; read back, SHA-256 equal`]);
      break;
    case 'flashrom':
      rows.push(['writes', d.region ? `region ${esc(d.region.name)} (0x${d.region.start.toString(16)}-0x${d.region.end.toString(16)})` : 'the whole chip']);
      if (d.chipBefore) rows.push(['chip now', `sha256 ${d.chipBefore.sha256}`]);
      break;
    case 'uefi':
      rows.push(['delivery', `${d.delivery} (${esc(d.why)})`], ['handed to', esc(d.deliveredTo)]);
      break;
    case 'redfish':
      rows.push(['pushed', `${d.method} to ${esc(d.bmc)}${d.sentSha256 ? `, sha256 of the bytes sent ${d.sentSha256}` : ''}`], ['apply time', esc(d.applyTime ?? 'the BMC\'s default')], ['task', taskText(d.task, s)]);
      break;
  }
  if (r.replaced) rows.push(['replaced', 'the previously staged update']);
  if (r.download) {
    const how = r.download.cached ? 'cached copy, no request' : r.download.resumedBytes ? `resumed after ${formatBytes(r.download.resumedBytes)}` : 'downloaded';
    rows.unshift(['from', `${esc(r.download.url)} (${how})`]);
  }
  const next = r.kind === 'uefi' ? 'fwup apply --target uefi --warm'
    : r.kind === 'flashrom' ? `fwup apply --target ${r.target}`
      : r.kind === 'redfish' ? (d.kind === 'redfish' && d.installed ? `fwup apply --warm --target ${r.target} (checks the outcome: the BMC installed it already)` : `fwup apply --${d.kind === 'redfish' && d.task?.awaiting === 'reset' ? 'cold' : 'warm'} --target ${r.target}`)
        : 'fwup apply --warm';
  return `${s.green('staged')} ${esc(image)}\n${table(rows, s)}\nnext: ${next}`;
}
