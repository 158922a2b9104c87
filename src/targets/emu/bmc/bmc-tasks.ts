import { message, type MessageKey, type RedfishMessage } from '../../../targets/redfish/redfish-messages.js';

export type TaskState = 'New' | 'Starting' | 'Running' | 'Suspended' | 'Completed' | 'Exception' | 'Cancelled';

export interface BmcTask {
  id: string;
  name: string;
  state: TaskState;
  status: 'OK' | 'Warning' | 'Critical';
  percent: number;
  messages: RedfishMessage[];
  start: string;
  end: string | null;
  /** What the task waits for before it goes on: a reset of the system, or StartUpdate. */
  awaiting: 'reset' | 'start-update' | null;
  /** What fwup reported (the stage, the apply), for the Oem section and the log. */
  report: unknown;
}

export const TASKS = '/redfish/v1/TaskService/Tasks';
export const taskUri = (id: string) => `${TASKS}/${id}`;
export const monitorUri = (id: string) => `/redfish/v1/TaskService/TaskMonitors/${id}`;

/** The BMC's tasks, newest last, the oldest finished ones dropped past `keep`. */
export class BmcTasks {
  private readonly tasks: BmcTask[] = [];
  private next = 1;

  constructor(readonly now: () => Date, private readonly keep = 64) {}

  create(name: string): BmcTask {
    const t: BmcTask = {
      id: String(this.next++), name, state: 'New', status: 'OK', percent: 0, messages: [], start: this.now().toISOString(), end: null, awaiting: null, report: null,
    };
    t.messages.push(message('TaskStarted', [t.id]));
    this.tasks.push(t);
    while (this.tasks.length > this.keep) {
      const i = this.tasks.findIndex((x) => x.end !== null);
      if (i < 0) break;
      this.tasks.splice(i, 1);
    }
    return t;
  }

  /** Forget a task whose request was refused before anything ran. */
  discard(t: BmcTask): void {
    const i = this.tasks.indexOf(t);
    if (i >= 0) this.tasks.splice(i, 1);
  }

  get(id: string): BmcTask | null {
    return this.tasks.find((t) => t.id === id) ?? null;
  }

  all(): readonly BmcTask[] {
    return this.tasks;
  }

  /** The task that waits for `what` (at most one: a second update is refused while one waits). */
  awaiting(what: 'reset' | 'start-update'): BmcTask | null {
    return this.tasks.find((t) => t.awaiting === what && t.end === null) ?? null;
  }

  /** An update that has not finished (running, or waiting for its activation). */
  active(): BmcTask | null {
    return this.tasks.find((t) => t.end === null) ?? null;
  }

  progress(t: BmcTask, percent: number, key?: MessageKey, args: string[] = []): void {
    t.state = 'Running';
    t.percent = Math.max(t.percent, Math.min(99, Math.round(percent)));
    if (key) t.messages.push(message(key, args));
  }

  finish(t: BmcTask, ok: boolean, key: MessageKey, args: string[], extra: RedfishMessage[] = []): void {
    t.state = ok ? 'Completed' : 'Exception';
    t.status = ok ? 'OK' : 'Critical';
    t.percent = 100;
    t.awaiting = null;
    t.messages.push(message(key, args), ...extra);
    t.end = this.now().toISOString();
  }
}

export function taskJson(t: BmcTask): object {
  return {
    '@odata.type': '#Task.v1_7_3.Task',
    '@odata.id': taskUri(t.id),
    Id: t.id,
    Name: t.name,
    TaskState: t.state,
    TaskStatus: t.status,
    PercentComplete: t.percent,
    StartTime: t.start,
    ...(t.end ? { EndTime: t.end } : {}),
    TaskMonitor: monitorUri(t.id),
    HidePayload: true,
    Messages: t.messages,
    ...(t.report ? { Oem: { Fwup: { '@odata.type': '#FwupTask.v1_0_0.Task', Report: t.report } } } : {}),
  };
}
