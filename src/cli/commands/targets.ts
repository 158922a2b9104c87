import { listTargets } from '../../core/targets-list.js';
import type { CommandModule } from '../command-table.js';

export const run: CommandModule['run'] = async (ctx, _args, _opts, g) => {
  const r = await listTargets(ctx, { ...(g.target ? { target: g.target } : {}) });
  return {
    data: r,
    text: (s) => {
      const lines: string[] = [s.bold('emulated machines')];
      if (r.emu.length === 0) lines.push(`  ${s.dim('none here (fwup machine init creates ./.fwup/machine)')}`);
      for (const m of r.emu) {
        const what = m.error ? s.red(m.error) : `${m.cpus} CPUs, firmware ${m.firmware}${m.staged ? `, staged ${m.staged}` : ''}`;
        lines.push(`  ${m.spec}${m.isDefault ? s.dim(' (default)') : ''}  ${what}`);
      }
      lines.push('', s.bold('flashrom'));
      lines.push(r.flashrom.found ? `  ${r.flashrom.spec}  flashrom ${r.flashrom.version ?? '?'}` : `  ${s.dim(r.flashrom.error ?? 'not found')}`);
      lines.push('', s.bold(`uefi (sysroot ${r.uefi.sysroot})`));
      if (!r.uefi.esrt) {
        lines.push(`  ${s.dim('no ESRT: not a UEFI system, or no firmware resources published')}`);
      } else {
        lines.push(`  uefi  capsule loader: ${r.uefi.loader ?? 'no'}, capsule on disk: ${r.uefi.capsuleOnDisk ? `yes (ESP ${r.uefi.esp ?? 'not found'})` : 'no'}`);
        for (const e of r.uefi.esrt) {
          lines.push(`  ${e.name}  ${e.fwClass}  ${e.fwType}  version 0x${e.fwVersion.toString(16)} (lowest 0x${e.lowestSupportedFwVersion.toString(16)})  last attempt 0x${e.lastAttemptVersion.toString(16)} ${e.lastAttemptStatus}`);
        }
      }
      return lines.join('\n');
    },
  };
};
