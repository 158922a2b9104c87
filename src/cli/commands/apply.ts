import { apply, outcomeError } from '../../core/apply.js';
import { FwupError } from '../../errors/fwup-error.js';
import type { CommandModule } from '../command-table.js';
import { applyReportText } from '../render-apply.js';
import { targetOptionsFrom } from '../target-options.js';

export const run: CommandModule['run'] = async (ctx, _args, opts, g) => {
  if (opts.warm && opts.cold) throw new FwupError('USAGE', 'choose one of --warm and --cold', { hint: '--warm updates without a reboot (processor-only reset); --cold writes the update and reboots' });
  // A BMC's task and a server's reboot take minutes; CPUs acknowledge in milliseconds.
  const redfish = /^redfish:/.test(g.target ?? '');
  const seconds = opts.timeout === undefined ? (redfish ? 900 : 5) : Number(opts.timeout);
  if (!(seconds > 0)) throw new FwupError('USAGE', `--timeout ${String(opts.timeout)} is not a positive number of seconds`, { hint: 'give the seconds the CPU rendezvous may take, e.g. --timeout 10' });
  const out = await apply(ctx, {
    ...(g.target ? { target: g.target } : {}),
    mode: opts.cold ? 'cold' : 'warm',
    timeoutMs: seconds * 1000,
    confirm: opts.confirm !== false,
    // Hardware targets reboot the host only when asked for a reset explicitly (the emulated machine
    // resets its own processors and ignores this).
    reboot: Boolean(opts.warm || opts.cold) && opts.reboot !== false,
    dryRun: Boolean(opts.dryRun),
    targetOptions: targetOptionsFrom(opts),
  });
  return { data: out, text: (s) => applyReportText(out, s), error: outcomeError(out) };
};
