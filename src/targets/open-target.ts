import { isAbsolute, resolve } from 'node:path';
import { FwupError } from '../errors/fwup-error.js';
import { EmuTarget } from './emu/emu-target.js';
import { FlashromTarget } from './flashrom/flashrom-target.js';
import { UefiTarget } from './uefi/uefi-target.js';
import { RedfishTarget } from './redfish/redfish-target.js';
import type { RedfishDeps } from './redfish/redfish-connection.js';
import { parseRedfishSpec, type RedfishSpec } from './redfish/redfish-spec.js';
import type { EmuDeps, Target, TargetDeps, TargetOptions } from './target.js';

export const DEFAULT_MACHINE_DIR = '.fwup/machine';

export type TargetSpec =
  | {
      kind: 'emu';
      dir: string;
      /** No --target and no FWUP_TARGET: the default machine, created on first use. */
      isDefault: boolean;
    }
  /** Everything after "flashrom:" is flashrom's -p argument: PROGRAMMER[:PARAM=VALUE,…]. */
  | { kind: 'flashrom'; programmer: string }
  | { kind: 'uefi' }
  /** A BMC: redfish:https://HOST[:PORT][/redfish/v1/Systems/ID]. */
  | { kind: 'redfish'; redfish: RedfishSpec };

const USAGE_HINT = 'use emu:DIR (an emulated machine; the default is emu:./.fwup/machine), flashrom:PROGRAMMER[:PARAMS] (e.g. flashrom:internal), uefi, or redfish:https://BMC';

/** Parse `--target` (or FWUP_TARGET); none means the default emulated machine under cwd. */
export function parseTargetSpec(spec: string | undefined, cwd: string): TargetSpec {
  if (spec === undefined || spec === '') return { kind: 'emu', dir: resolve(cwd, DEFAULT_MACHINE_DIR), isDefault: true };
  if (spec === 'uefi') return { kind: 'uefi' };
  const m = /^([a-z]+):(.*)$/s.exec(spec);
  if (m && m[1] === 'emu' && m[2]) {
    return { kind: 'emu', dir: isAbsolute(m[2]) ? m[2] : resolve(cwd, m[2]), isDefault: false };
  }
  if (m && m[1] === 'redfish') return { kind: 'redfish', redfish: parseRedfishSpec(m[2]!) };
  if (m && m[1] === 'flashrom') {
    const programmer = m[2]!;
    if (!/^[a-z0-9_]+(:.*)?$/.test(programmer)) {
      throw new FwupError('TARGET_INVALID', `flashrom target ${JSON.stringify(spec)} names no programmer`, {
        hint: 'write flashrom:PROGRAMMER[:PARAMS], e.g. flashrom:internal or flashrom:dummy:emulate=W25Q128FV,image=chip.bin',
      });
    }
    return { kind: 'flashrom', programmer };
  }
  throw new FwupError('TARGET_INVALID', `unknown target ${JSON.stringify(spec)}`, { hint: USAGE_HINT });
}

/** Each kind gets its own dependencies: the emulated machine's knobs and faults go to it alone. */
export function openTarget(spec: TargetSpec, deps: TargetDeps, emu: () => EmuDeps, options: TargetOptions, redfish: () => RedfishDeps): Target {
  switch (spec.kind) {
    case 'emu':
      return new EmuTarget(spec.dir, deps, emu());
    case 'flashrom':
      return new FlashromTarget(spec.programmer, deps, options);
    case 'uefi':
      return new UefiTarget(deps, options);
    case 'redfish':
      return new RedfishTarget(spec.redfish, deps, redfish(), options);
  }
}
