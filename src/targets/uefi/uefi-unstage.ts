import { FwupError } from '../../errors/fwup-error.js';
import { HostFiles } from '../host-files.js';
import { exists } from '../host-reboot.js';
import { ActionLog, type PlannedAction } from '../plan.js';
import { routeForWrite } from '../privilege.js';
import type { TargetDeps, TargetOptions } from '../target.js';
import { FILE_CAPSULE_DELIVERY, isEfivarfs, osIndicationsWithout, readVariable } from './efivars.js';
import { isKey, readAll, type Keyed, type UefiRecords } from './uefi-records.js';
import type { UefiPending, UefiRequest } from './uefi-results.js';
import type { UefiWrites } from './uefi-writes.js';
import { undoFwupdEfi } from './fwupd-efi-state.js';

export interface UefiUndoContext {
  deps: TargetDeps;
  options: TargetOptions;
  records: UefiRecords;
  writes: UefiWrites;
  /** Whether a pending capsule still waits for its reboot (one processed already needs no OsIndications bit). */
  awaitingReboot: (p: UefiPending) => Promise<boolean>;
}

/**
 * Undo a delivery that failed half-way (its intent record is still there): its capsule file goes
 * unless `keep` (the request staged before for the same entry) names that very file, and
 * OsIndications is put back only when nothing else of fwup's on the ESP needs it. A fwupd-efi
 * delivery puts every variable back as it was before fwup and removes its files (fwupd-efi-state.ts).
 */
export async function undoIntent(ctx: UefiUndoContext, log: ActionLog, key: string, keep: UefiRequest | null, othersNeedFlag: boolean): Promise<void> {
  const intent = await ctx.records.get('intent', key).catch(() => null);
  if (!intent) return;
  if (intent.fwupdEfi) await undoFwupdEfi(ctx.deps, ctx.writes, ctx.options.sudo, log, intent.fwupdEfi);
  if (intent.delivery === 'disk' && keep?.deliveredTo !== intent.deliveredTo) await removeCapsules(ctx, log, [intent.deliveredTo]);
  if (keep === null && !othersNeedFlag) await restoreOsIndications(ctx, log, intent);
  await log.run({ kind: 'remove', path: ctx.records.path('intent', key), purpose: 'the delivery intent' }, () => ctx.records.remove('intent', key));
}

/**
 * Undo stages: every entry's (or, with --component GUID, that entry's) capsule leaves the ESP, with
 * what a delivery cut by a crash wrote, and a fwupd-efi delivery's boot entry, BootNext and update-info
 * variable go back as they were; OsIndications goes back as fwup found it (a bit the system had
 * set stays; a variable fwup created goes) once no capsule of fwup's is left for the firmware. The
 * order (files, then OsIndications, then records) lets an unstage cut by a crash finish when run again.
 */
export async function uefiUnstage(ctx: UefiUndoContext, dryRun: boolean): Promise<{ removed: boolean; plan: PlannedAction[] }> {
  const log = new ActionLog(dryRun, ctx.deps.afterAction);
  const only = ctx.options.component === undefined ? null : ctx.options.component.toUpperCase();
  if (only !== null && !isKey(only)) {
    throw new FwupError('USAGE', `--component ${ctx.options.component}: on the uefi target this is an ESRT entry's fw_class GUID`, {
      hint: '`fwup status --target uefi` lists the staged capsules with their entries',
    });
  }
  const all = await readAll(ctx.records);
  const mine = <T>(xs: Array<Keyed<T>>) => xs.filter((x) => only === null || x.key === only);
  const others = <T>(xs: Array<Keyed<T>>) => xs.filter((x) => only !== null && x.key !== only);
  const [intents, requests, pendings] = [mine(all.intents), mine(all.requests), mine(all.pendings)];
  if (only !== null && !intents.length && !requests.length && !pendings.length) {
    const keys = [...new Set([...all.requests, ...all.pendings].map((r) => r.key))];
    throw new FwupError('NOTHING_TO_DO', `no capsule is staged for the ESRT entry ${only}`, {
      hint: keys.length ? `capsules are staged for: ${keys.join(', ')}` : 'nothing is staged on the uefi target',
    });
  }
  // Checked before anything changes: a capsule the kernel already handed to the firmware stays.
  const handedOver = [...requests, ...pendings].find((r) => r.record.delivery === 'loader');
  if (handedOver) {
    throw new FwupError('TARGET_UNSUPPORTED', `the capsule for ${handedOver.key} went through the kernel loader: the firmware already holds it and it cannot be withdrawn`, {
      hint: `it is installed (or refused) at the next reboot; nothing was changed${requests.length + pendings.length > 1 ? ' (unstage the others one by one with --component GUID)' : ''}`,
    });
  }
  const records = [...intents, ...requests, ...pendings];
  const keepFiles = new Set([...others(all.requests), ...others(all.pendings)].map((r) => r.record.deliveredTo));
  await removeCapsules(ctx, log, [...new Set(records.filter((r) => r.record.delivery === 'disk').map((r) => r.record.deliveredTo))].filter((f) => !keepFiles.has(f)));
  // The fallback's writes: BootNext first, then the entry and the update-info variable, then its files.
  for (const r of records) if (r.record.fwupdEfi) await undoFwupdEfi(ctx.deps, ctx.writes, ctx.options.sudo, log, r.record.fwupdEfi);
  const flagged = records.find((r) => r.record.osIndications);
  if (flagged && !(await othersNeedFlag(ctx, [...others(all.intents), ...others(all.requests)], others(all.pendings)))) {
    await restoreOsIndications(ctx, log, flagged.record);
  }
  for (const [kind, xs] of [['intent', intents], ['request', requests], ['pending', pendings]] as const) {
    for (const r of xs) {
      const purpose = kind === 'intent' ? 'the delivery intent' : kind === 'request' ? 'the staged request' : 'the pending attempt';
      await log.run({ kind: 'remove', path: ctx.records.state.path(r.name), purpose }, () => ctx.records.remove(kind, r.key));
    }
  }
  return { removed: records.length > 0, plan: log.actions };
}

/** Whether a capsule of another entry still on the ESP for the next boot needs OsIndications' bit. */
export async function othersNeedFlag(ctx: Pick<UefiUndoContext, 'awaitingReboot'>, staged: Array<Keyed<UefiRequest>>, pendings: Array<Keyed<UefiPending>>): Promise<boolean> {
  if (staged.some((r) => r.record.delivery === 'disk' && r.record.osIndications)) return true;
  for (const p of pendings) if (p.record.delivery === 'disk' && p.record.osIndications && (await ctx.awaitingReboot(p.record))) return true;
  return false;
}

async function removeCapsules(ctx: Pick<UefiUndoContext, 'options' | 'writes'>, log: ActionLog, files: string[]): Promise<void> {
  for (const path of files) {
    if (!(await exists(path))) continue;
    const route = await routeForWrite(path, true, ctx.options.sudo, 'the capsule on the ESP');
    await log.runAll(HostFiles.actions('remove', path, 0, route, 'the staged capsule'), () => ctx.writes.files.remove(path, route));
  }
}

/** Put OsIndications back as it was before fwup's first capsule (`rec.osIndications.before`, which every later stage inherits). */
async function restoreOsIndications(ctx: Pick<UefiUndoContext, 'deps' | 'options' | 'writes'>, log: ActionLog, rec: UefiRequest): Promise<void> {
  const { deps, writes } = ctx;
  const sudo = ctx.options.sudo;
  const before = rec.osIndications?.before ?? null;
  if (rec.osIndications && before === null) {
    const v = await readVariable(deps.sysroot, 'OsIndications');
    if (v) {
      const route = await routeForWrite(v.path, true, sudo, 'OsIndications');
      if (await isEfivarfs(deps.sysroot)) await writes.chattr(log, '-i', v.path, route);
      await log.runAll(HostFiles.actions('remove', v.path, 0, route, 'OsIndications, which fwup created'), () => writes.files.remove(v.path, route));
    }
  } else if (before !== null && (BigInt(before) & FILE_CAPSULE_DELIVERY) === 0n) {
    const change = await osIndicationsWithout(deps.sysroot, FILE_CAPSULE_DELIVERY);
    if (change) await writes.writeVariable(log, change, await routeForWrite(change.path, true, sudo, 'OsIndications'), 'clear the capsule-on-disk request');
  }
}
