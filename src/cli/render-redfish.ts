import type { RedfishApplyReport, RedfishStatus } from '../targets/redfish/redfish-results.js';
import type { TaskSummary } from '../targets/redfish/task-monitor.js';
import { esc, table } from './render.js';
import type { Style } from './style.js';

export function taskText(t: TaskSummary | null, s: Style): string {
  if (!t) return s.dim('none');
  const colour = t.state === 'Completed' ? s.green : t.state === 'Exception' || t.state === 'Killed' || t.state === 'Cancelled' ? s.red : s.yellow;
  const last = t.messages[t.messages.length - 1];
  return `${colour(t.state)}${t.percent !== null ? ` ${t.percent}%` : ''}${t.awaiting ? s.yellow(` (waits for ${t.awaiting})`) : ''} ${s.dim(esc(t.uri ?? t.monitor ?? ''))}${last ? `\n${' '.repeat(16)}${s.dim(esc(last.message || last.id))}` : ''}`;
}

export function redfishStatusText(v: RedfishStatus, s: Style): string {
  const u = v.update;
  const push = [u.multipartUri ? 'multipart' : null, u.simpleUpdate ? 'SimpleUpdate' : null, u.pushUri ? 'HTTP push' : null].filter(Boolean).join(', ') || s.red('none');
  const rows: Array<[string, string]> = [
    ['target', `${esc(v.target)} (${esc(v.service.vendor ?? '?')} ${esc(v.service.product ?? '')}, Redfish ${esc(v.service.redfishVersion ?? '?')}, ${v.service.auth ?? '?'} auth)`],
    ['system', v.system ? `${esc(v.system.uri)}: ${esc(v.system.powerState ?? '?')}; resets ${esc((v.system.resetTypes ?? []).join(', ') || '?')}` : s.dim('none')],
    ['update service', `${u.enabled ? 'enabled' : s.red('disabled')}; push: ${push}${u.pushApplyTimes ? `; apply times ${esc(u.pushApplyTimes.join(', '))}` : ''}${u.maxImageBytes ? `; max ${u.maxImageBytes} bytes` : ''}`],
    ['firmware', v.component ? `${esc(v.component.id)} ${esc(v.component.version ?? '?')}${v.component.lowestSupportedVersion ? ` (lowest supported ${esc(v.component.lowestSupportedVersion)})` : ''}` : s.red('unknown (see warnings)')],
    ['staged', v.staged ? `${esc(v.staged.image.version)} (${v.staged.method}, apply time ${esc(v.staged.applyTime ?? 'the BMC\'s default')}, ${v.staged.stagedAt})` : s.dim('nothing')],
    ['task', taskText(v.task ?? v.staged?.task ?? null, s)],
  ];
  const inv = v.components.map((c) => `  ${c.updateable ? s.green('•') : s.dim('·')} ${esc(c.id).padEnd(18)} ${esc(c.version ?? '-').padEnd(14)} ${s.dim(esc(c.name))}${c.staged ? s.yellow(' (staged)') : ''}`);
  const lines = [table(rows, s), '', s.bold('firmware inventory'), ...inv];
  if (v.warnings.length) lines.push('', ...v.warnings.map((w) => `${s.yellow('warning:')} ${esc(w)}`));
  return lines.join('\n');
}

export function redfishApplyText(target: string, r: RedfishApplyReport, s: Style): string {
  const verdict = r.ok ? s.green(s.bold('OK')) : s.red(s.bold('FAILED'));
  const lines = [
    `${s.bold(`${r.mode} apply`)} on ${esc(target)} (${r.how === 'reset' ? `ComputerSystem.Reset ${esc(r.resetType ?? '')}` : r.how === 'start-update' ? 'UpdateService.StartUpdate' : 'installed at the push'}): ${verdict}`,
    table([
      ['firmware', `${esc(r.before.version ?? '?')} -> ${esc(r.after.version ?? '?')} (expected ${esc(r.expected)})`],
      ['component', esc(r.component)],
      ['task', taskText(r.task, s)],
      ['power', esc(r.powerState ?? '?')],
    ], s),
    '', s.bold('checks'),
    ...r.checks.map((c) => `  ${c.ok ? s.green('✔') : s.red('✘')} ${c.name}: ${s.dim(esc(c.detail))}`),
    '', `${s.bold('phases')} (${(r.totalMs / 1000).toFixed(2)} s in all)`,
    ...r.phases.map((p) => `  ${p.name.padEnd(14)} ${(p.ms / 1000).toFixed(2).padStart(8)} s`),
  ];
  return lines.join('\n');
}
