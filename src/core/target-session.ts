import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MACHINE_FILE } from '../machine/config.js';
import { openTarget, parseTargetSpec } from '../targets/open-target.js';
import { DEFAULT_TARGET_OPTIONS, type Target, type TargetOptions } from '../targets/target.js';
import type { Context } from './context.js';
import { emuDeps, lockTimeoutMs, redfishDeps, targetDeps } from './settings.js';
import { machineInit } from './machine-init.js';

/**
 * Resolve the target a command acts on. The default emulated machine is created on first use (and the
 * user is told); a machine named explicitly must exist.
 */
export async function resolveTarget(ctx: Context, spec: string | undefined, options: TargetOptions = DEFAULT_TARGET_OPTIONS): Promise<Target> {
  const parsed = parseTargetSpec(spec, ctx.cwd);
  if (parsed.kind === 'emu' && parsed.isDefault && !existsSync(join(parsed.dir, MACHINE_FILE))) {
    const r = await machineInit(ctx, { dir: parsed.dir, trust: [], development: false, force: false });
    ctx.log.info(
      `created the default emulated machine at ${parsed.dir} (${r.config.cpus} CPUs, ${r.config.flash.size >> 20} MiB flash, firmware ${r.firmwareVersion}, no trusted keys: development machine)`,
    );
  }
  return openTarget(parsed, targetDeps(ctx), () => emuDeps(ctx), options, () => redfishDeps(ctx));
}

/** Run `fn` holding the target's lock. */
export async function withTargetLock<T>(ctx: Context, target: Target, fn: () => Promise<T>): Promise<T> {
  const release = await target.lock(lockTimeoutMs(ctx));
  try {
    return await fn();
  } finally {
    await release();
  }
}
