import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';
import { crc32 } from '../../util/crc32.js';
import { sha256Hex } from '../../util/digest.js';
import type { CapsuleReport } from '../../image/capsule-report.js';
import { displayArgv, spawnFailure } from '../exec.js';
import { HostFiles } from '../host-files.js';
import { exists, rebootCommand, rebootHost, type RebootReport } from '../host-reboot.js';
import { acquireLock } from '../lock-file.js';
import { ActionLog } from '../plan.js';
import { routeForWrite, withRoute, type Route } from '../privilege.js';
import { appendHistory, readHistory, readRecord, removeIfPresent, stateName, writeRecord } from '../state-records.js';
import type {
  ApplyOutcome, ApplyRequest, HistoryItem, StageOptions, StageResult, Target, TargetDeps, TargetFacts, TargetOptions, TargetStatus,
  VerifiedImage,
} from '../target.js';
import { judgeEntry, overallState, rebootedSince, type AttemptBaseline, type EntryOutcome, type OutcomeState } from './attempt-outcome.js';
import {
  UPDATE_CAPSULE_DIR, capsuleFileName, chooseDelivery, findEsp, writeToLoader, type Delivery,
} from './capsule-delivery.js';
import {
  FILE_CAPSULE_DELIVERY, fileCapsuleDeliverySupported, isEfivarfs, osIndicationsWithCapsuleDelivery, osIndicationsWithout, readVariable, u64Of,
  type OsIndicationsChange,
} from './efivars.js';
import { attemptStatusName, fwTypeName, readEsrt, type EsrtEntry } from './esrt.js';

/** The handed-over capsule: `request.json` after stage, `pending.json` after apply. */
interface UefiRequest {
  recordVersion: 1;
  sysroot: string;
  delivery: Delivery;
  capsule: { source: string; size: number; sha256: string; flags: number; flagNames: string[]; version: string; versionNumber: number };
  /** The loader, or the capsule's file on the ESP. */
  deliveredTo: string;
  /** Hex strings: what OsIndications was and became (disk delivery), so unstage can undo exactly that. */
  osIndications: { path: string; before: string | null; after: string } | null;
  entries: AttemptBaseline[];
  stagedAt: string;
  bootIdAtStage: string | null;
}

interface UefiPending extends UefiRequest {
  appliedAt: string;
  bootIdAtApply: string | null;
  reboot: { mode: 'warm' | 'cold'; command: string[] } | null;
}

interface UefiHistoryLine {
  time: string;
  action: 'apply' | 'superseded';
  versionNumber: number;
  fromVersion: number;
  state: OutcomeState | 'delivered';
  status: number;
  detail: string;
}

const REQUEST = 'request.json';
const PENDING = 'pending.json';
const HISTORY = 'history.jsonl';
const BOOT_ID = 'proc/sys/kernel/random/boot_id';

/**
 * Linux UEFI capsule updates: the firmware installs the capsule at the next reboot, and reports the
 * result in the ESRT. Every path is under the sysroot, so tests point it at a fixture tree.
 */
export class UefiTarget implements Target {
  readonly kind = 'uefi' as const;
  readonly spec = 'uefi';
  readonly dir: string;
  private readonly files: HostFiles;

  constructor(private readonly deps: TargetDeps, private readonly opts: TargetOptions) {
    this.dir = join(deps.stateDir, 'uefi', stateName(deps.sysroot));
    this.files = new HostFiles(deps.exec);
  }

  async lock(timeoutMs: number): Promise<() => Promise<void>> {
    await mkdir(this.dir, { recursive: true });
    return acquireLock(join(this.dir, 'lock'), timeoutMs, 'the uefi target');
  }

  private async esrt(): Promise<EsrtEntry[]> {
    const entries = await readEsrt(this.deps.sysroot);
    if (!entries) {
      throw new FwupError('TARGET_UNSUPPORTED', `no ESRT at ${join(this.deps.sysroot, 'sys/firmware/efi/esrt')}: not a UEFI system, or the firmware publishes no ESRT`, {
        hint: 'capsule updates need UEFI firmware with an ESRT (and Linux with CONFIG_EFI_ESRT)',
      });
    }
    return entries;
  }

  async facts(): Promise<TargetFacts> {
    await this.esrt();
    return {
      kind: 'uefi',
      spec: this.spec,
      // Platform and versions are per ESRT entry: stage matches the capsule's GUID and checks them there.
      platform: null,
      activeVersion: null,
      activeVersionNumber: null,
      lowestSupportedVersion: 0,
      securityVersion: 0,
      hasTrustedKeys: false,
      development: true,
      capacity: 0xffffffff,
      // The firmware verifies capsule signatures against its own keys.
      trustedKeys: null,
    };
  }

  async stage(image: VerifiedImage, opts: StageOptions): Promise<StageResult> {
    const capsule = image.report.capsule;
    if (image.format !== 'capsule' || !capsule) {
      throw new FwupError('TARGET_UNSUPPORTED', `the uefi target takes UEFI capsules; ${image.path} is a ${image.format} image`, {
        hint: 'pack the payload as a capsule (fwup pack --format capsule), or write raw flash with --target flashrom:…',
      });
    }
    const log = new ActionLog(opts.dryRun);
    const esrt = await this.esrt();
    const entries = matchEntries(capsule, esrt, opts);
    const choice = await chooseDelivery(this.deps.sysroot, this.opts.capsuleDelivery, capsule.flags, this.opts.esp);

    const bytes = await readFile(image.path);
    if (bytes.length !== image.size || crc32(bytes) !== image.fileCrc32) {
      throw new FwupError('FILE_IO', `${image.path} changed while it was being staged`, { hint: 'nothing was staged; run stage again once the file is stable' });
    }
    const sha = sha256Hex(bytes);
    const staged = await readRecord<UefiRequest>(join(this.dir, REQUEST), 'staged request');
    const pending = await readRecord<UefiPending>(join(this.dir, PENDING), 'pending attempt');
    if (staged && staged.capsule.sha256 === sha && staged.delivery === choice.delivery) {
      throw new FwupError('NOTHING_TO_DO', `this capsule (sha256 ${sha.slice(0, 16)}…) is already staged`, { hint: 'apply it with `fwup apply --target uefi --warm`' });
    }
    if (pending && pending.capsule.sha256 === sha && (await this.outcomeOf(pending, esrt)).state === 'awaiting-reboot') {
      throw new FwupError('NOTHING_TO_DO', 'this capsule was already handed to the firmware and waits for the reboot', { hint: 'reboot, then `fwup status --target uefi`' });
    }

    // Every permission is checked before the first write, so a refusal changes nothing.
    let deliveredTo: string;
    let osInd: OsIndicationsChange | null = null;
    let writes: Array<() => Promise<void>>;
    if (choice.delivery === 'loader') {
      deliveredTo = choice.loaderPath;
      const route = await routeForWrite(deliveredTo, true, this.opts.sudo, 'the kernel capsule loader');
      writes = [
        () =>
          log.runAll(HostFiles.actions('in-place', deliveredTo, bytes.length, route, 'the whole capsule to the kernel, which hands it to the firmware'), () =>
            writeToLoader(deliveredTo, bytes, route, this.files),
          ).then(() => {}),
      ];
    } else {
      deliveredTo = join(choice.esp!, UPDATE_CAPSULE_DIR, capsuleFileName(entries[0]!.fwClass));
      const fileRoute = await routeForWrite(deliveredTo, await exists(deliveredTo), this.opts.sudo, 'the capsule on the EFI system partition');
      osInd = await osIndicationsWithCapsuleDelivery(this.deps.sysroot);
      const change = osInd;
      const varRoute = change.before === change.after ? null : await routeForWrite(change.path, change.exists, this.opts.sudo, 'OsIndications');
      writes = [
        () =>
          log.runAll(HostFiles.actions('replace', deliveredTo, bytes.length, fileRoute, 'the capsule, for the firmware to load from \\EFI\\UpdateCapsule'), () =>
            this.files.replaceFile(deliveredTo, bytes, fileRoute).catch((e: unknown) => {
              throw espWriteError(e, deliveredTo);
            }),
          ).then(() => {}),
        // The flag goes last: the firmware is never told to look for a capsule that is not there yet.
        () => (varRoute ? this.writeVariable(log, change, varRoute, 'set EFI_OS_INDICATIONS_FILE_CAPSULE_DELIVERY_SUPPORTED') : Promise.resolve()),
      ];
    }
    const now = this.deps.now().toISOString();
    const request: UefiRequest = {
      recordVersion: 1,
      sysroot: this.deps.sysroot,
      delivery: choice.delivery,
      capsule: {
        source: image.path, size: bytes.length, sha256: sha, flags: capsule.flags, flagNames: capsule.flagNames,
        version: image.report.version, versionNumber: image.report.versionNumber,
      },
      deliveredTo,
      osIndications: osInd ? { path: osInd.path, before: osInd.before === null ? null : hex64(osInd.before), after: hex64(osInd.after) } : null,
      entries,
      stagedAt: now,
      bootIdAtStage: await this.bootId(),
    };
    if (staged?.delivery === 'loader') {
      this.deps.log.warn('the capsule staged before went to the kernel loader and cannot be withdrawn: the firmware sees both at the next reboot');
    }
    for (const w of writes) await w();
    if (staged?.delivery === 'disk' && staged.deliveredTo !== deliveredTo) {
      const old = staged.deliveredTo;
      const route = await routeForWrite(old, true, this.opts.sudo, 'the capsule staged before');
      await log.runAll(HostFiles.actions('remove', old, 0, route, 'the capsule staged before, replaced by this one'), () => this.files.remove(old, route));
    }
    opts.onProgress?.(bytes.length, bytes.length);
    if (pending) await this.archive(log, pending, 'superseded');
    await log.run({ kind: 'write', path: join(this.dir, REQUEST), bytes: 0, purpose: 'the staged request (with its SHA-256)' }, () => writeRecord(join(this.dir, REQUEST), request));
    return {
      staged: {
        version: image.report.version, versionNumber: image.report.versionNumber, format: 'capsule', size: bytes.length, sha256: sha,
        crc32: image.fileCrc32, stagedAt: now, flags: capsule.flagNames,
      },
      replaced: staged !== null,
      write: null,
      plan: log.actions,
      dryRun: log.dryRun,
      details: { delivery: choice.delivery, why: choice.why, deliveredTo, entries, osIndications: request.osIndications },
    };
  }

  /** Write an efivarfs variable; a real efivarfs needs its immutable flag lifted around the write. */
  private async writeVariable(log: ActionLog, change: OsIndicationsChange, route: Route, purpose: string): Promise<void> {
    const immutable = change.exists && (await isEfivarfs(this.deps.sysroot));
    if (immutable) await this.chattr(log, '-i', change.path, route);
    const what = `${purpose}: OsIndications ${change.before === null ? 'unset' : hex64(change.before)} -> ${hex64(change.after)}`;
    await log.runAll(HostFiles.actions('in-place', change.path, change.bytes.length, route, what), () =>
      this.files.writeInPlace(change.path, change.bytes, route, !change.exists).catch((e: unknown) => {
        throw variableWriteError(e, change.path);
      }),
    );
    if (immutable) await this.chattr(log, '+i', change.path, route);
  }

  private async chattr(log: ActionLog, flag: '-i' | '+i', path: string, route: Route): Promise<void> {
    const argv = withRoute(route, ['chattr', flag, path]);
    await log.run({ kind: 'exec', argv, purpose: flag === '-i' ? 'efivarfs variables are immutable until this' : 'make it immutable again' }, async () => {
      const r = await this.deps.exec(argv[0]!, argv.slice(1), { cwd: this.deps.cwd });
      if (r.spawnError) throw spawnFailure(argv, r.spawnError, 'install e2fsprogs (chattr)');
      if (r.exitCode !== 0) throw new FwupError('HELPER_FAILED', `${displayArgv(argv)} failed: ${r.stderr.trim()}`);
    });
  }

  async unstage(): Promise<boolean> {
    const path = (await exists(join(this.dir, PENDING))) ? join(this.dir, PENDING) : join(this.dir, REQUEST);
    const rec = await readRecord<UefiRequest>(path, 'staged request');
    if (!rec) return false;
    if (rec.delivery === 'loader') {
      throw new FwupError('TARGET_UNSUPPORTED', 'the capsule went through the kernel loader: the firmware already holds it and it cannot be withdrawn', {
        hint: 'it is installed (or refused) at the next reboot; nothing was changed',
      });
    }
    const log = new ActionLog(false);
    await this.files.remove(rec.deliveredTo, await routeForWrite(rec.deliveredTo, true, this.opts.sudo, 'the capsule on the ESP'));
    // Undo only what fwup did: a bit the system had set stays; a variable fwup created goes.
    const before = rec.osIndications?.before ?? null;
    if (before === null) {
      const v = await readVariable(this.deps.sysroot, 'OsIndications');
      if (v) {
        const route = await routeForWrite(v.path, true, this.opts.sudo, 'OsIndications');
        if (await isEfivarfs(this.deps.sysroot)) await this.chattr(log, '-i', v.path, route);
        await this.files.remove(v.path, route);
      }
    } else if ((BigInt(before) & FILE_CAPSULE_DELIVERY) === 0n) {
      const change = await osIndicationsWithout(this.deps.sysroot, FILE_CAPSULE_DELIVERY);
      if (change) await this.writeVariable(log, change, await routeForWrite(change.path, true, this.opts.sudo, 'OsIndications'), 'clear the capsule-on-disk request');
    }
    await removeIfPresent(path);
    return true;
  }

  async apply(req: ApplyRequest): Promise<ApplyOutcome> {
    const request = await readRecord<UefiRequest>(join(this.dir, REQUEST), 'staged request');
    if (!request) {
      const pending = await readRecord<UefiPending>(join(this.dir, PENDING), 'pending attempt');
      throw new FwupError('NOT_STAGED', pending ? 'the staged capsule was already applied: it waits for the reboot' : 'no capsule is staged for the uefi target', {
        hint: pending ? 'reboot, then `fwup status --target uefi` reports the outcome' : 'stage one first: fwup stage FILE.cap --target uefi',
      });
    }
    // The firmware takes a staged capsule at the next boot, whoever reboots: if that happened, it is gone.
    const bootId = await this.bootId();
    if (request.bootIdAtStage && bootId && request.bootIdAtStage !== bootId) {
      throw new FwupError('TARGET_CHANGED', 'the system rebooted since the capsule was staged: the firmware has already processed (or dropped) it', {
        hint: '`fwup status --target uefi` reports what the firmware did; stage the capsule again to retry',
      });
    }
    if (request.delivery === 'disk') await this.checkStillOnDisk(request);
    const log = new ActionLog(req.dryRun);
    const now = this.deps.now().toISOString();
    const pending: UefiPending = {
      ...request,
      appliedAt: now,
      bootIdAtApply: bootId,
      reboot: req.reboot ? { mode: req.mode, command: await rebootCommand(this.deps) } : null,
    };
    const pendingPath = join(this.dir, PENDING);
    await log.run({ kind: 'write', path: pendingPath, bytes: 0, purpose: 'the pending-attempt record that `fwup status` checks after the reboot' }, () => writeRecord(pendingPath, pending));
    await log.run({ kind: 'remove', path: join(this.dir, REQUEST), purpose: 'the request is now pending' }, () => removeIfPresent(join(this.dir, REQUEST)));
    const historyPath = join(this.dir, HISTORY);
    const line: UefiHistoryLine = {
      time: now, action: 'apply', versionNumber: request.capsule.versionNumber, fromVersion: request.entries[0]?.fwVersionBefore ?? 0,
      state: 'delivered', status: -1, detail: `capsule ${request.capsule.sha256.slice(0, 12)}… by ${request.delivery}`,
    };
    await log.run({ kind: 'write', path: historyPath, bytes: 0, purpose: 'history entry' }, () => appendHistory(historyPath, line));
    let reboot: RebootReport | null = null;
    if (req.reboot) reboot = await rebootHost(this.deps, req.mode, this.opts.sudo, log);
    return {
      target: this.spec,
      kind: 'uefi',
      ok: true,
      plan: log.actions,
      dryRun: log.dryRun,
      report: {
        delivery: request.delivery,
        deliveredTo: request.deliveredTo,
        capsule: request.capsule,
        entries: request.entries,
        pending: pendingPath,
        reboot,
        next: reboot ? 'the machine reboots; afterwards `fwup status --target uefi` reports the outcome' : 'reboot to let the firmware install the capsule, then run `fwup status --target uefi`',
      },
    };
  }

  /** The firmware only finds what is on the ESP: a capsule removed since stage would silently do nothing. */
  private async checkStillOnDisk(r: UefiRequest): Promise<void> {
    const bytes = await readFile(r.deliveredTo).catch(() => null);
    const osInd = await readVariable(this.deps.sysroot, 'OsIndications');
    const flagged = osInd !== null && (u64Of(osInd) & FILE_CAPSULE_DELIVERY) !== 0n;
    if (!bytes || sha256Hex(bytes) !== r.capsule.sha256 || !flagged) {
      throw new FwupError('TARGET_CHANGED', `the staged capsule is no longer in place (${!bytes ? `${r.deliveredTo} is gone` : !flagged ? 'OsIndications no longer asks for capsule delivery' : `${r.deliveredTo} changed`})`, {
        hint: 'stage the capsule again',
      });
    }
  }

  rollback(): Promise<ApplyOutcome> {
    throw new FwupError('TARGET_UNSUPPORTED', 'UEFI firmware goes back only by installing an older capsule', {
      hint: 'stage the older capsule with --allow-older (the firmware may still refuse versions below its lowest supported one)',
    });
  }

  private async bootId(): Promise<string | null> {
    return readFile(join(this.deps.sysroot, BOOT_ID), 'utf8').then((s) => s.trim() || null, () => null);
  }

  private async outcomeOf(rec: UefiRequest | UefiPending, esrt: EsrtEntry[] | null): Promise<{ state: OutcomeState; rebooted: string; entries: EntryOutcome[] }> {
    const then = 'appliedAt' in rec ? (rec as UefiPending).bootIdAtApply : rec.bootIdAtStage;
    const rebooted = rebootedSince(then, await this.bootId());
    const entries = rec.entries.map((b) => judgeEntry(b, esrt?.find((e) => e.fwClass === b.fwClass), rebooted));
    return { state: overallState(entries), rebooted, entries };
  }

  private async archive(log: ActionLog, p: UefiPending, action: UefiHistoryLine['action']): Promise<void> {
    const o = await this.outcomeOf(p, await readEsrt(this.deps.sysroot));
    const first = o.entries[0];
    const line: UefiHistoryLine = {
      time: this.deps.now().toISOString(), action, versionNumber: p.capsule.versionNumber, fromVersion: p.entries[0]?.fwVersionBefore ?? 0,
      state: o.state, status: first?.lastAttemptStatus ?? -1, detail: first?.detail ?? '',
    };
    const historyPath = join(this.dir, HISTORY);
    await log.run({ kind: 'write', path: historyPath, bytes: 0, purpose: 'history: the outcome of the attempt this one replaces' }, () => appendHistory(historyPath, line));
    await log.run({ kind: 'remove', path: join(this.dir, PENDING), purpose: 'replaced by the new request' }, () => removeIfPresent(join(this.dir, PENDING)));
  }

  async status(): Promise<TargetStatus> {
    const esrt = await readEsrt(this.deps.sysroot);
    const staged = await readRecord<UefiRequest>(join(this.dir, REQUEST), 'staged request');
    const pending = await readRecord<UefiPending>(join(this.dir, PENDING), 'pending attempt');
    const osIndSupported = await fileCapsuleDeliverySupported(this.deps.sysroot).catch(() => false);
    const osInd = await readVariable(this.deps.sysroot, 'OsIndications').catch(() => null);
    const esp = await findEsp(this.deps.sysroot, this.opts.esp).catch(() => null);
    const record = pending ?? staged;
    const outcome = record ? await this.outcomeOf(record, esrt) : null;
    return {
      target: this.spec,
      kind: 'uefi',
      sysroot: this.deps.sysroot,
      stateDir: this.dir,
      esrt: esrt?.map((e) => ({ ...e, fwTypeName: fwTypeName(e.fwType), lastAttemptStatusName: attemptStatusName(e.lastAttemptStatus) })) ?? null,
      delivery: {
        loader: (await exists(join(this.deps.sysroot, 'dev/efi_capsule_loader'))) ? join(this.deps.sysroot, 'dev/efi_capsule_loader') : null,
        capsuleOnDisk: osIndSupported,
        osIndications: osInd && osInd.data.length === 8 ? hex64(u64Of(osInd)) : null,
        esp,
      },
      staged: staged ? { version: staged.capsule.version, sha256: staged.capsule.sha256, delivery: staged.delivery, deliveredTo: staged.deliveredTo, stagedAt: staged.stagedAt } : null,
      pending: pending
        ? { version: pending.capsule.version, sha256: pending.capsule.sha256, delivery: pending.delivery, appliedAt: pending.appliedAt, reboot: pending.reboot }
        : null,
      outcome,
    };
  }

  async history(): Promise<HistoryItem[]> {
    const lines = await readHistory<UefiHistoryLine>(join(this.dir, HISTORY));
    const items: HistoryItem[] = lines.map((h) => ({
      time: h.time, action: h.action, fromVersion: h.fromVersion, toVersion: h.versionNumber, status: h.status, statusName: h.state, detail: h.detail,
    }));
    // The attempt in flight is judged now, from the ESRT.
    const pending = await readRecord<UefiPending>(join(this.dir, PENDING), 'pending attempt');
    if (pending) {
      const o = await this.outcomeOf(pending, await readEsrt(this.deps.sysroot));
      const first = o.entries[0];
      items.push({
        time: pending.appliedAt, action: 'pending', fromVersion: first ? pending.entries[0]!.fwVersionBefore : 0, toVersion: pending.capsule.versionNumber,
        status: first?.lastAttemptStatus ?? -1, statusName: o.state, detail: first?.detail ?? '',
      });
    }
    return items;
  }
}

/**
 * Match every payload's UpdateImageTypeId to an ESRT entry's fw_class (a capsule without payloads is
 * matched by its capsule GUID), and check its version against that entry, as the firmware will.
 */
function matchEntries(capsule: CapsuleReport, esrt: EsrtEntry[], opts: Pick<StageOptions, 'allowOlder' | 'allowReinstall'>): AttemptBaseline[] {
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

function hex64(n: bigint): string {
  return `0x${n.toString(16).toUpperCase().padStart(16, '0')}`;
}

function espWriteError(e: unknown, path: string): FwupError {
  if (e instanceof FwupError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC') return new FwupError('FILE_IO', `the EFI system partition is full: cannot write ${path}`, { hint: 'free space on the ESP (old capsules in EFI/UpdateCapsule)' });
  if (code === 'EACCES' || code === 'EPERM') return new FwupError('PERMISSION_DENIED', `writing ${path} needs root`, { hint: 'run fwup as root, or pass --sudo' });
  return new FwupError('FILE_IO', `cannot write ${path} (in ${dirname(path)}): ${(e as Error).message}`);
}

function variableWriteError(e: unknown, path: string): FwupError {
  if (e instanceof FwupError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') {
    return new FwupError('PERMISSION_DENIED', `writing the UEFI variable ${path} was refused (${code})`, {
      hint: 'needs root; on a real efivarfs the variable must also not be immutable (fwup lifts the flag with chattr -i)',
    });
  }
  if (code === 'ENOSPC') return new FwupError('CAPSULE_REJECTED', `the firmware has no room for the variable ${path}`, { hint: 'the UEFI variable store is full' });
  return new FwupError('FILE_IO', `cannot write the UEFI variable ${path}: ${(e as Error).message}`);
}
