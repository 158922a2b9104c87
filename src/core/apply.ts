import { FwupError } from '../errors/fwup-error.js';
import type { ApplyOutcome, HistoryItem, TargetOptions } from '../targets/target.js';
import { EmuTarget } from '../targets/emu/emu-target.js';
import { applyFailure } from '../targets/redfish/redfish-apply.js';
import type { BootReport } from '../machine/firmware/firmware.js';
import type { Context } from './context.js';
import { Steps } from './steps.js';
import { stopIfInterrupted } from './interrupt.js';
import { resolveTarget, withTargetLock } from './target-session.js';

export interface ApplyOptions {
  target?: string;
  mode: 'warm' | 'cold';
  timeoutMs: number;
  confirm: boolean;
  /** Hardware targets: reboot the host in `mode` afterwards (--warm/--cold given, no --no-reboot). */
  reboot?: boolean;
  dryRun?: boolean;
  targetOptions?: TargetOptions;
}

/** apply: the target runs the method; a failed outcome check is an error (after the target reverted). */
export async function apply(ctx: Context, opts: ApplyOptions): Promise<ApplyOutcome> {
  const target = await resolveTarget(ctx, opts.target, opts.targetOptions);
  const steps = new Steps(ctx, 'apply', opts.dryRun ? 'planning the apply' : `applying (${opts.mode})`, { apply: 1 });
  const out = await withTargetLock(ctx, target, () =>
    steps.run('apply', (tick) => {
      stopIfInterrupted(ctx, 'apply', 'it had not started: nothing was changed');
      return target.apply({
        mode: opts.mode,
        timeoutMs: opts.timeoutMs,
        confirm: opts.confirm,
        reboot: opts.reboot ?? false,
        dryRun: opts.dryRun ?? false,
        onProgress: (p) => tick(p.total ? p.done / p.total : 0),
      });
    }),
  );
  steps.done();
  // An interrupt that arrived while the update ran waited for it (a flash write, the firmware's
  // critical section are never cut short): say where that left the target.
  stopIfInterrupted(ctx, 'apply', `it ran to the end first: ${outcomeState(out)}`);
  return out;
}

/** Where an apply left its target, in one phrase. */
export function outcomeState(out: ApplyOutcome): string {
  switch (out.kind) {
    case 'emu':
      return `${out.report.after.version} runs in slot ${out.report.after.slot}${out.report.after.trial ? ', on trial (it reverts at the next reset unless confirmed)' : out.report.confirmed ? ', confirmed' : ''}`;
    case 'flashrom':
      return out.dryRun ? 'nothing was written (dry run)' : `the chip holds ${out.report.version}, read back and verified`;
    case 'uefi':
      return out.dryRun ? 'nothing was written (dry run)' : 'the capsule is handed over and waits for the reboot';
    case 'redfish':
      return out.dryRun ? 'nothing was sent (dry run)' : `the BMC reports ${out.report.after.version ?? 'no version'} (expected ${out.report.expected})`;
  }
}

export async function rollback(ctx: Context, opts: Omit<ApplyOptions, 'mode' | 'reboot'>): Promise<ApplyOutcome> {
  const target = await resolveTarget(ctx, opts.target, opts.targetOptions);
  const out = await withTargetLock(ctx, target, () => {
    stopIfInterrupted(ctx, 'rollback', 'it had not started: nothing was changed');
    return target.rollback({ mode: 'warm', timeoutMs: opts.timeoutMs, confirm: opts.confirm, reboot: false, dryRun: opts.dryRun ?? false });
  });
  stopIfInterrupted(ctx, 'rollback', `it ran to the end first: ${outcomeState(out)}`);
  return out;
}

/** history is read-only: no lock (a machine in the middle of an update still answers). */
export async function history(ctx: Context, opts: { target?: string; targetOptions?: TargetOptions }): Promise<{ target: string; entries: HistoryItem[] }> {
  const target = await resolveTarget(ctx, opts.target, opts.targetOptions);
  return { target: target.spec, entries: await target.history() };
}

/** `fwup machine boot`: cold-boot the emulated machine's firmware now (under the lock; refused while it runs). */
export async function machineBoot(ctx: Context, opts: { target?: string }): Promise<{ target: string; boot: BootReport }> {
  const target = await resolveTarget(ctx, opts.target);
  if (!(target instanceof EmuTarget)) throw new FwupError('TARGET_UNSUPPORTED', 'machine boot works on emulated machines only', { hint: 'give --target emu:DIR' });
  return withTargetLock(ctx, target, async () => ({ target: target.spec, boot: await target.boot() }));
}

export function outcomeError(out: ApplyOutcome): FwupError | null {
  if (out.ok) return null;
  if (out.kind === 'emu') {
    const failed = out.report.checks.find((c) => !c.ok);
    return new FwupError('OUTCOME_FAILED', `the outcome check failed: ${failed ? `${failed.name}: ${failed.detail}` : 'see the report'}`, {
      hint: out.report.reverted ? 'the previous firmware was restored (slot reverted)' : 'the installed firmware was not changed',
    });
  }
  if (out.kind === 'redfish') {
    const bmc = applyFailure(out.report);
    if (bmc) return bmc;
    const failed = out.report.checks.filter((c) => !c.ok);
    return new FwupError('OUTCOME_FAILED', `the outcome check failed: ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')}`, {
      hint: 'the BMC\'s task messages and fwup status --target … say what the BMC did; the firmware inventory shows what runs',
    });
  }
  return new FwupError('OUTCOME_FAILED', 'the outcome check failed: see the report', { hint: 'the report says what the target found' });
}
