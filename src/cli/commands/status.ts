import { status } from '../../core/status.js';
import type { CommandModule } from '../command-table.js';
import { table } from '../render.js';
import { formatBytes } from '../../util/units.js';
import { flashromStatusText, uefiStatusText } from '../render-hardware.js';
import { targetOptionsFrom } from '../target-options.js';

interface EmuStatusView {
  target: string;
  machine: { platform: string; cpus: number; development: boolean };
  firmware: { activeSlot: string; version: string | null; trial: boolean; slots: Record<string, { version: string | null }> };
  staged: { version: string; size: number; sha256: string; format: string; stagedAt: string } | null;
  lastAttempt: { statusName: string; version: string; time: string } | null;
  securityVersion: number;
  nvram: { size: number; used: number; free: number };
}

export const run: CommandModule['run'] = async (ctx, _args, opts, g) => {
  const st = await status(ctx, { ...(g.target ? { target: g.target } : {}), targetOptions: targetOptionsFrom(opts) });
  return {
    data: st,
    text: (s) => {
      if (st.kind === 'flashrom') return flashromStatusText(st, s);
      if (st.kind === 'uefi') return uefiStatusText(st, s);
      const v = st as unknown as EmuStatusView;
      const other = Object.entries(v.firmware.slots).filter(([k]) => k !== v.firmware.activeSlot)[0];
      return table(
        [
          ['target', `${v.target} (${v.machine.platform}, ${v.machine.cpus} CPUs${v.machine.development ? ', development' : ''})`],
          ['firmware', `${v.firmware.version ?? '?'} in slot ${v.firmware.activeSlot}${v.firmware.trial ? s.yellow(' (on trial)') : ''}`],
          ['other slot', other ? `${other[0]}: ${other[1].version ?? 'empty'}` : '-'],
          ['staged', v.staged ? `${v.staged.version} (${v.staged.format}, ${formatBytes(v.staged.size)}, sha256 ${v.staged.sha256.slice(0, 16)}…)` : s.dim('nothing')],
          ['last attempt', v.lastAttempt ? `${v.lastAttempt.statusName} (${v.lastAttempt.version}, ${v.lastAttempt.time})` : s.dim('none')],
          ['security version', String(v.securityVersion)],
          ['nvram', `${formatBytes(v.nvram.used)} used, ${formatBytes(v.nvram.free)} free of ${formatBytes(v.nvram.size)}`],
        ],
        s,
      );
    },
  };
};
