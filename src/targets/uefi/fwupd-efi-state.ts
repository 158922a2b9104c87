import { readFile, rmdir, stat } from 'node:fs/promises';
import { FwupError } from '../../errors/fwup-error.js';
import { sha256Hex } from '../../util/digest.js';
import { HostFiles } from '../host-files.js';
import type { ActionLog } from '../plan.js';
import { routeForWrite, withRoute } from '../privilege.js';
import type { TargetDeps } from '../target.js';
import { UPDATE_STATUS, decodeUpdateInfo } from './fwupd-efi-layouts.js';
import { bootName, putVariable, type FwupdEfiRecord } from './fwupd-efi.js';
import type { UefiWrites } from './uefi-writes.js';

/**
 * The fallback's records after the writes: undoing them (unstage, a cut delivery), checking they are
 * still in place (apply), and reading what the helper wrote back at the boot (status, history).
 */

const exists = async (p: string) => (await stat(p).catch(() => null)) !== null;

/**
 * Put back every variable as it was (BootNext first: the firmware is never sent to a helper whose
 * inputs are going), then remove the capsule, the helper if fwup copied it, and the directories fwup
 * made (when empty).
 */
export async function undoFwupdEfi(deps: TargetDeps, writes: UefiWrites, sudo: boolean, log: ActionLog, rec: FwupdEfiRecord): Promise<void> {
  for (const [change, what] of [[rec.bootNext, 'BootNext'], [rec.boot, bootName(rec.boot.number)], [rec.updateInfo, 'the update-info variable']] as const) {
    const present = await exists(change.path);
    if (!present && change.before === null) continue;
    const route = await routeForWrite(change.path, present, sudo, what);
    await putVariable(deps, writes, log, change, route, change.before === null ? `${what}, which fwup created` : `${what} as it was before the stage`, 'before');
  }
  const files = [rec.capsulePath, ...(rec.helperCopied ? [rec.helperPath] : [])];
  for (const path of files) {
    if (!(await exists(path))) continue;
    const route = await routeForWrite(path, true, sudo, 'a file of the fwupd-efi delivery on the ESP');
    await log.runAll(HostFiles.actions('remove', path, 0, route, path === rec.capsulePath ? 'the staged capsule' : 'fwupd\'s helper, which fwup copied'), () => writes.files.remove(path, route));
  }
  for (const dir of [...rec.createdDirs].reverse()) {
    if (!(await exists(dir))) continue;
    const route = await routeForWrite(dir, true, sudo, 'a directory fwup made on the ESP');
    await log.run({ kind: 'remove', path: dir, purpose: 'a directory the stage made (if empty)' }, async () => {
      if (route === 'direct') {
        await rmdir(dir).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST' && e.code !== 'ENOENT') throw e;
        });
        return;
      }
      const argv = withRoute(route, ['rmdir', '--ignore-fail-on-non-empty', dir]);
      await deps.exec(argv[0]!, argv.slice(1), { cwd: deps.cwd });
    });
  }
}

/** Why the staged fallback would do nothing at the next boot, or null when everything is in place. */
export async function fwupdEfiChanged(rec: FwupdEfiRecord, capsuleSha256: string): Promise<string | null> {
  const capsule = await readFile(rec.capsulePath).catch(() => null);
  if (!capsule) return `${rec.capsulePath} is gone`;
  if (sha256Hex(capsule) !== capsuleSha256) return `${rec.capsulePath} changed`;
  if (!(await exists(rec.helperPath))) return `the helper ${rec.helperPath} is gone`;
  for (const [change, what] of [[rec.updateInfo, 'the update-info variable'], [rec.boot, bootName(rec.boot.number)], [rec.bootNext, 'BootNext']] as const) {
    const now = await readFile(change.path).catch(() => null);
    if (!now || now.toString('base64') !== change.after) return `${what} (${change.path}) is ${now ? 'no longer what fwup wrote' : 'gone'}`;
  }
  return null;
}

export interface HelperReport {
  variable: string;
  /** attempt-update: the helper has not run (yet); attempted: it handed the capsule to the firmware. */
  state: 'attempt-update' | 'attempted' | 'gone' | 'unreadable' | `status-${number}`;
  timeAttempted: string | null;
}

/** What fwupd's helper wrote back into the update-info variable at the boot. */
export async function readHelperReport(rec: FwupdEfiRecord): Promise<HelperReport> {
  const raw = await readFile(rec.updateInfo.path).catch(() => null);
  if (!raw) return { variable: rec.updateInfo.path, state: 'gone', timeAttempted: null };
  try {
    const info = decodeUpdateInfo(raw.subarray(4));
    const state = info.status === UPDATE_STATUS.attempted ? 'attempted' : info.status === UPDATE_STATUS.attemptUpdate ? 'attempt-update' : (`status-${info.status}` as const);
    return { variable: rec.updateInfo.path, state, timeAttempted: info.timeAttempted };
  } catch (e) {
    if (e instanceof FwupError) return { variable: rec.updateInfo.path, state: 'unreadable', timeAttempted: null };
    throw e;
  }
}

/** A warning for status after a reboot when the helper did not run: the ESRT then says nothing happened. */
export function helperWarning(r: HelperReport): string | null {
  if (r.state === 'attempt-update') return 'fwupd\'s helper did not run at the boot (the update-info variable still asks for an attempt): the firmware ignored BootNext, or the boot entry is gone (a "Boot Order Lock" setting does that)';
  if (r.state === 'gone') return `the update-info variable ${r.variable} is gone: the helper's report is lost`;
  if (r.state === 'unreadable') return `the update-info variable ${r.variable} is damaged`;
  return null;
}
