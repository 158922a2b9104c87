import type { FlashromApplyReport, FlashromStatus } from '../targets/flashrom/flashrom-results.js';
import type { UefiApplyReport, UefiStatus } from '../targets/uefi/uefi-results.js';
import type { RebootReport } from '../targets/host-reboot.js';
import { displayArgv } from '../targets/exec.js';
import { formatBytes } from '../util/units.js';
import { esc, table } from './render.js';
import type { Style } from './style.js';

/** Text for the flashrom and uefi targets' apply reports and status (the --json forms are the data). */

function rebootRow(r: RebootReport | null, s: Style): [string, string] {
  return ['reboot', r ? `${r.mode}: ${displayArgv(r.command)}${r.modeFile ? ` (after writing ${r.mode} to ${r.modeFile})` : ''}` : s.dim('not requested (pass --warm or --cold to reboot)')];
}

export function flashromApplyText(target: string, r: FlashromApplyReport, s: Style): string {
  const where = r.region ? `region ${r.region.name} (0x${r.region.start.toString(16)}-0x${r.region.end.toString(16)})` : `the whole chip (${formatBytes(r.chipSize)})`;
  const rows: Array<[string, string]> = [
    ['wrote', `${r.version} to ${where}`],
    ['verified', s.green('read back, equal to the image')],
    ['chip', `sha256 ${(r.before.sha256 ?? '').slice(0, 16)}… -> ${(r.after.sha256 ?? '').slice(0, 16)}…`],
  ];
  if (r.blocks) rows.push(['blocks', `${r.blocks.erased} erased, ${r.blocks.written} written, ${r.blocks.skipped} unchanged`]);
  rows.push(['backup', `${r.backup} (fwup rollback writes it back)`], rebootRow(r.reboot, s));
  rows.push(['time', `${(r.durationMs / 1000).toFixed(1)} s (${r.phases.map((p) => `${p.name} ${(p.ms / 1000).toFixed(1)} s`).join(', ')})`]);
  return `${s.bold(r.action === 'rollback' ? 'rollback' : 'apply')} on ${esc(target)}: ${s.green(s.bold('OK'))}\n${table(rows, s)}`;
}

export function uefiApplyText(r: UefiApplyReport, s: Style): string {
  const each: Array<[string, string]> = r.capsules.length > 1
    ? r.capsules.map((c) => [`  ${c.entry}`, `${esc(c.capsule.version)} (fileSha256 ${c.capsule.fileSha256.slice(0, 16)}…) by ${c.delivery}: ${esc(c.deliveredTo)}`])
    : [['capsule', `${esc(r.capsule.version)} (fileSha256 ${r.capsule.fileSha256.slice(0, 16)}…)`], ['delivery', `${r.delivery}: ${esc(r.deliveredTo)}`], ['pending', r.pending]];
  const title = r.capsules.length > 1 ? `${r.capsules.length} capsules handed over` : 'capsule handed over';
  return `${s.bold('apply')} on uefi: ${s.green(s.bold(title))}\n${table(
    [
      ...(r.capsules.length > 1 ? [['capsules', `${r.capsules.length}, one per ESRT entry`] as [string, string]] : []),
      ...each,
      rebootRow(r.reboot, s),
      ['next', r.next],
    ],
    s,
  )}`;
}

export function flashromStatusText(v: FlashromStatus, s: Style): string {
  const chip = 'size' in v.chip ? formatBytes(v.chip.size) : s.red(esc(v.chip.error.message));
  return table(
    [
      ['target', esc(v.target)],
      ['chip', chip],
      ['staged', v.staged ? `${esc(v.staged.version)} (${formatBytes(v.staged.size)}, ${v.staged.region ? `region ${esc(v.staged.region.name)}` : 'whole chip'}, payloadSha256 ${(v.staged.payloadSha256 ?? '').slice(0, 16)}…)` : s.dim('nothing')],
      ['last write', v.lastWrite ? `${v.lastWrite.action} ${v.lastWrite.time}: ${esc(v.lastWrite.detail)}` : s.dim('none')],
      ['backup', v.backup ? `sha256 ${v.backup.sha256.slice(0, 16)}… from ${v.backup.savedAt}` : s.dim('none')],
      ['state', v.stateDir],
    ],
    s,
  );
}

const STATE_TEXT: Record<string, (s: Style, t: string) => string> = {
  success: (s, t) => s.green(t),
  failed: (s, t) => s.red(t),
  'not-attempted': (s, t) => s.red(t),
  'other-attempt': (s, t) => s.yellow(t),
  'awaiting-reboot': (s, t) => s.yellow(t),
};

export function uefiStatusText(v: UefiStatus, s: Style): string {
  const hex = (n: number) => `0x${n.toString(16).toUpperCase().padStart(8, '0')}`;
  const rows: Array<[string, string]> = [['target', `uefi (sysroot ${v.sysroot})`]];
  if (!v.esrt) rows.push(['esrt', s.red('none: not a UEFI system, or no ESRT')]);
  for (const e of v.esrt ?? []) {
    rows.push([e.name, `${e.fwClass} ${e.fwTypeName} ${hex(e.fwVersion)} (lowest ${hex(e.lowestSupportedFwVersion)}), last attempt ${hex(e.lastAttemptVersion)} ${e.lastAttemptStatusName}`]);
  }
  rows.push(['delivery', `loader ${v.delivery.loader ? 'yes' : 'no'}, capsule on disk ${v.delivery.capsuleOnDisk ? `yes (ESP ${v.delivery.esp ?? 'not found'})` : 'no'}, OsIndications ${v.delivery.osIndications ?? 'unset'}, fwupd's helper ${v.delivery.fwupdEfiHelper ?? 'not installed'}`]);
  const staged = v.capsules.filter((c) => c.state === 'staged');
  const pending = v.capsules.filter((c) => c.state === 'pending');
  if (staged.length + pending.length > 1) {
    // Several capsules (one per ESRT entry): one row each.
    rows.push(['capsules', `${staged.length} staged, ${pending.length} pending`]);
    for (const c of v.capsules) {
      rows.push([`  ${c.entry}`, `${c.state} ${esc(c.version)} (${c.esrt.join(', ')}) by ${c.delivery} (${esc(c.file)}), fileSha256 ${c.fileSha256.slice(0, 16)}…${c.appliedAt ? `, applied ${c.appliedAt}` : ''}`]);
    }
  } else {
    rows.push(['staged', v.staged ? `${esc(v.staged.version)} by ${v.staged.delivery} (${esc(v.staged.deliveredTo)})${v.staged.state === 'delivering' ? s.red(' INCOMPLETE') : ''}` : s.dim('nothing')]);
    rows.push(['pending', v.pending ? `${esc(v.pending.version)} by ${v.pending.delivery}, applied ${v.pending.appliedAt}` : s.dim('nothing')]);
  }
  if (v.outcome) {
    const paint = STATE_TEXT[v.outcome.state] ?? ((_s: Style, t: string) => t);
    rows.push(['outcome', `${paint(s, v.outcome.state)} (rebooted since: ${v.outcome.rebooted})`]);
    for (const e of v.outcome.entries) {
      rows.push([`  ${e.esrt}`, `${e.state}${e.statusName ? ` [${e.statusName}]` : ''}: ${esc(e.detail)}`]);
      if (e.firmwareResult) rows.push(['    result', `${esc(e.firmwareResult.variable)}: ${e.firmwareResult.ok ? s.green(e.firmwareResult.statusName) : s.red(e.firmwareResult.statusName)}${e.firmwareResult.processed ? ` at ${e.firmwareResult.processed}` : ''}`]);
    }
    const h = v.outcome.helper;
    if (h) rows.push(['  fwupd\'s helper', `${h.state === 'attempted' ? s.green(h.state) : s.yellow(h.state)}${h.timeAttempted ? ` at ${h.timeAttempted}` : ''} (${esc(h.variable)})`]);
  }
  if (v.capsuleResults.length) {
    const last = v.capsuleResults[0]!;
    rows.push(['capsule results', `${v.capsuleResults.length} (newest ${esc(last.variable)}: ${last.statusName}${last.fmp ? ` for ${last.fmp.updateImageTypeId}` : ''})`]);
  }
  const out = [table(rows, s)];
  if (v.warnings.length) out.push('', ...v.warnings.map((w) => `${s.yellow('warning:')} ${esc(w)}`));
  return out.join('\n');
}
