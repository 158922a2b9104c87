import type { ApplyOutcome } from '../targets/target.js';
import type { Style } from './style.js';
import { esc, table } from './render.js';
import { dryRunText } from './render-plan.js';
import { flashromApplyText, uefiApplyText } from './render-hardware.js';
import { redfishApplyText } from './render-redfish.js';

const BAR_WIDTH = 40;

/** The apply report: versions, checks, and the downtime as a timeline of bars per phase. */
export function applyReportText(out: ApplyOutcome, s: Style): string {
  if (out.dryRun) return dryRunText(out.plan, s);
  if (out.kind === 'flashrom') return flashromApplyText(out.target, out.report, s);
  if (out.kind === 'uefi') return uefiApplyText(out.report, s);
  if (out.kind === 'redfish') return redfishApplyText(out.target, out.report, s);
  const r = out.report;
  const lines: string[] = [];
  const verdict = r.ok ? s.green(s.bold(r.confirmed ? 'OK, confirmed' : 'OK, on trial')) : s.red(s.bold(r.reverted ? 'FAILED, reverted' : 'FAILED'));
  lines.push(`${s.bold(`${r.mode} ${r.kind === 'rollback' ? 'rollback' : 'apply'}`)} on ${esc(out.target)}${r.live ? ' (running machine)' : ''}: ${verdict}`);
  lines.push(
    table(
      [
        ['firmware', `${esc(r.before.version)} (slot ${r.before.slot}) -> ${esc(r.after.version)} (slot ${r.after.slot})${r.after.trial ? s.yellow(' on trial') : ''}`],
        ['cpus', `${r.cpus} on ${r.workers} worker thread${r.workers > 1 ? 's' : ''}`],
        ['firmware said', r.firmware.decision],
        ['last attempt', r.firmware.lastAttempt ? `${r.firmware.lastAttempt.statusName} (${esc(r.firmware.lastAttempt.version)})` : '-'],
        ['security version', String(r.securityVersion)],
      ],
      s,
    ),
  );
  lines.push('', s.bold('checks'));
  for (const c of r.checks) lines.push(`  ${c.ok ? s.green('✔') : s.red('✘')} ${c.name}: ${s.dim(esc(c.detail))}`);
  if (r.ackLatencyMs.length) {
    const sorted = [...r.ackLatencyMs].sort((a, b) => a - b);
    const med = sorted[sorted.length >> 1]!;
    lines.push('', `${s.bold('IPI acknowledge')}  median ${med.toFixed(3)} ms, max ${sorted[sorted.length - 1]!.toFixed(3)} ms over ${sorted.length} CPUs`);
  }
  lines.push('', `${s.bold('downtime')} ${r.downtimeMs.toFixed(1)} ms`);
  const total = Math.max(r.downtimeMs, 1e-6);
  let at = 0;
  for (const p of r.phases) {
    const start = Math.round((at / total) * BAR_WIDTH);
    const len = Math.max(p.ms > 0 ? 1 : 0, Math.round((p.ms / total) * BAR_WIDTH));
    const bar = ' '.repeat(Math.min(start, BAR_WIDTH - 1)) + '█'.repeat(Math.min(len, BAR_WIDTH - Math.min(start, BAR_WIDTH - 1)));
    lines.push(`  ${p.name.padEnd(10)} ${s.cyan(bar.padEnd(BAR_WIDTH))} ${p.ms.toFixed(2).padStart(8)} ms`);
    at += p.ms;
  }
  if (r.flashTiming) {
    const sec = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
    lines.push(`  ${s.bold(`downtime on this chip (${esc(r.flashTiming.chip)}, modelled)`)}: typical ${sec(r.flashTiming.typicalMs)}, worst ${sec(r.flashTiming.worstMs)} ${s.dim('(flash operations while the CPUs are held)')}`);
  }
  if (r.mode === 'cold') lines.push('', `work lost: ${r.workLostSteps} instructions (RAM cleared, the OS restarted)`);
  if (r.firmware.events.length) {
    lines.push('', s.bold('firmware'));
    for (const e of r.firmware.events) lines.push(`  ${s.dim(esc(e))}`);
  }
  return lines.join('\n');
}
