import { FwupError } from '../../errors/fwup-error.js';
import type { Json, RedfishClient, RedfishReply } from './redfish-client.js';
import { messageKey } from './redfish-messages.js';

export interface TaskMessage {
  id: string;
  key: string | null;
  message: string;
  args: string[];
  severity: string | null;
}

export interface TaskSummary {
  /** The task monitor (Location of the 202), and the Task resource, where the BMC gave them. */
  monitor: string | null;
  uri: string | null;
  state: string;
  status: string | null;
  percent: number | null;
  messages: TaskMessage[];
  /** What the task waits for before it goes on (Update.AwaitToActivate / AwaitToUpdate). */
  awaiting: 'reset' | 'start-update' | 'action' | null;
  /** The reset a Base.ResetRequired message asks for: the action URI and the ResetType. */
  resetRequest: { uri: string; type: string } | null;
}

const DONE = new Set(['Completed', 'Exception', 'Killed', 'Cancelled']);

function messagesOf(j: Json | null): TaskMessage[] {
  const list = (j?.Messages ?? (j?.error as Json | undefined)?.['@Message.ExtendedInfo'] ?? j?.['@Message.ExtendedInfo'] ?? []) as unknown;
  if (!Array.isArray(list)) return [];
  return list.map((m: Json) => ({
    id: typeof m.MessageId === 'string' ? m.MessageId : '',
    key: messageKey(m.MessageId)?.key ?? null,
    message: typeof m.Message === 'string' ? m.Message : '',
    args: Array.isArray(m.MessageArgs) ? m.MessageArgs.map(String) : [],
    severity: typeof m.MessageSeverity === 'string' ? m.MessageSeverity : typeof m.Severity === 'string' ? m.Severity : null,
  }));
}

/** A task (or an operation's result body) in the terms fwup acts on. */
export function summarize(j: Json | null, monitor: string | null, uri: string | null, fallbackState: string): TaskSummary {
  const isTask = typeof j?.['@odata.type'] === 'string' && /^#(Task|Job)\./.test(j['@odata.type'] as string);
  const messages = messagesOf(j);
  const state = isTask ? String(j!.TaskState ?? j!.JobState ?? fallbackState) : fallbackState;
  const reset = messages.find((m) => m.key === 'ResetRequired' && m.args.length >= 1);
  const waits = !DONE.has(state) && messages.some((m) => m.key === 'AwaitToActivate' || m.key === 'AwaitToUpdate');
  const waitingFor = waits ? (reset ? 'reset' : messages.some((m) => /StartUpdate/.test(m.args.join(' '))) ? 'start-update' : 'action') : null;
  return {
    monitor, uri: isTask && typeof j!['@odata.id'] === 'string' ? (j!['@odata.id'] as string) : uri, state,
    status: isTask && typeof j!.TaskStatus === 'string' ? j!.TaskStatus : null,
    percent: isTask && typeof j!.PercentComplete === 'number' ? j!.PercentComplete : null,
    messages, awaiting: waitingFor,
    resetRequest: reset ? { uri: reset.args[0]!, type: reset.args[1] ?? 'ForceRestart' } : null,
  };
}

/** The task an update request started, from its response: 202 + Location (a monitor), a Task body, or neither (done). */
export function taskFromReply(r: RedfishReply): TaskSummary {
  const loc = typeof r.headers.location === 'string' ? r.headers.location : null;
  if (r.status === 202) return summarize(r.json, loc, null, 'Running');
  // 200/204: done synchronously (the body, if any, holds the messages).
  return summarize(r.json, null, null, 'Completed');
}

export interface FollowOptions {
  timeoutMs: number;
  /** Stop at 'done', or as soon as the task waits for an action (stage with a deferred apply time). */
  until: 'done' | 'await';
  onProgress?: (percent: number, state: string) => void;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Follow a task to its end (or to where it waits): the monitor while it answers 202, the Task resource
 * otherwise. A task that shows no progress for `timeoutMs` is a BMC_TASK_TIMEOUT.
 */
export async function followTask(c: RedfishClient, first: TaskSummary, o: FollowOptions): Promise<TaskSummary> {
  let t = first;
  let last = JSON.stringify([t.state, t.percent, t.messages.length]);
  let lastChange = Date.now();
  // Every 50 ms for the first 3 s (a quick task is seen done at once), then growing to once a second.
  let delay = 50;
  const started = Date.now();
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (;;) {
    o.onProgress?.(t.percent ?? 0, t.state);
    if (DONE.has(t.state) || (o.until === 'await' && t.awaiting)) return t;
    if (!t.monitor && !t.uri) return t; // nothing to poll: the BMC gave no handle
    if (Date.now() - lastChange > o.timeoutMs) {
      throw new FwupError('BMC_TASK_TIMEOUT', `the BMC's task ${t.uri ?? t.monitor} made no progress for ${Math.round(o.timeoutMs / 1000)} s (state ${t.state}${t.percent !== null ? `, ${t.percent}%` : ''})`, {
        details: { task: t },
      });
    }
    await sleep(delay);
    if (Date.now() - started > 3000) delay = Math.min(Math.round(delay * 1.5), 1000);
    t = await poll(c, t);
    const now = JSON.stringify([t.state, t.percent, t.messages.length]);
    if (now !== last) {
      last = now;
      lastChange = Date.now();
    }
  }
}

async function poll(c: RedfishClient, t: TaskSummary): Promise<TaskSummary> {
  if (t.monitor) {
    const r = await c.get(t.monitor, { optional: true });
    if (r && r.status === 202) {
      const s = summarize(r.json, t.monitor, t.uri, 'Running');
      // A monitor without a body says only "still running": the Task resource says more.
      return r.json || !t.uri ? s : { ...(await pollTask(c, t.uri, t.monitor)) };
    }
    if (r && r.json && /^#(Task|Job)\./.test(String(r.json['@odata.type'] ?? ''))) return summarize(r.json, t.monitor, t.uri, 'Completed');
    // Done (200/204 with the operation's result), or the monitor is gone (404): the Task tells the state.
    if (t.uri) return pollTask(c, t.uri, null);
    return summarize(r?.json ?? null, null, null, 'Completed');
  }
  return pollTask(c, t.uri!, null);
}

async function pollTask(c: RedfishClient, uri: string, monitor: string | null): Promise<TaskSummary> {
  const r = await c.get(uri);
  return summarize(r?.json ?? null, monitor, uri, 'Running');
}

/** A finished task as a verdict: null when it succeeded, else the FwupError its messages map to. */
export function taskError(t: TaskSummary, what: string): FwupError | null {
  const bad = t.messages.filter((m) => m.severity === 'Critical' || ['VerificationFailed', 'ApplyFailed', 'ActivateFailed', 'TransferFailed'].includes(m.key ?? ''));
  const words = (bad.length ? bad : t.messages.slice(-1)).map((m) => m.message || m.id).join(' ');
  const details = { task: t };
  if (t.messages.some((m) => m.key === 'VerificationFailed')) return new FwupError('BMC_VERIFICATION_FAILED', `${what}: the BMC refused the image: ${words}`, { details });
  if (t.messages.some((m) => m.key === 'ApplyFailed' || m.key === 'ActivateFailed' || m.key === 'TransferFailed')) return new FwupError('BMC_APPLY_FAILED', `${what}: the BMC could not install the image: ${words}`, { details });
  if (t.state === 'Exception' || t.state === 'Killed' || t.state === 'Cancelled' || t.status === 'Critical') {
    return new FwupError('BMC_APPLY_FAILED', `${what}: the BMC's task ended ${t.state}${words ? `: ${words}` : ''}`, { details });
  }
  if (t.messages.some((m) => m.key?.startsWith('UpdateSkipped'))) return new FwupError('NOTHING_TO_DO', `${what}: the BMC skipped the update: ${words}`, { hint: 'the BMC already runs this version (pass --allow-reinstall to force it)', details });
  return null;
}
