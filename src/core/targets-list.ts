import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MACHINE_FILE } from '../machine/config.js';
import { machineDirsUnder, probeFlashrom, uefiInventory, type FlashromInventory, type UefiInventory } from '../targets/inventory.js';
import { DEFAULT_MACHINE_DIR, openTarget, parseTargetSpec } from '../targets/open-target.js';
import { DEFAULT_TARGET_OPTIONS } from '../targets/target.js';
import type { Context } from './context.js';
import { emuDeps, redfishDeps, targetDeps } from './settings.js';

export interface EmuMachineInfo {
  spec: string;
  dir: string;
  isDefault: boolean;
  cpus: number | null;
  firmware: string | null;
  staged: string | null;
  error: string | null;
}

export interface TargetsReport {
  emu: EmuMachineInfo[];
  flashrom: FlashromInventory & { spec: string };
  uefi: UefiInventory & { spec: 'uefi'; available: boolean };
}

/**
 * `fwup targets`: what this host offers. Emulated machines: the default one, the one --target or
 * FWUP_TARGET names, and every machine directory beside the default (./.fwup/*). flashrom: whether it
 * runs, and its version. UEFI: the ESRT entries and how a capsule could be delivered. Read-only.
 */
export async function listTargets(ctx: Context, opts: { target?: string }): Promise<TargetsReport> {
  const deps = targetDeps(ctx);
  const defaultDir = join(ctx.cwd, DEFAULT_MACHINE_DIR);
  const dirs = new Set<string>();
  if (existsSync(join(defaultDir, MACHINE_FILE))) dirs.add(defaultDir);
  for (const d of await machineDirsUnder(dirname(defaultDir), MACHINE_FILE)) dirs.add(d);
  const named = opts.target ? parseTargetSpec(opts.target, ctx.cwd) : null;
  if (named?.kind === 'emu') dirs.add(named.dir);

  const emu: EmuMachineInfo[] = [];
  for (const dir of dirs) {
    const info: EmuMachineInfo = { spec: `emu:${dir}`, dir, isDefault: dir === defaultDir, cpus: null, firmware: null, staged: null, error: null };
    try {
      // Read without the lock: a listing must not wait behind a running update.
      const st = await openTarget({ kind: 'emu', dir, isDefault: dir === defaultDir }, deps, () => emuDeps(ctx), DEFAULT_TARGET_OPTIONS, () => redfishDeps(ctx)).status();
      if (st.kind !== 'emu') continue;
      info.cpus = st.machine.cpus;
      info.firmware = st.firmware ? `${st.firmware.version ?? '?'} (slot ${st.firmware.activeSlot})` : null;
      if (st.warnings.length) info.error = st.warnings[0]!;
      info.staged = st.staged?.version ?? null;
    } catch (e) {
      info.error = e instanceof Error ? e.message : String(e);
    }
    emu.push(info);
  }
  const flashrom = await probeFlashrom(deps.exec, ctx.cwd);
  const uefi = await uefiInventory(ctx.sysroot);
  return {
    emu,
    flashrom: { ...flashrom, spec: 'flashrom:PROGRAMMER[:PARAMS]' },
    uefi: { ...uefi, spec: 'uefi', available: uefi.esrt !== null },
  };
}
