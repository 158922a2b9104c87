import { FwupError } from '../errors/fwup-error.js';
import type { ApplyOutcome, HistoryItem, TargetOptions } from '../targets/target.js';
import { EmuTarget } from '../targets/emu/emu-target.js';
import type { BootReport } from '../machine/firmware/firmware.js';
import type { Context } from './context.js';
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
  const task = ctx.progress.start(opts.dryRun ? 'planning the apply' : `applying (${opts.mode})`);
  try {
    const out = await withTargetLock(ctx, target, () =>
      target.apply({
        mode: opts.mode,
        timeoutMs: opts.timeoutMs,
        confirm: opts.confirm,
        reboot: opts.reboot ?? false,
        dryRun: opts.dryRun ?? false,
        onProgress: (p) => task.update(p.done, `${p.phase} ${p.total ? Math.floor((p.done / p.total) * 100) : 0}%`),
      }),
    );
    task.succeed();
    return out;
  } catch (e) {
    task.fail();
    throw e;
  }
}

export async function rollback(ctx: Context, opts: Omit<ApplyOptions, 'mode' | 'reboot'>): Promise<ApplyOutcome> {
  const target = await resolveTarget(ctx, opts.target, opts.targetOptions);
  return withTargetLock(ctx, target, () =>
    target.rollback({ mode: 'warm', timeoutMs: opts.timeoutMs, confirm: opts.confirm, reboot: false, dryRun: opts.dryRun ?? false }),
  );
}

export async function history(ctx: Context, opts: { target?: string }): Promise<{ target: string; entries: HistoryItem[] }> {
  const target = await resolveTarget(ctx, opts.target);
  return withTargetLock(ctx, target, async () => ({ target: target.spec, entries: await target.history() }));
}

/** `fwup machine boot`: cold-boot the emulated machine's firmware now. */
export async function machineBoot(ctx: Context, opts: { target?: string }): Promise<{ target: string; boot: BootReport }> {
  const target = await resolveTarget(ctx, opts.target);
  if (!(target instanceof EmuTarget)) throw new FwupError('TARGET_UNSUPPORTED', 'machine boot works on emulated machines only');
  return withTargetLock(ctx, target, async () => ({ target: target.spec, boot: await target.boot() }));
}

export function outcomeError(out: ApplyOutcome): FwupError | null {
  if (out.ok) return null;
  const r = out.report as { reverted?: boolean; checks?: Array<{ name: string; ok: boolean; detail: string }> };
  const failed = r.checks?.find((c) => !c.ok);
  return new FwupError('OUTCOME_FAILED', `the outcome check failed: ${failed ? `${failed.name}: ${failed.detail}` : 'see the report'}`, {
    hint: r.reverted ? 'the previous firmware was restored (slot reverted)' : 'the installed firmware was not changed',
  });
}
