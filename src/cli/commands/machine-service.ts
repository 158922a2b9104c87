import { machineRun, machineStart, machineStatus, machineStop } from '../../core/machine-service.js';
import type { CommandModule } from '../command-table.js';
import { table } from '../render.js';

export const start: CommandModule['run'] = async (ctx, _a, _o, g) => {
  const r = await machineStart(ctx, g.target);
  return { data: r, text: (s) => `${s.green('running')} ${r.target} (pid ${r.pid}, log ${r.log})` };
};

export const run: CommandModule['run'] = async (ctx, _a, _o, g) => {
  const r = await machineRun(ctx, g.target);
  return { data: r, text: () => `stopped ${r.target}` };
};

export const stop: CommandModule['run'] = async (ctx, _a, _o, g) => {
  const r = await machineStop(ctx, g.target);
  return { data: r, text: (s) => `${s.green('stopped')} ${r.target} (pid ${r.pid})` };
};

export const status: CommandModule['run'] = async (ctx, _a, _o, g) => {
  const r = await machineStatus(ctx, g.target);
  return {
    data: r,
    text: (s) => {
      if (!r.running) return `${r.target}: ${s.dim('not running')} (start it with fwup machine start)`;
      const fw = r.firmware;
      return table(
        [
          ['machine', `${r.target} (pid ${r.pid})`],
          ['uptime', `${(r.uptimeMs / 1000).toFixed(1)} s`],
          ['firmware', `${fw.version} in slot ${fw.slot}${fw.trial ? s.yellow(' (on trial)') : ''}`],
          ['cpus', `${r.cpus} on ${r.workers} worker threads`],
          ['steps', r.steps.map((n, i) => `cpu${i}=${n}`).join(' ')],
        ],
        s,
      );
    },
  };
};
