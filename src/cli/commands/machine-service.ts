import { machineRun, machineStart, machineStatus, machineStop, type BmcRequest } from '../../core/machine-service.js';
import { FwupError } from '../../errors/fwup-error.js';
import type { CommandModule } from '../command-table.js';
import { esc, table } from '../render.js';
import { VERSION } from '../version.js';

function bmcRequest(opts: Record<string, unknown>): BmcRequest | undefined {
  if (typeof opts.redfish !== 'string') {
    if (opts.tls || opts.allowUnsigned) throw new FwupError('USAGE', '--tls and --allow-unsigned go with --redfish HOST:PORT', { hint: 'e.g. fwup machine start --redfish 127.0.0.1:8443 --tls' });
    return undefined;
  }
  return { listen: opts.redfish, tls: Boolean(opts.tls), allowUnsigned: Boolean(opts.allowUnsigned), version: VERSION };
}

export const start: CommandModule['run'] = async (ctx, _a, o, g) => {
  const r = await machineStart(ctx, g.target, bmcRequest(o));
  return {
    data: r,
    text: (s) => {
      const lines = [`${s.green('running')} ${esc(r.target)} (pid ${r.pid}, log ${esc(r.log)})`];
      const b = r.redfish;
      if (b) {
        lines.push(`redfish: ${esc(b.url)}${b.certFile ? ` (self-signed certificate: ${esc(b.certFile)}; clients pass --ca with it)` : ''}`);
        if (b.password) lines.push(`account: user ${esc(b.user)}, password ${esc(b.password)} ${s.yellow('(shown once; stored mode 0600 in')} ${esc(b.credentialsFile ?? '')}${s.yellow(')')}`);
        else lines.push(`account: user ${esc(b.user)} (${b.credentialsFrom === 'environment' ? 'from FWUP_REDFISH_USER/FWUP_REDFISH_PASSWORD' : `stored in ${esc(b.credentialsFile ?? '')}`})`);
      }
      return lines.join('\n');
    },
  };
};

export const run: CommandModule['run'] = async (ctx, _a, o, g) => {
  const r = await machineRun(ctx, g.target, bmcRequest(o));
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
      const rows: Array<[string, string]> = [
        ['machine', `${r.target} (pid ${r.pid})`],
        ['power', r.powerState === 'On' ? 'on' : s.yellow(r.powerState)],
        ['uptime', `${(r.uptimeMs / 1000).toFixed(1)} s`],
        ['firmware', `${fw.version} in slot ${fw.slot}${fw.trial ? s.yellow(' (on trial)') : ''}`],
        ['cpus', `${r.cpus} on ${r.workers} worker threads`],
        ['steps', r.steps.map((n, i) => `cpu${i}=${n}`).join(' ')],
      ];
      if (r.redfish) rows.push(['redfish', esc(r.redfish.url)]);
      return table(rows, s);
    },
  };
};
