import { join } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';
import { HostState } from '../host-state.js';
import { stateName } from '../state-records.js';
import type {
  ApplyOutcome, ApplyRequest, HistoryItem, StageInput, StageOptions, StageSession, Target, TargetDeps, TargetFacts, TargetOptions,
} from '../target.js';
import type { PlannedAction } from '../plan.js';
import { applyOnBmc } from './redfish-apply.js';
import { componentOf, openConnection, withConnection, type RedfishDeps } from './redfish-connection.js';
import type { Json } from './redfish-client.js';
import type { RedfishService } from './redfish-discovery.js';
import type { RedfishHistoryLine, RedfishRequest, RedfishStatus } from './redfish-results.js';
import { REQUEST, redfishStageSession, stageApplyTime } from './redfish-stage.js';
import { redfishSpecText, type RedfishSpec } from './redfish-spec.js';
import { summarize, type TaskSummary } from './task-monitor.js';
import { versionNumberOf } from './versions.js';

/** How long a BMC's task may go without progress while staging (an upload's verification can be slow). */
const STAGE_TASK_TIMEOUT_MS = 600_000;

/**
 * A server's firmware through its BMC (DMTF Redfish UpdateService). fwup verifies the image locally
 * first, as for every target; the BMC verifies it again and installs it. fwup keeps the staged request and
 * the history in its state directory (one per BMC and system).
 */
export class RedfishTarget implements Target {
  readonly kind = 'redfish' as const;
  readonly spec: string;
  private readonly state: HostState;
  /** What facts() read, reused by the beginStage that follows it in the same command. */
  private seen: { at: number; root: Json; service: RedfishService } | null = null;

  constructor(private readonly rs: RedfishSpec, private readonly deps: TargetDeps, private readonly rd: RedfishDeps, private readonly opts: TargetOptions) {
    this.spec = redfishSpecText(rs);
    this.state = new HostState(join(deps.stateDir, 'redfish', stateName(this.spec)), `the BMC ${this.spec}`);
  }

  lock(timeoutMs: number): Promise<() => Promise<void>> {
    return this.state.lock(timeoutMs, (m) => this.deps.log.info(m));
  }

  private connect<T>(dryRun: boolean, fn: Parameters<typeof withConnection<T>>[5]): Promise<T> {
    return withConnection(this.rs, this.deps, this.rd, this.opts, dryRun, fn);
  }

  async facts(): Promise<TargetFacts> {
    return this.connect(false, async (c) => {
      this.seen = { at: Date.now(), root: c.root, service: c.service };
      const comp = componentOf(c, this.opts);
      const max = c.service.update.maxImageBytes ?? 2 ** 32;
      return {
        kind: 'redfish', spec: this.spec, platform: null, activeVersion: comp.version, activeVersionNumber: versionNumberOf(comp.version),
        lowestSupportedVersion: versionNumberOf(comp.lowestSupportedVersion) ?? 0, securityVersion: 0,
        // The BMC holds the trust anchors and checks signatures itself; locally fwup checks structure,
        // digests and version policy, and an unsigned image still needs --allow-unsigned.
        hasTrustedKeys: false, hasTrustedCerts: false, development: true,
        unsignedHint: 'the BMC checks signatures itself and may refuse it; pass --allow-unsigned to send an unsigned image', capacity: { image: max, slot: max }, trustedKeys: null, trustedCerts: null,
      };
    });
  }

  async beginStage(input: StageInput, opts: StageOptions): Promise<StageSession> {
    const fresh = this.seen && Date.now() - this.seen.at < 30_000 ? this.seen : undefined;
    const c = await openConnection(this.rs, this.deps, this.rd, this.opts, opts.dryRun, fresh);
    try {
      if (!c.service.update.enabled) throw new FwupError('TARGET_UNSUPPORTED', `the UpdateService of ${this.spec} is disabled (ServiceEnabled false)`, { hint: 'enable it in the BMC\'s settings' });
      const component = componentOf(c, this.opts);
      if (!component.updateable) throw new FwupError('TARGET_UNSUPPORTED', `${component.id} is not updateable through Redfish (Updateable false)`, { hint: 'name another item with --component ID (fwup status lists them)' });
      const max = c.service.update.maxImageBytes;
      if (max !== null && input.verdict.fileSize > max) {
        throw new FwupError('POLICY_TOO_LARGE', `the image is ${input.verdict.fileSize} bytes; the BMC takes at most ${max} (MaxImageSizeBytes)`, { hint: 'use the image made for this server' });
      }
      const previous = await this.state.read<RedfishRequest>(REQUEST, 'the staged request');
      return redfishStageSession({
        spec: this.spec, state: this.state, conn: c, release: () => c.close(), component, applyTime: stageApplyTime(c, this.opts.applyTime),
        push: { method: this.opts.pushMethod, serveAddress: this.opts.serveAddress ?? null }, taskTimeoutMs: this.opts.taskTimeoutMs ?? STAGE_TASK_TIMEOUT_MS, now: this.deps.now, log: this.deps.log,
      }, input, opts, previous !== null);
    } catch (e) {
      await c.close();
      throw e;
    }
  }

  async unstage(opts: { dryRun: boolean }): Promise<{ removed: boolean; plan: PlannedAction[] }> {
    const rec = await this.state.read<RedfishRequest>(REQUEST, 'the staged request');
    if (!rec) return { removed: false, plan: [] };
    return this.connect(opts.dryRun, async (c) => {
      // A task that still waits for its activation is cancelled on the BMC (DELETE on the Task, as the
      // Task schema allows); one that is over has nothing left to withdraw.
      const open = rec.task?.uri && !['Completed', 'Exception', 'Cancelled', 'Killed'].includes(rec.task.state);
      if (open) {
        const r = await c.client.change('DELETE', rec.task!.uri!, 'cancel the BMC\'s update task (the staged image is discarded)', undefined, { accept: [405, 501] });
        if (r && (r.status === 405 || r.status === 501)) {
          throw new FwupError('TARGET_UNSUPPORTED', `the BMC cannot cancel its update task ${rec.task!.uri} (HTTP ${r.status})`, { hint: 'the image stays staged on the BMC until its apply time; cancel it in the BMC\'s own interface' });
        }
      }
      if (!opts.dryRun) {
        await this.state.remove(REQUEST);
        const line: RedfishHistoryLine = { time: this.deps.now().toISOString(), action: 'unstage', version: rec.image.version, versionNumber: rec.image.versionNumber, before: null, after: null, detail: open ? `task ${rec.task!.uri} cancelled` : 'record removed' };
        await this.state.appendHistory(line);
      }
      return { removed: true, plan: c.client.plan };
    });
  }

  async apply(req: ApplyRequest): Promise<ApplyOutcome> {
    const rec = await this.state.read<RedfishRequest>(REQUEST, 'the staged request');
    if (!rec) throw new FwupError('NOT_STAGED', `nothing is staged on ${this.spec}`, { hint: `stage an image first: fwup stage IMAGE --target ${this.spec}` });
    return this.connect(req.dryRun, async (c) => {
      const report = await applyOnBmc(c, this.rs, rec, req);
      if (!req.dryRun) {
        const line: RedfishHistoryLine = {
          time: this.deps.now().toISOString(), action: report.ok ? 'install' : 'failed', version: rec.image.version, versionNumber: rec.image.versionNumber,
          before: report.before.version, after: report.after.version, detail: `${report.how}${report.resetType ? ` ${report.resetType}` : ''}: ${report.checks.map((x) => `${x.name} ${x.ok ? 'ok' : 'FAILED'}`).join(', ')}`,
        };
        await this.state.appendHistory(line);
        await this.state.remove(REQUEST);
      }
      return { target: this.spec, kind: 'redfish', ok: report.ok, report, plan: c.client.plan, dryRun: req.dryRun };
    });
  }

  rollback(): Promise<ApplyOutcome> {
    return Promise.reject(new FwupError('TARGET_UNSUPPORTED', 'a BMC keeps no previous image fwup can switch back to', {
      hint: `stage the previous image with --allow-older: fwup stage OLD-IMAGE --target ${this.spec} --allow-older`,
    }));
  }

  async status(): Promise<RedfishStatus> {
    const staged = await this.state.read<RedfishRequest>(REQUEST, 'the staged request');
    return this.connect(false, async (c) => {
      const warnings: string[] = [];
      let component = null;
      try {
        component = componentOf(c, this.opts);
      } catch (e) {
        warnings.push(e instanceof Error ? e.message : String(e));
      }
      let task: TaskSummary | null = null;
      if (staged?.task?.uri) {
        const r = await c.client.get(staged.task.uri, { optional: true });
        task = r?.json ? summarize(r.json, staged.task.monitor, staged.task.uri, 'Running') : null;
        if (!r) warnings.push(`the BMC no longer has the staged update's task ${staged.task.uri}`);
      }
      const { components, update, system, ...service } = c.service;
      return { target: this.spec, kind: 'redfish', service: { ...service, auth: c.client.auth }, update, system, components, component, staged, task, warnings };
    });
  }

  async history(): Promise<HistoryItem[]> {
    const own = (await this.state.history<RedfishHistoryLine>()).map((h): HistoryItem => ({
      time: h.time, action: h.action, fromVersion: versionNumberOf(h.before) ?? 0, toVersion: h.versionNumber, fromDisplay: h.before ?? '-', toDisplay: h.version,
      status: h.action === 'failed' ? 1 : 0, statusName: h.action === 'failed' ? 'failed' : 'success', detail: h.detail,
    }));
    const bmc = await this.connect(false, async (c) => {
      // ServiceRoot names its link to the TaskService "Tasks" (some BMCs say "TaskService").
      const svc = ((c.root.Tasks ?? c.root.TaskService ?? {}) as Json)['@odata.id'];
      if (typeof svc !== 'string') return [];
      const ts = await c.client.resource(svc);
      const coll = ((ts.Tasks ?? {}) as Json)['@odata.id'];
      if (typeof coll !== 'string') return [];
      const list = await c.client.resource(coll);
      const out: HistoryItem[] = [];
      for (const m of (Array.isArray(list.Members) ? list.Members : []) as Json[]) {
        const uri = m['@odata.id'];
        if (typeof uri !== 'string') continue;
        const t = await c.client.resource(uri);
        const s = summarize(t, null, uri, 'Running');
        const last = s.messages[s.messages.length - 1];
        out.push({
          time: String(t.EndTime ?? t.StartTime ?? ''), action: `bmc task ${String(t.Id ?? uri)}`, fromVersion: 0, toVersion: 0, status: s.state === 'Completed' ? 0 : 1,
          statusName: s.state, detail: `${String(t.Name ?? 'task')}: ${last ? last.message || last.id : 'no messages'}`,
        });
      }
      return out;
    });
    return [...own, ...bmc].sort((a, b) => a.time.localeCompare(b.time));
  }
}
