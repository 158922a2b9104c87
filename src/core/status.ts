import { FwupError } from '../errors/fwup-error.js';
import type { PlannedAction } from '../targets/plan.js';
import type { TargetOptions, TargetStatus } from '../targets/target.js';
import type { Context } from './context.js';
import { resolveTarget, withTargetLock } from './target-session.js';

/**
 * status is read-only and takes no lock: a command in the middle of an update must not make it wait.
 * Targets read a consistent snapshot instead (the emulated machine re-reads its metadata until two
 * reads agree) and say when someone holds the lock.
 */
export async function status(ctx: Context, opts: { target?: string; targetOptions?: TargetOptions }): Promise<TargetStatus> {
  const target = await resolveTarget(ctx, opts.target, opts.targetOptions);
  return target.status();
}

export async function unstage(ctx: Context, opts: { target?: string; targetOptions?: TargetOptions; dryRun?: boolean }): Promise<{ target: string; removed: true; plan: PlannedAction[]; dryRun: boolean }> {
  const target = await resolveTarget(ctx, opts.target, opts.targetOptions);
  return withTargetLock(ctx, target, async () => {
    const r = await target.unstage({ dryRun: opts.dryRun ?? false });
    if (!r.removed) throw new FwupError('NOTHING_TO_DO', 'no update is staged', { hint: 'stage one with `fwup stage IMAGE`' });
    return { target: target.spec, removed: true as const, plan: r.plan, dryRun: opts.dryRun ?? false };
  });
}
