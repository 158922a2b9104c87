import { FwupError } from '../errors/fwup-error.js';
import type { Context } from './context.js';

/**
 * Ctrl-C and SIGTERM: the CLI turns the first one into an abort of the Context's signal, and the
 * engine stops at the next safe point — never inside a flash write or the firmware's critical section —
 * with an error that says what was interrupted and what state the target is in (exit 130 or 143).
 */
export function interruption(ctx: Pick<Context, 'signal'>, what: string, state: string): FwupError | null {
  const s = ctx.signal;
  if (!s?.aborted) return null;
  const name = s.reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
  return new FwupError(name === 'SIGTERM' ? 'TERMINATED' : 'INTERRUPTED', `${what} interrupted (${name}): ${state}`, {
    hint: 'run the command again when you want it; fwup status shows the target',
  });
}

/** Throw the interruption now if one was asked for. */
export function stopIfInterrupted(ctx: Pick<Context, 'signal'>, what: string, state: string): void {
  const e = interruption(ctx, what, state);
  if (e) throw e;
}
