import { status } from '../../core/status.js';
import { FwupError } from '../../errors/fwup-error.js';
import type { CommandModule } from '../command-table.js';
import { esc, table } from '../render.js';
import { formatBytes } from '../../util/units.js';
import { flashromStatusText, uefiStatusText } from '../render-hardware.js';
import { redfishStatusText } from '../render-redfish.js';
import { targetOptionsFrom } from '../target-options.js';
import type { EmuStatus } from '../../targets/emu/emu-results.js';
import type { SlotStatus } from '../../machine/firmware/firmware-status.js';
import type { Style } from '../style.js';

export const run: CommandModule['run'] = async (ctx, _args, opts, g) => {
  const st = await status(ctx, { ...(g.target ? { target: g.target } : {}), targetOptions: targetOptionsFrom(opts) });
  // A status that cannot reach its target still reports what it knows, and exits with the reason.
  const unreachable = st.kind === 'flashrom' && 'error' in st.chip ? st.chip.error : null;
  return {
    data: st,
    ...(unreachable ? { error: new FwupError(unreachable.code, unreachable.message, { hint: unreachable.hint }) } : {}),
    text: (s) => {
      switch (st.kind) {
        case 'flashrom':
          return flashromStatusText(st, s);
        case 'uefi':
          return uefiStatusText(st, s);
        case 'emu':
          return emuStatusText(st, s);
        case 'redfish':
          return redfishStatusText(st, s);
      }
    },
  };
};

function slotText(x: SlotStatus, s: Style): string {
  switch (x.state) {
    case 'verified':
      return `${esc(x.version ?? '?')} (security version ${x.securityVersion}, verified)`;
    case 'empty':
      return s.dim('empty');
    case 'unused':
      return s.yellow(`not bootable: ${esc(x.problem ?? '')}${x.version ? ` (its header says ${esc(x.version)})` : ''}`);
    case 'damaged':
      return s.red(`DAMAGED: ${esc(x.problem ?? '')}${x.version ? ` (its header says ${esc(x.version)})` : ''}`);
  }
}

function emuStatusText(v: EmuStatus, s: Style): string {
  const m = v.machine;
  const fw = v.firmware;
  const rows: Array<[string, string]> = [
    ['target', `${esc(v.target)} (${esc(m.platform)}, ${m.cpus} CPUs${m.development ? ', development' : ''})`],
  ];
  if (m.runningPid !== null) rows.push(['running', `yes (pid ${m.runningPid}): fwup machine status`]);
  if (m.busyPid !== null) rows.push(['busy', s.yellow(`pid ${m.busyPid} holds the machine (an update may be in progress)`)]);
  if (fw) {
    const other = fw.activeSlot === 'A' ? 'B' : 'A';
    rows.push(
      ['firmware', `${esc(fw.version ?? '?')} in slot ${fw.activeSlot}${fw.trial ? s.yellow(' (on trial)') : ''}`],
      [`slot ${fw.activeSlot}`, slotText(fw.slots[fw.activeSlot], s)],
      [`slot ${other}`, slotText(fw.slots[other], s)],
      ['recovery copy', slotText(fw.recovery, s)],
      ['rollback', fw.rollback.available ? `to ${esc(fw.rollback.reason)}` : fw.rollback.consumed ? s.yellow(`none: ${esc(fw.rollback.reason)}`) : s.dim(`none: ${esc(fw.rollback.reason)}`)],
    );
  } else {
    rows.push(['firmware', s.red('unknown: the boot record is missing (fwup machine boot rebuilds it)')]);
  }
  rows.push(
    ['install', m.install === 'in-place' ? 'in place (stage writes the inactive slot)' : 'by copy (stage writes STAGING)'],
    ['staged', v.staged ? `${esc(v.staged.version)} (${v.staged.format}, ${formatBytes(v.staged.size)}${v.stagedIn && v.stagedIn !== 'STAGING' ? `, in place in ${v.stagedIn}` : ''}, fileSha256 ${v.staged.fileSha256.slice(0, 16)}…)` : v.stagedProblem ? s.red(`damaged request: ${esc(v.stagedProblem)}`) : s.dim('nothing')],
    ['last attempt', v.lastAttempt ? `${v.lastAttempt.statusName} (${esc(v.lastAttempt.version) || v.lastAttempt.versionNumber}, ${v.lastAttempt.time})` : s.dim('none')],
    ['security version', v.securityVersion === null ? s.red('unknown (see warnings)') : String(v.securityVersion)],
    ['nvram', `${formatBytes(v.nvram.used)} used, ${formatBytes(v.nvram.free)} free of ${formatBytes(v.nvram.size)}`],
  );
  const lines = [table(rows, s)];
  if (v.warnings.length) lines.push('', ...v.warnings.map((w) => `${s.yellow('warning:')} ${esc(w)}`));
  return lines.join('\n');
}
