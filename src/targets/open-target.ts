import { isAbsolute, resolve } from 'node:path';
import { FwupError } from '../errors/fwup-error.js';
import { EmuTarget } from './emu/emu-target.js';
import type { Target, TargetDeps } from './target.js';

export const DEFAULT_MACHINE_DIR = '.fwup/machine';

export interface TargetSpec {
  kind: 'emu';
  dir: string;
  /** No --target and no FWUP_TARGET: the default machine, created on first use. */
  isDefault: boolean;
}

/** Parse `--target` (or FWUP_TARGET): `emu:DIR`; none means the default emulated machine under cwd. */
export function parseTargetSpec(spec: string | undefined, cwd: string): TargetSpec {
  if (spec === undefined || spec === '') return { kind: 'emu', dir: resolve(cwd, DEFAULT_MACHINE_DIR), isDefault: true };
  const m = /^([a-z]+):(.*)$/.exec(spec);
  if (m && m[1] === 'emu' && m[2]) {
    return { kind: 'emu', dir: isAbsolute(m[2]) ? m[2] : resolve(cwd, m[2]), isDefault: false };
  }
  throw new FwupError('TARGET_INVALID', `unknown target ${JSON.stringify(spec)}`, {
    hint: 'use emu:DIR for an emulated machine (the default is emu:./.fwup/machine)',
  });
}

export function openTarget(spec: TargetSpec, deps: TargetDeps): Target {
  switch (spec.kind) {
    case 'emu':
      return new EmuTarget(spec.dir, deps);
  }
}
