import { formatBytes } from '../../util/units.js';
import { readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';
import { sha256Hex } from '../../util/digest.js';
import type { CapsuleReport } from '../../image/capsule-report.js';
import { HostFiles } from '../host-files.js';
import { exists } from '../host-reboot.js';
import type { HostState } from '../host-state.js';
import { ActionLog } from '../plan.js';
import { routeForWrite } from '../privilege.js';
import type { StageInput, StageOptions, StageSession } from '../target.js';
import type { AttemptBaseline } from './attempt-outcome.js';
import { UPDATE_CAPSULE_DIR, chooseDelivery, writeToLoader } from './capsule-delivery.js';
import { capsuleFileFor, efivarfsReadOnly, quirksFor, readDmi } from './quirks.js';
import { osIndicationsWithCapsuleDelivery, type OsIndicationsChange } from './efivars.js';
import { fwTypeName, type EsrtEntry } from './esrt.js';
import { uefiSummary, type UefiPending, type UefiRequest } from './uefi-results.js';
import { keyOf, readAll, type Keyed, type RecordSet } from './uefi-records.js';
import { undoIntent, type UefiUndoContext } from './uefi-unstage.js';
import { espWriteError, hex64 } from './uefi-writes.js';
import { planFwupdEfi, type FwupdEfiRecord } from './fwupd-efi.js';
import { fwupdEfiSharing } from './fwupd-efi-sharing.js';
import { readHelperReport, type HelperReport } from './fwupd-efi-state.js';

export interface UefiStageContext extends UefiUndoContext {
  state: HostState;
  esrt: EsrtEntry[];
  bootId: string | null;
  /** Close the pending attempt this stage replaces (history), before the new request is recorded; `helper`: its helper's report, read before this stage rewrote the variable. */
  archive: (log: ActionLog, p: UefiPending, key: string, helper: HelperReport | null) => Promise<void>;
}

/**
 * Stage a capsule on Linux, in the order that keeps every state explainable: every check and every
 * permission first (nothing written on a refusal); then the intent record (what is about to be
 * written); then the capsule (to the kernel loader, or onto the ESP), then OsIndications last (the
 * firmware is never told to look for a capsule that is not there yet); then the request, `delivered`,
 * and the intent goes. A delivery that fails is undone at once; one cut by a crash, by `unstage`.
 * Each ESRT entry has its own capsule: one staged for another entry is left as it is. Through fwupd's
 * helper (fwupd-efi.ts) the writes are the capsule, the helper, its variable, the boot entry and BootNext
 * last; such a capsule takes the next boot alone (fwupd-efi-sharing.ts).
 */
export async function uefiStageSession(input: StageInput, opts: StageOptions, ctx: UefiStageContext): Promise<StageSession> {
  const { verdict } = input;
  const capsule = verdict.report.capsule;
  if (verdict.format.name !== 'capsule' || !capsule) {
    throw new FwupError('TARGET_UNSUPPORTED', `the uefi target takes UEFI capsules; ${input.path} is a ${verdict.format.name} image`, {
      hint: 'pack the payload as a capsule (fwup pack --format capsule), or write raw flash with --target flashrom:…',
    });
  }
  const { deps, records, writes } = ctx;
  const sudo = ctx.options.sudo;
  const log = new ActionLog(opts.dryRun, deps.afterAction);
  const entries = matchEntries(capsule, ctx.esrt, opts);
  const key = keyOf({ entries });
  const choice = await chooseDelivery(deps.sysroot, ctx.options.capsuleDelivery, capsule.flags, ctx.options.esp);
  const all = await readAll(records);
  const staged = all.requests.find((r) => r.key === key)?.record ?? null;
  const pending = all.pendings.find((r) => r.key === key)?.record ?? null;
  const sha = verdict.fileSha256;
  if (staged && staged.state === 'delivered' && staged.capsule.fileSha256 === sha && staged.delivery === choice.delivery) {
    throw new FwupError('NOTHING_TO_DO', `this capsule (fileSha256 ${sha.slice(0, 16)}…) is already staged`, { hint: 'apply it with `fwup apply --target uefi --warm`' });
  }
  const pendingWaits = pending !== null && (await ctx.awaitingReboot(pending));
  if (pending && pending.capsule.fileSha256 === sha && pendingWaits) {
    throw new FwupError('NOTHING_TO_DO', 'this capsule was already handed to the firmware and waits for the reboot', { hint: 'reboot, then `fwup status --target uefi`' });
  }
  const others = await otherCapsules(ctx, all, key);
  const mine = new Set(entries.map((e) => e.fwClass));
  const clash = others.live.find((r) => r.record.entries.some((e) => mine.has(e.fwClass)));
  if (clash) {
    throw new FwupError('TARGET_BUSY', `the capsule staged for ${clash.key} also updates ${clash.record.entries.filter((e) => mine.has(e.fwClass)).map((e) => e.fwClass).join(', ')}: one capsule per ESRT entry`, {
      hint: `unstage it first (fwup unstage --target uefi --component ${clash.key}); nothing was written`,
    });
  }
  const shared = await fwupdEfiSharing(all, key, choice.delivery, ctx.awaitingReboot);
  if (shared) throw shared;
  const previous = staged ?? pending;
  // Every permission is checked before the first write, so a refusal changes nothing.
  const quirks = quirksFor(await readDmi(deps.sysroot));
  let osIndicationsSkipped: string | null = null;
  let deliveredTo: string;
  let osInd: OsIndicationsChange | null = null;
  let fwupdEfi: FwupdEfiRecord | null = null;
  let deliver: (bytes: Buffer) => Promise<string>;
  // The helper's report of the attempt this stage replaces, read before its variable is rewritten.
  const previousHelper = pending?.fwupdEfi ? await readHelperReport(pending.fwupdEfi) : null;
  if (choice.delivery === 'fwupd-efi') {
    const esrtEntry = ctx.esrt.find((e) => e.fwClass === entries[0]!.fwClass)!;
    // No other capsule waits for the boot (fwupd-efi-sharing.ts): room for this one alone.
    await checkEspSpace(choice.esp!, verdict.fileSize, []);
    const plan = await planFwupdEfi(deps, writes, sudo, choice.esp!, esrtEntry, pending?.delivery === 'fwupd-efi' ? (pending.fwupdEfi ?? null) : null);
    fwupdEfi = plan.record;
    deliveredTo = plan.record.capsulePath;
    deliver = (bytes) => plan.deliver(log, bytes);
  } else if (choice.delivery === 'loader') {
    deliveredTo = choice.loaderPath;
    const route = await routeForWrite(deliveredTo, true, sudo, 'the kernel capsule loader');
    deliver = async (bytes) => {
      await log.runAll(HostFiles.actions('in-place', deliveredTo, bytes.length, route, 'the whole capsule to the kernel, which hands it to the firmware'), () =>
        writeToLoader(deliveredTo, bytes, route, writes.files),
      );
      return sha256Hex(bytes); // the loader cannot be read back: what was handed over, in one write
    };
  } else {
    const capsuleDir = join(choice.esp!, UPDATE_CAPSULE_DIR);
    const style = quirks.find((q) => q.capsuleFileName)?.capsuleFileName ?? 'fwup';
    deliveredTo = join(capsuleDir, await capsuleFileFor(style, key, capsuleDir, previous?.delivery === 'disk' ? previous.deliveredTo : null));
    await checkEspSpace(choice.esp!, verdict.fileSize, others.live.filter((r) => r.record.delivery === 'disk').map((r) => r.record.capsule.size));
    const fileRoute = await routeForWrite(deliveredTo, await exists(deliveredTo), sudo, 'the capsule on the EFI system partition');
    // A read-only efivarfs cannot take OsIndications: the capsule is written all the same (firmware that
    // scans EFI/UpdateCapsule at every boot still finds it), and the user is told.
    if (await efivarfsReadOnly(deps.sysroot)) {
      osIndicationsSkipped = 'efivarfs is mounted read-only: OsIndications was not set (the firmware finds the capsule only if it scans EFI/UpdateCapsule at boot, or once OsIndications is set another way)';
      deps.log.warn(osIndicationsSkipped);
    } else {
      osInd = await osIndicationsWithCapsuleDelivery(deps.sysroot);
    }
    const change = osInd;
    const varRoute = !change || change.before === change.after ? null : await routeForWrite(change.path, change.exists, sudo, 'OsIndications');
    deliver = async (bytes) => {
      await log.runAll(HostFiles.actions('replace', deliveredTo, bytes.length, fileRoute, 'the capsule, for the firmware to load from \\EFI\\UpdateCapsule'), () =>
        writes.files.replaceFile(deliveredTo, bytes, fileRoute).catch((e: unknown) => {
          throw espWriteError(e, deliveredTo);
        }),
      );
      const back = log.dryRun ? sha256Hex(bytes) : sha256Hex(await readFile(deliveredTo));
      if (varRoute && change) await writes.writeVariable(log, change, varRoute, 'set EFI_OS_INDICATIONS_FILE_CAPSULE_DELIVERY_SUPPORTED');
      return back;
    };
  }
  // OsIndications as it was before fwup's first capsule still on the ESP: what unstaging the last one restores.
  const origin = [staged, pendingWaits ? pending : null, ...others.flagHolders].find((r) => r?.delivery === 'disk' && r.osIndications)?.osIndications;
  const request: UefiRequest = {
    recordVersion: 2,
    state: 'delivering',
    sysroot: deps.sysroot,
    delivery: choice.delivery,
    capsule: {
      source: input.path, size: verdict.fileSize, fileSha256: sha, payloadSha256: verdict.report.sha256, flags: capsule.flags, flagNames: capsule.flagNames,
      version: verdict.report.version, versionNumber: verdict.report.versionNumber,
    },
    deliveredTo,
    osIndications: osInd ? { path: osInd.path, before: origin ? origin.before : osInd.before === null ? null : hex64(osInd.before), after: hex64(osInd.after) } : null,
    entries,
    stagedAt: deps.now().toISOString(),
    bootIdAtStage: ctx.bootId,
    replaces: previous?.delivery === 'disk' && previous.deliveredTo !== deliveredTo ? previous.deliveredTo : null,
    ...(fwupdEfi ? { fwupdEfi } : {}),
  };
  if (staged?.delivery === 'loader') {
    deps.log.warn('the capsule staged before went to the kernel loader and cannot be withdrawn: the firmware sees both at the next reboot');
  }
  const chunks: Buffer[] = [];
  let opened = false;
  let committed = false;
  return {
    range: 'file',
    replaces: staged !== null,
    open: async () => {
      await log.run({ kind: 'write', path: records.path('intent', key), bytes: 0, purpose: 'the intent: what is about to be written (undone if the delivery is cut)' }, () =>
        records.write('intent', key, request),
      );
      opened = true;
      return {
        write: (chunk: Buffer) => void chunks.push(Buffer.from(chunk)),
        finish: async () => ({ readBackSha256: await deliver(Buffer.concat(chunks)) }),
      };
    },
    commit: async () => {
      if (request.replaces) {
        const old = request.replaces;
        const route = await routeForWrite(old, true, sudo, 'the capsule staged before');
        await log.runAll(HostFiles.actions('remove', old, 0, route, 'the capsule staged before, replaced by this one'), () => writes.files.remove(old, route));
      }
      if (pending) await ctx.archive(log, pending, key, previousHelper);
      const done: UefiRequest = { ...request, state: 'delivered', replaces: null };
      await log.run({ kind: 'write', path: records.path('request', key), bytes: 0, purpose: 'the staged request: delivered (with its SHA-256)' }, () => records.write('request', key, done));
      await log.run({ kind: 'remove', path: records.path('intent', key), purpose: 'the delivery is complete' }, () => records.remove('intent', key));
      committed = true;
      return {
        staged: uefiSummary(done),
        details: {
          kind: 'uefi', delivery: choice.delivery, why: choice.why, deliveredTo, entries, osIndications: request.osIndications,
          quirks: quirks.map((q) => q.name), osIndicationsSkipped, entry: key,
          alsoStaged: others.live.map((r) => ({ entry: r.key, deliveredTo: r.record.deliveredTo, version: r.record.capsule.version })),
        },
        plan: log.actions,
      };
    },
    close: async () => {
      // A delivery that failed half-way (an error, not a crash): undo what it wrote, keep what was staged before.
      if (opened && !committed && !log.dryRun) await undoIntent(ctx, new ActionLog(false), key, previous, others.flagHolders.length > 0);
    },
  };
}

/**
 * The capsules of the other ESRT entries that the firmware still sees at the next boot (staged, or
 * applied and awaiting the reboot), and those of them (with cut deliveries) that rely on OsIndications.
 */
async function otherCapsules(ctx: UefiStageContext, all: RecordSet, key: string): Promise<{ live: Array<Keyed<UefiRequest>>; flagHolders: UefiRequest[] }> {
  const live: Array<Keyed<UefiRequest>> = all.requests.filter((r) => r.key !== key);
  for (const p of all.pendings) if (p.key !== key && (await ctx.awaitingReboot(p.record))) live.push(p);
  const flagHolders = [...live, ...all.intents.filter((r) => r.key !== key)].map((r) => r.record).filter((r) => r.delivery === 'disk' && r.osIndications);
  return { live, flagHolders };
}

/**
 * Match every payload's UpdateImageTypeId to an ESRT entry's fw_class (a capsule without payloads is
 * matched by its capsule GUID), and check its version against that entry, as the firmware will.
 */
export function matchEntries(capsule: CapsuleReport, esrt: EsrtEntry[], opts: Pick<StageOptions, 'allowOlder' | 'allowReinstall'>): AttemptBaseline[] {
  const wanted = capsule.payloads.length
    ? capsule.payloads.map((p) => ({ guid: p.updateImageTypeId.toUpperCase(), version: p.fmpPayloadHeader.fwVersion, what: `payload ${p.index}` }))
    : [{ guid: capsule.capsuleGuid.toUpperCase(), version: 0, what: 'the capsule' }];
  const hex = (n: number) => `0x${n.toString(16).toUpperCase().padStart(8, '0')}`;
  return wanted.map((w) => {
    const e = esrt.find((x) => x.fwClass === w.guid);
    if (!e) {
      throw new FwupError('POLICY_PLATFORM', `${w.what} is for firmware ${w.guid}, which this system does not have`, {
        hint: `the ESRT lists: ${esrt.map((x) => `${x.fwClass} (${fwTypeName(x.fwType)}, ${hex(x.fwVersion)})`).join(', ') || 'nothing'}`,
      });
    }
    if (!opts.allowOlder) {
      if (w.version < e.lowestSupportedFwVersion) {
        throw new FwupError('POLICY_DOWNGRADE', `${w.what} version ${hex(w.version)} is below ${e.name}'s lowest supported version ${hex(e.lowestSupportedFwVersion)}`, {
          hint: 'pass --allow-older to hand it over anyway; the firmware will most likely refuse it (incorrect-version)',
        });
      }
      if (w.version < e.fwVersion) {
        throw new FwupError('POLICY_DOWNGRADE', `${w.what} version ${hex(w.version)} is older than the installed ${hex(e.fwVersion)} (${e.name})`, {
          hint: 'pass --allow-older to downgrade',
        });
      }
    }
    if (!opts.allowReinstall && w.version === e.fwVersion) {
      throw new FwupError('NOTHING_TO_DO', `version ${hex(w.version)} of ${w.guid} is already installed`, { hint: 'pass --allow-reinstall to install it again' });
    }
    return {
      esrt: e.name, fwClass: e.fwClass, targetVersion: w.version, fwVersionBefore: e.fwVersion,
      lastAttemptVersionBefore: e.lastAttemptVersion, lastAttemptStatusBefore: e.lastAttemptStatus,
    };
  });
}

/** fwupd's rule for a capsule on disk: twice the capsule (the new file beside the old one, and the firmware's own copy) plus 1 MiB. */
export function espSpaceNeeded(capsuleBytes: number): number {
  return 2 * capsuleBytes + 1024 * 1024;
}

/** Refuse before the first write when the ESP has too little room: a half-written capsule helps nobody. */
async function checkEspSpace(esp: string, capsuleBytes: number, alreadyStaged: number[]): Promise<void> {
  let free: number;
  try {
    const st = await statfs(esp);
    free = st.bavail * st.bsize;
  } catch {
    return; // a file system that cannot say: the write itself reports a full disk
  }
  // The firmware also copies the other entries' capsules at the boot: room for each of them once more.
  const others = alreadyStaged.reduce((a, b) => a + b, 0);
  const need = espSpaceNeeded(capsuleBytes) + others;
  if (free < need) {
    const also = alreadyStaged.length ? `, and ${others} for the firmware's copy of the ${alreadyStaged.length} capsule${alreadyStaged.length > 1 ? 's' : ''} already staged` : '';
    throw new FwupError('TARGET_NO_SPACE', `the EFI system partition ${esp} has ${free} bytes (${formatBytes(free)}) free; a ${formatBytes(capsuleBytes)} capsule needs ${need} (twice its size and 1 MiB, as fwupd requires${also})`, {
      hint: 'free space on the ESP (old capsules in EFI/UpdateCapsule, unused boot loaders), or use the capsule loader (--capsule-delivery loader); nothing was written',
      details: { esp, free, need, alreadyStaged: others },
    });
  }
}

