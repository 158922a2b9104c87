import type { ApplyOutcome, TargetStatus } from '../targets/target.js';
import { displayArgv } from '../targets/exec.js';
import { formatBytes } from '../util/units.js';
import { table } from './render.js';
import type { Style } from './style.js';

/** Text for the flashrom and uefi targets' apply reports and status (the --json forms are the data). */

interface RebootView {
  mode: string;
  modeFile: string | null;
  command: string[];
}

function rebootRow(r: RebootView | null, s: Style): [string, string] {
  return ['reboot', r ? `${r.mode}: ${displayArgv(r.command)}${r.modeFile ? ` (after writing ${r.mode} to ${r.modeFile})` : ''}` : s.dim('not requested (pass --warm or --cold to reboot)')];
}

export function flashromApplyText(out: ApplyOutcome, s: Style): string {
  const r = out.report as {
    action: string; chipSize: number; region: { name: string; start: number; end: number } | null; version: string;
    before: { sha256: string }; after: { sha256: string }; blocks: { skipped: number; erased: number; written: number } | null;
    backup: string; reboot: RebootView | null; durationMs: number; phases: Array<{ name: string; ms: number }>;
  };
  const where = r.region ? `region ${r.region.name} (0x${r.region.start.toString(16)}-0x${r.region.end.toString(16)})` : `the whole chip (${formatBytes(r.chipSize)})`;
  const rows: Array<[string, string]> = [
    ['wrote', `${r.version} to ${where}`],
    ['verified', s.green('read back, equal to the image')],
    ['chip', `sha256 ${r.before.sha256.slice(0, 16)}… -> ${r.after.sha256.slice(0, 16)}…`],
  ];
  if (r.blocks) rows.push(['blocks', `${r.blocks.erased} erased, ${r.blocks.written} written, ${r.blocks.skipped} unchanged`]);
  rows.push(['backup', `${r.backup} (fwup rollback writes it back)`], rebootRow(r.reboot, s));
  rows.push(['time', `${(r.durationMs / 1000).toFixed(1)} s (${r.phases.map((p) => `${p.name} ${(p.ms / 1000).toFixed(1)} s`).join(', ')})`]);
  return `${s.bold(r.action === 'rollback' ? 'rollback' : 'apply')} on ${out.target}: ${s.green(s.bold('OK'))}\n${table(rows, s)}`;
}

export function uefiApplyText(out: ApplyOutcome, s: Style): string {
  const r = out.report as { delivery: string; deliveredTo: string; capsule: { version: string; sha256: string }; pending: string; reboot: RebootView | null; next: string };
  return `${s.bold('apply')} on uefi: ${s.green(s.bold('capsule handed over'))}\n${table(
    [
      ['capsule', `${r.capsule.version} (sha256 ${r.capsule.sha256.slice(0, 16)}…)`],
      ['delivery', `${r.delivery}: ${r.deliveredTo}`],
      ['pending', r.pending],
      rebootRow(r.reboot, s),
      ['next', r.next],
    ],
    s,
  )}`;
}

export function flashromStatusText(st: TargetStatus, s: Style): string {
  const v = st as unknown as {
    target: string; chip: { size?: number; error?: { message: string } }; stateDir: string;
    staged: { version: string; size: number; sha256: string; stagedAt: string; region: { name: string } | null } | null;
    backup: { sha256: string; savedAt: string } | null; lastWrite: { time: string; action: string; detail: string } | null;
  };
  return table(
    [
      ['target', v.target],
      ['chip', v.chip.size !== undefined ? formatBytes(v.chip.size) : s.red(v.chip.error?.message ?? 'unreadable')],
      ['staged', v.staged ? `${v.staged.version} (${formatBytes(v.staged.size)}, ${v.staged.region ? `region ${v.staged.region.name}` : 'whole chip'}, sha256 ${v.staged.sha256.slice(0, 16)}…)` : s.dim('nothing')],
      ['last write', v.lastWrite ? `${v.lastWrite.action} ${v.lastWrite.time}: ${v.lastWrite.detail}` : s.dim('none')],
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

export function uefiStatusText(st: TargetStatus, s: Style): string {
  const v = st as unknown as {
    sysroot: string;
    esrt: Array<{ name: string; fwClass: string; fwTypeName: string; fwVersion: number; lowestSupportedFwVersion: number; lastAttemptVersion: number; lastAttemptStatusName: string }> | null;
    delivery: { loader: string | null; capsuleOnDisk: boolean; osIndications: string | null; esp: string | null };
    staged: { version: string; delivery: string; deliveredTo: string } | null;
    pending: { version: string; delivery: string; appliedAt: string } | null;
    outcome: { state: string; rebooted: string; entries: Array<{ esrt: string; state: string; statusName: string | null; detail: string }> } | null;
  };
  const hex = (n: number) => `0x${n.toString(16).toUpperCase().padStart(8, '0')}`;
  const rows: Array<[string, string]> = [['target', `uefi (sysroot ${v.sysroot})`]];
  if (!v.esrt) rows.push(['esrt', s.red('none: not a UEFI system, or no ESRT')]);
  for (const e of v.esrt ?? []) {
    rows.push([e.name, `${e.fwClass} ${e.fwTypeName} ${hex(e.fwVersion)} (lowest ${hex(e.lowestSupportedFwVersion)}), last attempt ${hex(e.lastAttemptVersion)} ${e.lastAttemptStatusName}`]);
  }
  rows.push(['delivery', `loader ${v.delivery.loader ? 'yes' : 'no'}, capsule on disk ${v.delivery.capsuleOnDisk ? `yes (ESP ${v.delivery.esp ?? 'not found'})` : 'no'}, OsIndications ${v.delivery.osIndications ?? 'unset'}`]);
  rows.push(['staged', v.staged ? `${v.staged.version} by ${v.staged.delivery} (${v.staged.deliveredTo})` : s.dim('nothing')]);
  rows.push(['pending', v.pending ? `${v.pending.version} by ${v.pending.delivery}, applied ${v.pending.appliedAt}` : s.dim('nothing')]);
  if (v.outcome) {
    const paint = STATE_TEXT[v.outcome.state] ?? ((_s: Style, t: string) => t);
    rows.push(['outcome', `${paint(s, v.outcome.state)} (rebooted since: ${v.outcome.rebooted})`]);
    for (const e of v.outcome.entries) rows.push([`  ${e.esrt}`, `${e.state}${e.statusName ? ` [${e.statusName}]` : ''}: ${e.detail}`]);
  }
  return table(rows, s);
}
