import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FwupError } from '../errors/fwup-error.js';
import { displayArgv, spawnFailure } from './exec.js';
import { HostFiles } from './host-files.js';
import type { ActionLog } from './plan.js';
import { routeForWrite, sudoRefusal, withRoute } from './privilege.js';
import type { TargetDeps } from './target.js';

/** What a hardware target does after installing when the user asked for --warm or --cold. */
export interface RebootReport {
  mode: 'warm' | 'cold';
  /** <sysroot>/sys/kernel/reboot/mode, or null on kernels without it (before 5.11). */
  modeFile: string | null;
  command: string[];
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * The system's reboot command: FWUP_REBOOT_COMMAND when set; `systemctl reboot` when systemd runs the
 * system (sd_booted() looks for /run/systemd/system the same way); else `reboot`.
 */
export async function rebootCommand(deps: TargetDeps): Promise<string[]> {
  if (deps.rebootCommand) return [...deps.rebootCommand];
  return (await exists(join(deps.sysroot, 'run/systemd/system'))) ? ['systemctl', 'reboot'] : ['reboot'];
}

/**
 * Ask the kernel for a warm (or cold) reboot, then reboot: write the mode to /sys/kernel/reboot/mode
 * (which the next reboot(2) uses), and run the reboot command through exec. Both are recorded in `log`
 * and skipped on a dry run.
 */
export async function rebootHost(deps: TargetDeps, mode: 'warm' | 'cold', sudo: boolean, log: ActionLog): Promise<RebootReport> {
  const modeFile = join(deps.sysroot, 'sys/kernel/reboot/mode');
  const hasMode = await exists(modeFile);
  const files = new HostFiles(deps.exec);
  if (hasMode) {
    const route = await routeForWrite(modeFile, true, sudo, `the kernel's reboot mode, to ask for a ${mode} reboot`);
    const data = Buffer.from(`${mode}\n`);
    await log.runAll(HostFiles.actions('in-place', modeFile, data.length, route, `reboot mode "${mode}"`), () => files.writeInPlace(modeFile, data, route, false));
  } else {
    deps.log.warn(`${modeFile} does not exist (Linux before 5.11): the reboot uses the kernel's default mode, not "${mode}"`);
  }
  const base = await rebootCommand(deps);
  // An injected command is run as given; the system's own needs root, or sudo when asked.
  const argv = deps.rebootCommand || deps.isRoot || !sudo ? base : withRoute('sudo', base);
  await log.run({ kind: 'exec', argv, purpose: `reboot the host (${mode})` }, async () => {
    const r = await deps.exec(argv[0]!, argv.slice(1), { cwd: deps.cwd });
    if (r.spawnError) throw spawnFailure(argv, r.spawnError, 'set FWUP_REBOOT_COMMAND to this system\'s reboot command');
    if (r.exitCode !== 0) {
      const out = `${r.stderr}\n${r.stdout}`;
      throw (
        sudoRefusal(argv, out) ??
        new FwupError('HELPER_FAILED', `the reboot command failed (exit ${r.exitCode}): ${displayArgv(argv)}: ${out.trim()}`, {
          hint: 'the update is in place; reboot the machine yourself to let it take effect',
        })
      );
    }
  });
  return { mode, modeFile: hasMode ? modeFile : null, command: argv };
}
