import { FwupError } from '../errors/fwup-error.js';
import type { TargetOptions, TargetStatus } from '../targets/target.js';
import type { Context } from './context.js';
import { resolveTarget, withTargetLock } from './target-session.js';

export async function status(ctx: Context, opts: { target?: string; targetOptions?: TargetOptions }): Promise<TargetStatus> {
  const target = await resolveTarget(ctx, opts.target, opts.targetOptions);
  // Under the lock: a concurrent stage may be in the middle of an NVRAM reclaim.
  return withTargetLock(ctx, target, () => target.status());
}

export async function unstage(ctx: Context, opts: { target?: string; targetOptions?: TargetOptions }): Promise<{ target: string; removed: true }> {
  const target = await resolveTarget(ctx, opts.target, opts.targetOptions);
  return withTargetLock(ctx, target, async () => {
    if (!(await target.unstage())) {
      throw new FwupError('NOTHING_TO_DO', 'no update is staged', { hint: 'stage one with `fwup stage IMAGE`' });
    }
    return { target: target.spec, removed: true as const };
  });
}
