import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';
import { sha256Hex } from '../../util/digest.js';
import { HostFiles } from '../host-files.js';
import { exists, rebootCommand, rebootHost, type RebootReport } from '../host-reboot.js';
import { HostState } from '../host-state.js';
import { ActionLog, type PlannedAction } from '../plan.js';
import { stateName } from '../state-records.js';
import type { ApplyOutcome, ApplyRequest, HistoryItem, StageInput, StageOptions, StageSession, Target, TargetDeps, TargetFacts, TargetOptions } from '../target.js';
import { judgeEntry, overallState, rebootedSince, withResult, type EntryOutcome, type OutcomeState } from './attempt-outcome.js';
import { readCapsuleResults, resultFor } from './capsule-results.js';
import { findEsp } from './capsule-delivery.js';
import { FILE_CAPSULE_DELIVERY, fileCapsuleDeliverySupported, readVariable, u64Of } from './efivars.js';
import { attemptStatusName, fwTypeName, readEsrt, type EsrtEntry } from './esrt.js';
import type { UefiApplyReport, UefiAttemptRecord, UefiCapsuleStatus, UefiHistoryLine, UefiPending, UefiRequest, UefiStatus } from './uefi-results.js';
import { uefiStageSession } from './uefi-stage.js';
import { readAll, UefiRecords, type Keyed } from './uefi-records.js';
import { uefiUnstage, type UefiUndoContext } from './uefi-unstage.js';
import { hex64, UefiWrites } from './uefi-writes.js';
import { powerRefusal, readPower } from './power-supply.js';
import { fwupdEfiChanged, helperWarning, readHelperReport, type HelperReport } from './fwupd-efi-state.js';
import { findHelper } from './fwupd-efi.js';

const BOOT_ID = 'proc/sys/kernel/random/boot_id';

/**
 * Linux UEFI capsule updates: the firmware installs the capsule at the next reboot, and reports the
 * result in the ESRT. Every path is under the sysroot, so tests point it at a fixture tree.
 */
export class UefiTarget implements Target {
  readonly kind = 'uefi' as const;
  readonly spec = 'uefi';
  readonly dir: string;
  private readonly state: HostState;
  private readonly writes: UefiWrites;
  private readonly records: UefiRecords;

  constructor(private readonly deps: TargetDeps, private readonly opts: TargetOptions) {
    this.dir = join(deps.stateDir, 'uefi', stateName(deps.sysroot));
    this.state = new HostState(this.dir, 'the uefi target');
    this.records = new UefiRecords(this.state);
    this.writes = new UefiWrites(deps, new HostFiles(deps.exec));
  }

  private undoContext(): UefiUndoContext {
    return {
      deps: this.deps, options: this.opts, records: this.records, writes: this.writes,
      awaitingReboot: async (p) => (await this.outcomeOf(p, await readEsrt(this.deps.sysroot))).state === 'awaiting-reboot',
    };
  }

  lock(timeoutMs: number): Promise<() => Promise<void>> {
    return this.state.lock(timeoutMs, (m) => this.deps.log.info(m));
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
      unsignedHint: 'the firmware checks a capsule\'s signature itself at the reboot and refuses one it does not trust; pass --allow-unsigned to hand over an unsigned capsule anyway',
      capacity: { image: 0xffffffff, slot: Number.MAX_SAFE_INTEGER },
      // The firmware verifies capsule signatures against its own keys.
      trustedKeys: null,
    };
  }

  async beginStage(input: StageInput, opts: StageOptions): Promise<StageSession> {
    const refusal = this.opts.ignorePower ? null : powerRefusal(await readPower(this.deps.sysroot));
    if (refusal) throw refusal;
    return uefiStageSession(input, opts, {
      ...this.undoContext(), state: this.state, esrt: await this.esrt(), bootId: await this.bootId(),
      archive: (log, p, key, helper) => this.archive(log, p, key, 'superseded', helper),
    });
  }

  /** Every entry's capsule, or (`--component GUID`) that entry's alone. */
  unstage(opts: { dryRun: boolean }): Promise<{ removed: boolean; plan: PlannedAction[] }> {
    return uefiUnstage(this.undoContext(), opts.dryRun);
  }

  /** Hand over every staged capsule (one per ESRT entry) at once: the firmware takes them all at the next boot. */
  async apply(req: ApplyRequest): Promise<ApplyOutcome> {
    const all = await readAll(this.records);
    if (!all.requests.length) {
      const pending = all.pendings.length > 0;
      throw new FwupError('NOT_STAGED', pending ? 'the staged capsule was already applied: it waits for the reboot' : 'no capsule is staged for the uefi target', {
        hint: pending ? 'reboot, then `fwup status --target uefi` reports the outcome' : 'stage one first: fwup stage FILE.cap --target uefi',
      });
    }
    if (all.requests.some((r) => r.record.state !== 'delivered')) {
      throw new FwupError('TARGET_CORRUPT', 'the last stage was cut before the capsule was fully delivered', { hint: 'run `fwup unstage --target uefi` to undo it, then stage again' });
    }
    // The firmware takes a staged capsule at the next boot, whoever reboots: if that happened, it is gone.
    const bootId = await this.bootId();
    for (const { record: request } of all.requests) {
      if (request.bootIdAtStage && bootId && request.bootIdAtStage !== bootId) {
        throw new FwupError('TARGET_CHANGED', 'the system rebooted since the capsule was staged: the firmware has already processed (or dropped) it', {
          hint: '`fwup status --target uefi` reports what the firmware did; stage the capsule again to retry',
        });
      }
    }
    for (const { key, record: request } of all.requests) {
      if (request.delivery === 'disk') await this.checkStillOnDisk(request);
      const moved = request.fwupdEfi ? await fwupdEfiChanged(request.fwupdEfi, request.capsule.fileSha256) : null;
      if (moved) {
        throw new FwupError('TARGET_CHANGED', `the capsule staged for ${key} is no longer in place for fwupd's helper (${moved})`, {
          hint: `unstage it (fwup unstage --target uefi --component ${key}), then stage the capsule again; nothing was changed`,
        });
      }
    }
    const log = new ActionLog(req.dryRun, this.deps.afterAction);
    const now = this.deps.now().toISOString();
    const reboot0 = req.reboot ? { mode: req.mode, command: await rebootCommand(this.deps) } : null;
    const capsules: UefiApplyReport['capsules'] = [];
    for (const { key, name, record: request } of all.requests) {
      const pending: UefiPending = { ...request, appliedAt: now, bootIdAtApply: bootId, reboot: reboot0 };
      const path = this.records.path('pending', key);
      await log.run({ kind: 'write', path, bytes: 0, purpose: 'the pending-attempt record that `fwup status` checks after the reboot' }, () => this.records.write('pending', key, pending));
      await log.run({ kind: 'remove', path: this.state.path(name), purpose: 'the request is now pending' }, () => this.records.remove('request', key));
      const line: UefiHistoryLine = {
        time: now, action: 'apply', entry: key, versionNumber: request.capsule.versionNumber, fromVersion: request.entries[0]?.fwVersionBefore ?? 0,
        state: 'delivered', status: -1, detail: `capsule ${request.capsule.fileSha256.slice(0, 12)}… by ${request.delivery}`,
        attempt: attemptRecord(request, null),
      };
      await log.run({ kind: 'write', path: this.state.path('history.jsonl'), bytes: 0, purpose: 'history entry' }, () => this.state.appendHistory(line));
      capsules.push({ entry: key, delivery: request.delivery, deliveredTo: request.deliveredTo, capsule: request.capsule, entries: request.entries, pending: path });
    }
    let reboot: RebootReport | null = null;
    if (req.reboot) reboot = await rebootHost(this.deps, req.mode, this.opts.sudo, log);
    const first = capsules[0]!;
    return {
      target: this.spec,
      kind: 'uefi',
      ok: true,
      plan: log.actions,
      dryRun: log.dryRun,
      report: {
        delivery: first.delivery, deliveredTo: first.deliveredTo, capsule: first.capsule, entries: first.entries,
        pending: first.pending, capsules, reboot,
        next: reboot ? 'the machine reboots; afterwards `fwup status --target uefi` reports the outcome' : `reboot to let the firmware install the capsule${capsules.length > 1 ? 's' : ''}, then run \`fwup status --target uefi\``,
      },
    };
  }

  /** The firmware only finds what is on the ESP: a capsule removed since stage would silently do nothing. */
  private async checkStillOnDisk(r: UefiRequest): Promise<void> {
    const bytes = await readFile(r.deliveredTo).catch(() => null);
    const osInd = await readVariable(this.deps.sysroot, 'OsIndications');
    const flagged = osInd !== null && (u64Of(osInd) & FILE_CAPSULE_DELIVERY) !== 0n;
    if (!bytes || sha256Hex(bytes) !== r.capsule.fileSha256 || !flagged) {
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

  private async outcomeOf(rec: UefiRequest | UefiPending, esrt: EsrtEntry[] | null): Promise<{ state: OutcomeState; rebooted: string; entries: EntryOutcome[]; helper?: HelperReport }> {
    const then = 'appliedAt' in rec ? (rec as UefiPending).bootIdAtApply : rec.bootIdAtStage;
    const rebooted = rebootedSince(then, await this.bootId());
    const judged = rec.entries.map((b) => judgeEntry(b, esrt?.find((e) => e.fwClass === b.fwClass), rebooted));
    // Before a reboot the firmware has processed nothing of ours: its result variables are older.
    const results = rebooted === 'no' ? [] : (await readCapsuleResults(this.deps.sysroot)).results;
    const entries = judged.map((o) => withResult(o, resultFor(results, o.fwClass)));
    // fwupd's helper marks its variable "attempted" before it calls UpdateCapsule(): read beside the ESRT.
    const helper = rec.fwupdEfi && rebooted !== 'no' ? await readHelperReport(rec.fwupdEfi) : null;
    return { state: overallState(entries), rebooted, entries, ...(helper ? { helper } : {}) };
  }

  /** `helper`: the report of fwupd's helper as read before the stage that replaces this attempt rewrote it. */
  private async archive(log: ActionLog, p: UefiPending, key: string, action: UefiHistoryLine['action'], helper: HelperReport | null): Promise<void> {
    const o = await this.outcomeOf(p, await readEsrt(this.deps.sysroot));
    const first = o.entries[0];
    const line: UefiHistoryLine = {
      time: this.deps.now().toISOString(), action, entry: key, versionNumber: p.capsule.versionNumber, fromVersion: p.entries[0]?.fwVersionBefore ?? 0,
      state: o.state, status: first?.lastAttemptStatus ?? -1, detail: first?.detail ?? '',
      attempt: attemptRecord(p, o.rebooted === 'no' ? null : o.entries, o.rebooted === 'no' ? undefined : (helper ?? o.helper)),
    };
    await log.run({ kind: 'write', path: this.state.path('history.jsonl'), bytes: 0, purpose: 'history: the outcome of the attempt this one replaces' }, () => this.state.appendHistory(line));
    await log.run({ kind: 'remove', path: this.records.path('pending', key), purpose: 'replaced by the new request' }, () => this.records.remove('pending', key));
  }

  async status(): Promise<UefiStatus> {
    const esrt = await readEsrt(this.deps.sysroot);
    const all = await readAll(this.records);
    const osIndSupported = await fileCapsuleDeliverySupported(this.deps.sysroot).catch(() => false);
    const osInd = await readVariable(this.deps.sysroot, 'OsIndications').catch(() => null);
    const esp = await findEsp(this.deps.sysroot, this.opts.esp).catch(() => null);
    // Per ESRT entry the record that speaks for it: the pending attempt, else the staged request.
    const judged: Array<Keyed<UefiRequest>> = [...all.pendings, ...all.requests.filter((r) => !all.pendings.some((p) => p.key === r.key))];
    const capsules: UefiCapsuleStatus[] = [];
    const outcomes = new Map<string, Awaited<ReturnType<UefiTarget['outcomeOf']>>>();
    for (const r of judged.sort((a, b) => a.key.localeCompare(b.key))) outcomes.set(r.key, await this.outcomeOf(r.record, esrt));
    for (const [kind, xs] of [['staged', all.requests], ['pending', all.pendings]] as const) {
      for (const { key, record: r } of xs) {
        const o = outcomes.get(key);
        capsules.push({
          entry: key, esrt: r.entries.map((e) => e.esrt), state: kind, version: r.capsule.version, versionNumber: r.capsule.versionNumber, size: r.capsule.size,
          fileSha256: r.capsule.fileSha256, payloadSha256: r.capsule.payloadSha256, delivery: r.delivery, file: r.deliveredTo, stagedAt: r.stagedAt,
          appliedAt: kind === 'pending' ? (r as UefiPending).appliedAt : null, outcome: kind === 'pending' || !all.pendings.some((p) => p.key === key) ? (o ?? null) : null,
        });
      }
    }
    capsules.sort((a, b) => a.entry.localeCompare(b.entry) || a.state.localeCompare(b.state));
    const parts = [...outcomes.values()];
    // fwupd's helper takes the boot alone (fwupd-efi-sharing.ts): at most one capsule has its report.
    const helper = parts.find((o) => o.helper)?.helper;
    const outcome = parts.length ? { state: overallState(parts.flatMap((o) => o.entries)), rebooted: parts[0]!.rebooted, entries: parts.flatMap((o) => o.entries), ...(helper ? { helper } : {}) } : null;
    const warnings: string[] = [];
    const results = await readCapsuleResults(this.deps.sysroot);
    warnings.push(...results.problems.map((p) => `a damaged capsule result variable: ${p}`));
    for (const e of outcome?.entries ?? []) if (e.disagreement) warnings.push(`${e.esrt}: ${e.disagreement}`);
    for (const i of all.intents) warnings.push(`a stage${all.intents.length > 1 ? ` for ${i.key}` : ''} was cut before the capsule was fully delivered: \`fwup unstage --target uefi\` undoes it`);
    for (const [key, o] of outcomes) if (o.state === 'failed') warnings.push(`the firmware reported that the last capsule${outcomes.size > 1 ? ` for ${key}` : ''} failed (see outcome)`);
    for (const [key, o] of outcomes) {
      const said = o.helper ? helperWarning(o.helper) : null;
      if (said) warnings.push(outcomes.size > 1 ? `${key}: ${said}` : said);
    }
    const staged = all.requests[0]?.record;
    const pending = all.pendings[0]?.record;
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
        fwupdEfiHelper: (await findHelper(this.deps.sysroot)).path,
      },
      capsules,
      staged: staged
        ? { version: staged.capsule.version, fileSha256: staged.capsule.fileSha256, payloadSha256: staged.capsule.payloadSha256, delivery: staged.delivery, deliveredTo: staged.deliveredTo, stagedAt: staged.stagedAt, state: staged.state }
        : null,
      pending: pending
        ? { version: pending.capsule.version, fileSha256: pending.capsule.fileSha256, delivery: pending.delivery, appliedAt: pending.appliedAt, reboot: pending.reboot }
        : null,
      outcome,
      capsuleResults: results.results,
      warnings,
    };
  }

  async history(): Promise<HistoryItem[]> {
    const lines = await this.state.history<UefiHistoryLine>();
    const items: HistoryItem[] = lines.map((h) => ({
      time: h.time, action: h.action, fromVersion: h.fromVersion, toVersion: h.versionNumber, status: h.status, statusName: h.state, detail: h.detail,
      ...(h.attempt ? { attempt: h.attempt } : {}),
    }));
    // The attempts in flight (one per ESRT entry) are judged now, from the ESRT.
    for (const { record: pending } of await this.records.list<UefiPending>('pending')) {
      const o = await this.outcomeOf(pending, await readEsrt(this.deps.sysroot));
      const first = o.entries[0];
      items.push({
        time: pending.appliedAt, action: 'pending', fromVersion: first ? pending.entries[0]!.fwVersionBefore : 0, toVersion: pending.capsule.versionNumber,
        status: first?.lastAttemptStatus ?? -1, statusName: o.state, detail: first?.detail ?? '',
        attempt: attemptRecord(pending, o.rebooted === 'no' ? null : o.entries, o.helper),
      });
    }
    return items;
  }
}

/** One attempt as history keeps it: what was installed, how it was delivered, and what the firmware said. */
function attemptRecord(r: UefiRequest, outcome: readonly EntryOutcome[] | null, helper?: HelperReport): UefiAttemptRecord {
  const c = r.capsule;
  return {
    capsule: { version: c.version, versionNumber: c.versionNumber, size: c.size, fileSha256: c.fileSha256, payloadSha256: c.payloadSha256, source: c.source },
    entries: r.entries.map((e) => ({ esrt: e.esrt, fwClass: e.fwClass, fwVersionBefore: e.fwVersionBefore })),
    delivery: r.delivery,
    deliveredTo: r.deliveredTo,
    firmware: outcome
      ? outcome.map((o) => ({
          esrt: o.esrt, state: o.state, statusName: o.statusName, lastAttemptStatus: o.lastAttemptStatus,
          result: o.firmwareResult ? { variable: o.firmwareResult.variable, statusName: o.firmwareResult.statusName, status: o.firmwareResult.status } : null,
          disagreement: o.disagreement ?? null,
        }))
      : null,
    ...(r.fwupdEfi ? { helper: helper ?? null } : {}),
  };
}
