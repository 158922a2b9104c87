import type { OutcomeCheck } from '../../machine/apply.js';
import type { RedfishComponent, RedfishService } from './redfish-discovery.js';
import type { TaskSummary } from './task-monitor.js';

export type PushMethod = 'multipart' | 'simple-update' | 'http-push';

/** What a stage left on the BMC: `request.json` in fwup's state directory for this BMC. */
export interface RedfishRequest {
  recordVersion: 1;
  target: string;
  component: { uri: string; id: string; versionBefore: string | null };
  method: PushMethod;
  /** The apply time asked for (null: the BMC's default, which installs at once). */
  applyTime: string | null;
  task: TaskSummary | null;
  image: { version: string; versionNumber: number; fileSha256: string; size: number; format: string };
  stagedAt: string;
}

export interface RedfishStageDetails {
  kind: 'redfish';
  bmc: string;
  component: string;
  method: PushMethod;
  applyTime: string | null;
  /** The BMC's task after the push: waiting for an apply, or already done (an Immediate install). */
  task: TaskSummary | null;
  /** SHA-256 of the bytes sent (or served, for SimpleUpdate), equal to the verified file's. */
  sentSha256: string | null;
  installed: boolean;
}

export interface RedfishStatus {
  target: string;
  kind: 'redfish';
  service: Omit<RedfishService, 'components' | 'update' | 'system'> & { auth: 'session' | 'basic' | null };
  update: RedfishService['update'];
  system: RedfishService['system'];
  components: RedfishComponent[];
  /** The item fwup updates (null, with a warning, when it cannot tell which). */
  component: RedfishComponent | null;
  staged: RedfishRequest | null;
  /** The staged update's task as the BMC reports it now. */
  task: TaskSummary | null;
  warnings: string[];
}

export interface RedfishApplyReport {
  mode: 'warm' | 'cold';
  /** How the install was set off: StartUpdate, a ComputerSystem.Reset, or it ran at the push (Immediate). */
  how: 'start-update' | 'reset' | 'immediate';
  resetType: string | null;
  component: string;
  before: { version: string | null };
  after: { version: string | null };
  expected: string;
  task: TaskSummary | null;
  powerState: string | null;
  checks: OutcomeCheck[];
  ok: boolean;
  phases: Array<{ name: string; ms: number }>;
  totalMs: number;
}

export interface RedfishHistoryLine {
  time: string;
  action: 'stage' | 'install' | 'failed' | 'unstage';
  version: string;
  versionNumber: number;
  before: string | null;
  after: string | null;
  detail: string;
}
