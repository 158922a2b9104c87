import { FwupError } from '../../errors/fwup-error.js';
import type { OutcomeCheck } from '../../machine/apply.js';
import type { ApplyRequest } from '../target.js';
import { rediscover, type Connection } from './redfish-connection.js';
import type { RedfishComponent } from './redfish-discovery.js';
import type { RedfishSpec } from './redfish-spec.js';
import type { RedfishApplyReport, RedfishRequest } from './redfish-results.js';
import { followTask, taskError, type TaskSummary } from './task-monitor.js';
import { versionNumberOf } from './versions.js';

/** Phases timed one after the other, for the report. */
class Clock {
  readonly phases: Array<{ name: string; ms: number }> = [];
  private at = performance.now();
  private name: string | null = null;
  private readonly t0 = this.at;
  start(name: string): void {
    this.stop();
    this.name = name;
    this.at = performance.now();
  }
  stop(): void {
    if (this.name) this.phases.push({ name: this.name, ms: performance.now() - this.at });
    this.name = null;
  }
  total(): number {
    return performance.now() - this.t0;
  }
}

/**
 * Set off the staged update and check the outcome. Warm: only where the BMC installs without a host
 * reset (StartUpdate for OnStartUpdateRequest, or nothing left to do after an Immediate install), never
 * when the component says ResetRequiredOnUpdate or the task asks for a reset. Cold: ComputerSystem.Reset
 * with the ResetType the BMC's ResetRequired message names (else ForceRestart), then wait for the system
 * to be On again. Then: the task ended without error messages, the inventory shows the new version.
 */
export async function applyOnBmc(c0: Connection, spec: RedfishSpec, rec: RedfishRequest, req: ApplyRequest): Promise<RedfishApplyReport> {
  const clock = new Clock();
  let c = c0;
  const comp = c.service.components.find((x) => x.uri === rec.component.uri);
  if (!comp) throw new FwupError('TARGET_CHANGED', `the BMC no longer lists ${rec.component.uri}`, { hint: 'fwup status shows its inventory; stage the image again' });
  const softwareId = comp.softwareId;
  let task: TaskSummary | null = rec.task;
  clock.start('task');
  if (task && (task.monitor || task.uri) && !['Completed', 'Exception', 'Cancelled', 'Killed'].includes(task.state)) {
    task = await followTask(c.client, task, { timeoutMs: req.timeoutMs, until: 'await' });
  }
  const done = task === null || ['Completed', 'Exception', 'Cancelled', 'Killed'].includes(task.state);
  let how: RedfishApplyReport['how'] = 'immediate';
  let resetType: string | null = null;
  if (req.mode === 'warm') {
    if (!done && (task?.awaiting === 'reset' || task?.resetRequest)) {
      throw new FwupError('TARGET_UNSUPPORTED', `the BMC installs this update only with a host reset (its task asks for ${task.resetRequest?.type ?? 'a reset'}): a warm apply cannot do it`, { hint: `run fwup apply --cold --target ${rec.target}` });
    }
    if (!done && comp.resetRequiredOnUpdate === true) {
      throw new FwupError('TARGET_UNSUPPORTED', `${comp.id} needs a host reset to take an update (ResetRequiredOnUpdate): a warm apply cannot do it`, { hint: `run fwup apply --cold --target ${rec.target}` });
    }
    // A task that is over can still leave the image for a host reset (iDRAC's "server reboot pending",
    // bmcweb's ResetRequiredOnUpdate host firmware) while the inventory still shows the old version.
    if ((task === null || task.state === 'Completed') && !showsImage(comp.version, rec) && (task?.resetRequest || comp.resetRequiredOnUpdate === true)) {
      const why = task?.resetRequest ? `its task asks for ${task.resetRequest.type}` : `${comp.id} has ResetRequiredOnUpdate`;
      throw new FwupError('TARGET_UNSUPPORTED', `the BMC holds the image for a host reset (${why}; the inventory still shows ${comp.version ?? 'no version'}): a warm apply cannot do it`, { hint: `run fwup apply --cold --target ${rec.target}` });
    }
    if (!done) {
      // Update.AwaitToActivate does not say which action it waits for: the apply time staged with does.
      const startable = task?.awaiting === 'start-update' || (task?.awaiting === 'action' && rec.applyTime === 'OnStartUpdateRequest');
      if (!startable || !c.service.update.startUpdate) {
        throw new FwupError('TARGET_UNSUPPORTED', 'the staged update waits for an action fwup cannot set off without a reset', { hint: `see fwup status --target ${rec.target}; fwup apply --cold resets the host` });
      }
      how = 'start-update';
      clock.start('start-update');
      await c.client.change('POST', c.service.update.startUpdate, 'UpdateService.StartUpdate: install the staged image (no host reset)', {});
    }
  } else {
    // A reset does not set off an update that waits for StartUpdate: following its task would never end.
    if (!done && !task?.resetRequest && (task?.awaiting === 'start-update' || (task?.awaiting === 'action' && rec.applyTime === 'OnStartUpdateRequest'))) {
      throw new FwupError('TARGET_UNSUPPORTED', 'the staged update waits for UpdateService.StartUpdate, which installs it without a host reset: a reset would not install it', {
        hint: `run fwup apply --warm --target ${rec.target}, or stage again with --apply-time OnReset for a cold install`,
      });
    }
    how = 'reset';
    const sys = c.service.system;
    const uri = task?.resetRequest?.uri ?? sys?.resetTarget;
    if (!uri) throw new FwupError('TARGET_UNSUPPORTED', 'the BMC offers no ComputerSystem.Reset for this system', { hint: 'reset the host another way; fwup status then checks the outcome' });
    const allowed = sys?.resetTypes ?? null;
    resetType = task?.resetRequest?.type ?? (allowed && !allowed.includes('ForceRestart') ? (allowed.find((t) => /Restart|PowerCycle/.test(t)) ?? 'ForceRestart') : 'ForceRestart');
    clock.start('reset');
    await c.client.change('POST', uri, `ComputerSystem.Reset (${resetType}): the host restarts and the BMC installs the staged image`, { ResetType: resetType });
  }
  if (c.client.dryRun) {
    clock.stop();
    return report();
  }
  if (how !== 'immediate' && task && (task.monitor || task.uri)) {
    clock.start('install');
    task = await followTask(c.client, task, { timeoutMs: req.timeoutMs, until: 'done', onProgress: (p) => req.onProgress?.({ phase: 'install', done: p, total: 100 }) });
  }
  // An Immediate install was over before this command read the inventory: that reading is the outcome.
  if (how !== 'immediate') {
    clock.start(how === 'reset' ? 'power-on' : 'inventory');
    const deadline = Date.now() + req.timeoutMs;
    for (;;) {
      c = await rediscover(c, spec);
      const p = c.service.system?.powerState ?? 'On';
      if (p === 'On' || how !== 'reset') break;
      if (Date.now() > deadline) throw new FwupError('BMC_TASK_TIMEOUT', `the system did not come back on within ${req.timeoutMs / 1000} s (PowerState ${p})`, { hint: 'check the host console; fwup status shows what the BMC reports' });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  clock.stop();
  return report();

  function report(): RedfishApplyReport {
    const now = currentItem(c.service.components, rec, softwareId);
    const checks: OutcomeCheck[] = [];
    const dry = c.client.dryRun;
    if (!dry) {
      const bad = task ? taskError(task, 'apply') : null;
      checks.push({ name: 'task', ok: bad === null && (task === null || task.state === 'Completed'), detail: task ? `${task.uri ?? task.monitor}: ${task.state}${bad ? `: ${bad.message}` : ''}` : 'the BMC gave no task; the inventory decides' });
      const got = now?.version ?? null;
      const same = showsImage(got, rec);
      checks.push({ name: 'inventory', ok: same, detail: `${rec.component.id} reports ${got ?? 'no version'}, expected ${rec.image.version}` });
      const power = c.service.system?.powerState ?? null;
      checks.push({ name: 'system', ok: power === null || power === 'On', detail: `PowerState ${power ?? 'unknown'}` });
    }
    return {
      mode: req.mode, how, resetType, component: rec.component.uri, before: { version: rec.component.versionBefore }, after: { version: now?.version ?? null },
      expected: rec.image.version, task, powerState: c.service.system?.powerState ?? null, checks, ok: dry || checks.every((x) => x.ok), phases: clock.phases, totalMs: clock.total(),
    };
  }
}

/**
 * The inventory item that holds the component now: the same URI, else one with its SoftwareId (iDRAC
 * names items after their version: Installed-159-1.0.0 becomes Installed-159-2.0.0 beside Previous-…).
 */
function currentItem(list: RedfishComponent[], rec: RedfishRequest, softwareId: string | null): RedfishComponent | null {
  const same = list.find((x) => x.uri === rec.component.uri);
  if (same || !softwareId) return same ?? null;
  const kin = list.filter((x) => x.softwareId === softwareId);
  return kin.find((x) => showsImage(x.version, rec)) ?? kin.find((x) => x.updateable) ?? null;
}

/** The inventory shows the staged image's version (vendor text such as "U54 v2.0.0 (12/01/2026)" counts). */
function showsImage(version: string | null, rec: RedfishRequest): boolean {
  return version !== null && (version === rec.image.version || (versionNumberOf(version) !== null && versionNumberOf(version) === rec.image.versionNumber));
}

/** The error a failed apply exits with when the BMC's task says why (else the generic outcome failure). */
export function applyFailure(r: RedfishApplyReport): FwupError | null {
  if (r.ok || !r.task) return null;
  const e = taskError(r.task, 'apply');
  return e && (e.code === 'BMC_APPLY_FAILED' || e.code === 'BMC_VERIFICATION_FAILED') ? e : null;
}
