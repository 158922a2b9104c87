import { createHash } from 'node:crypto';
import type { SlotStatus } from '../../../machine/firmware/firmware-status.js';
import { displayLike } from '../../../util/version.js';
import type { EmuStatus } from '../emu-results.js';
import type { BmcSession } from './bmc-sessions.js';
import { TASKS, taskUri } from './bmc-tasks.js';

/** The URIs of the emulated BMC, declared once (routes and resources both use them). */
export const URI = {
  root: '/redfish/v1/',
  systems: '/redfish/v1/Systems',
  system: '/redfish/v1/Systems/1',
  reset: '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset',
  managers: '/redfish/v1/Managers',
  manager: '/redfish/v1/Managers/bmc',
  updateService: '/redfish/v1/UpdateService',
  push: '/redfish/v1/UpdateService/update',
  multipart: '/redfish/v1/UpdateService/upload',
  simpleUpdate: '/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate',
  startUpdate: '/redfish/v1/UpdateService/Actions/UpdateService.StartUpdate',
  inventory: '/redfish/v1/UpdateService/FirmwareInventory',
  sessionService: '/redfish/v1/SessionService',
  sessions: '/redfish/v1/SessionService/Sessions',
  accountService: '/redfish/v1/AccountService',
  accounts: '/redfish/v1/AccountService/Accounts',
  account: '/redfish/v1/AccountService/Accounts/1',
  taskService: '/redfish/v1/TaskService',
  tasks: TASKS,
} as const;

/** The inventory item every update goes to: the system firmware (the flash's active slot). */
export const SYSTEM_FIRMWARE = 'SystemFirmware';
export const inventoryUri = (id: string) => `${URI.inventory}/${id}`;

export const RESET_TYPES = ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'PowerCycle'] as const;
export type ResetType = (typeof RESET_TYPES)[number];
export const APPLY_TIMES = ['Immediate', 'OnReset', 'OnStartUpdateRequest'] as const;
export type ApplyTime = (typeof APPLY_TIMES)[number];

/** What the resources are made from: the machine as `fwup status` sees it, and the BMC's own state. */
export interface BmcView {
  status: EmuStatus;
  /** The active firmware's lowest supported version (null when the active slot cannot be read). */
  lowestSupported: number | null;
  powerState: string;
  bmcVersion: string;
  createdAt: string;
  maxImageBytes: number;
  pushApplyTime: ApplyTime;
  user: string;
  sessionTimeoutS: number;
}

const collection = (id: string, type: string, name: string, members: string[]) => ({
  '@odata.id': id, '@odata.type': `#${type}Collection.${type}Collection`, Name: name, 'Members@odata.count': members.length, Members: members.map((m) => ({ '@odata.id': m })),
});

/** A stable UUID per machine (its creation time): clients key their records by it. */
export function machineUuid(createdAt: string): string {
  const h = createHash('sha256').update(`fwup-emu-bmc/${createdAt}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function serviceRoot(v: Pick<BmcView, 'createdAt' | 'bmcVersion'>): object {
  return {
    '@odata.id': URI.root, '@odata.type': '#ServiceRoot.v1_16_0.ServiceRoot', Id: 'RootService', Name: 'fwup emulated BMC',
    RedfishVersion: '1.17.0', UUID: machineUuid(v.createdAt), Vendor: 'fwup', Product: `fwup emulated machine (fwup ${v.bmcVersion})`,
    Systems: { '@odata.id': URI.systems }, Managers: { '@odata.id': URI.managers }, UpdateService: { '@odata.id': URI.updateService },
    SessionService: { '@odata.id': URI.sessionService }, AccountService: { '@odata.id': URI.accountService },
    // ServiceRoot names its link to the TaskService "Tasks" (there is no "TaskService" property).
    Tasks: { '@odata.id': URI.taskService },
    Links: { Sessions: { '@odata.id': URI.sessions } },
    ProtocolFeaturesSupported: { ExcerptQuery: false, ExpandQuery: { ExpandAll: false }, FilterQuery: false, OnlyMemberQuery: false, SelectQuery: false },
  };
}

export function system(v: BmcView): object {
  const m = v.status.machine;
  return {
    '@odata.id': URI.system, '@odata.type': '#ComputerSystem.v1_20_0.ComputerSystem', Id: '1', Name: 'fwup emulated machine',
    SystemType: 'Physical', Manufacturer: 'fwup', Model: m.platform, UUID: machineUuid(v.createdAt), PowerState: v.powerState,
    BiosVersion: v.status.firmware?.version ?? null,
    Status: { State: v.powerState === 'Off' ? 'StandbyOffline' : 'Enabled', Health: v.status.warnings.length ? 'Warning' : 'OK' },
    ProcessorSummary: { Count: m.cpus, LogicalProcessorCount: m.cpus },
    MemorySummary: { TotalSystemMemoryGiB: m.ramBytes / 2 ** 30 },
    // No boot override exists (nor can one be set); clients such as sushy expect Boot to be there.
    Boot: { BootSourceOverrideEnabled: 'Disabled', BootSourceOverrideTarget: 'None', 'BootSourceOverrideTarget@Redfish.AllowableValues': ['None'] },
    Links: { ManagedBy: [{ '@odata.id': URI.manager }] },
    Actions: { '#ComputerSystem.Reset': { target: URI.reset, 'ResetType@Redfish.AllowableValues': [...RESET_TYPES] } },
  };
}

export function manager(v: BmcView): object {
  return {
    '@odata.id': URI.manager, '@odata.type': '#Manager.v1_19_0.Manager', Id: 'bmc', Name: 'fwup emulated BMC', ManagerType: 'BMC',
    FirmwareVersion: v.bmcVersion, UUID: machineUuid(`${v.createdAt}/bmc`), PowerState: 'On', Status: { State: 'Enabled', Health: 'OK' },
    Links: { ManagerForServers: [{ '@odata.id': URI.system }] },
  };
}

const applyTimeSupport = { '@odata.type': '#Settings.v1_3_5.OperationApplyTimeSupport', SupportedValues: [...APPLY_TIMES] };

export function updateService(v: BmcView): object {
  return {
    '@odata.id': URI.updateService, '@odata.type': '#UpdateService.v1_11_0.UpdateService', Id: 'UpdateService', Name: 'Update Service',
    ServiceEnabled: true, Status: { State: 'Enabled', Health: 'OK' }, MaxImageSizeBytes: v.maxImageBytes,
    HttpPushUri: URI.push, MultipartHttpPushUri: URI.multipart,
    HttpPushUriOptions: { HttpPushUriApplyTime: { ApplyTime: v.pushApplyTime } },
    'MultipartHttpPushUri@Redfish.OperationApplyTimeSupport': applyTimeSupport,
    FirmwareInventory: { '@odata.id': URI.inventory },
    Actions: {
      '#UpdateService.SimpleUpdate': {
        target: URI.simpleUpdate, 'TransferProtocol@Redfish.AllowableValues': ['HTTP', 'HTTPS'],
        'Targets@Redfish.AllowableValues': [inventoryUri(SYSTEM_FIRMWARE)], '@Redfish.OperationApplyTimeSupport': applyTimeSupport,
      },
      '#UpdateService.StartUpdate': { target: URI.startUpdate },
    },
  };
}

interface Item {
  id: string;
  name: string;
  slot: SlotStatus | null;
  version: string | null;
  extra: Record<string, unknown>;
}

function items(v: BmcView): Item[] {
  const s = v.status;
  const fw = s.firmware;
  const out: Item[] = [];
  const lsv = fw ? fw.slots[fw.activeSlot] : null;
  out.push({
    id: SYSTEM_FIRMWARE, name: 'System firmware', slot: lsv, version: fw?.version ?? null,
    extra: {
      Updateable: true, Active: true, Staged: false, ResetRequiredOnUpdate: false, SoftwareId: s.machine.imageTypeId || s.machine.platform,
      ...(fw && v.lowestSupported !== null ? { LowestSupportedVersion: displayLike(v.lowestSupported, fw.version ?? '') } : {}),
      ...(s.lastAttempt ? { Oem: { Fwup: { '@odata.type': '#FwupSoftwareInventory.v1_0_0.SoftwareInventory', LastAttempt: s.lastAttempt, SecurityVersion: s.securityVersion, Trial: fw?.trial ?? false } } } : {}),
    },
  });
  for (const slot of ['A', 'B'] as const) {
    const st = fw?.slots[slot] ?? null;
    out.push({ id: `Slot${slot}`, name: `Firmware slot ${slot}`, slot: st, version: st?.version ?? null, extra: { Updateable: false, Active: fw?.activeSlot === slot, Staged: false, ResetRequiredOnUpdate: false } });
  }
  if (fw) out.push({ id: 'Recovery', name: 'Recovery firmware', slot: fw.recovery, version: fw.recovery.version, extra: { Updateable: false, WriteProtected: true, Active: false, Staged: false } });
  if (s.staged) {
    out.push({ id: 'Staged', name: 'Staged update', slot: null, version: s.staged.version, extra: { Updateable: false, Active: false, Staged: true, ResetRequiredOnUpdate: false, SoftwareId: s.machine.imageTypeId || s.machine.platform } });
  }
  return out;
}

export function inventory(v: BmcView): object {
  return collection(URI.inventory, 'SoftwareInventory', 'Firmware inventory', items(v).map((i) => inventoryUri(i.id)));
}

export function inventoryItem(v: BmcView, id: string): object | null {
  const i = items(v).find((x) => x.id === id);
  if (!i) return null;
  const health = !i.slot || i.slot.state === 'verified' ? 'OK' : i.slot.state === 'damaged' ? 'Critical' : 'Warning';
  return {
    '@odata.id': inventoryUri(i.id), '@odata.type': '#SoftwareInventory.v1_10_0.SoftwareInventory', Id: i.id, Name: i.name, Manufacturer: 'fwup',
    Version: i.version, Status: { State: i.version === null ? 'Absent' : 'Enabled', Health: health },
    RelatedItem: [{ '@odata.id': URI.system }], ...i.extra,
  };
}

export function systems(): object {
  return collection(URI.systems, 'ComputerSystem', 'Computer systems', [URI.system]);
}

export function managers(): object {
  return collection(URI.managers, 'Manager', 'Managers', [URI.manager]);
}

export function sessionService(v: BmcView): object {
  return {
    '@odata.id': URI.sessionService, '@odata.type': '#SessionService.v1_1_9.SessionService', Id: 'SessionService', Name: 'Session Service',
    ServiceEnabled: true, SessionTimeout: v.sessionTimeoutS, Status: { State: 'Enabled', Health: 'OK' }, Sessions: { '@odata.id': URI.sessions },
  };
}

export function sessions(list: BmcSession[]): object {
  return collection(URI.sessions, 'Session', 'Sessions', list.map((s) => `${URI.sessions}/${s.id}`));
}

export function session(s: BmcSession): object {
  return { '@odata.id': `${URI.sessions}/${s.id}`, '@odata.type': '#Session.v1_7_0.Session', Id: s.id, Name: 'User session', UserName: s.user, CreatedTime: new Date(s.created).toISOString() };
}

export function accountService(): object {
  return {
    '@odata.id': URI.accountService, '@odata.type': '#AccountService.v1_15_0.AccountService', Id: 'AccountService', Name: 'Account Service',
    ServiceEnabled: true, MinPasswordLength: 12, LocalAccountAuth: 'Enabled', Status: { State: 'Enabled', Health: 'OK' }, Accounts: { '@odata.id': URI.accounts },
  };
}

export function accounts(): object {
  return collection(URI.accounts, 'ManagerAccount', 'Accounts', [URI.account]);
}

export function account(v: BmcView): object {
  return { '@odata.id': URI.account, '@odata.type': '#ManagerAccount.v1_12_0.ManagerAccount', Id: '1', Name: 'BMC account', UserName: v.user, RoleId: 'Administrator', Enabled: true, Locked: false, AccountTypes: ['Redfish'] };
}

export function taskService(): object {
  return {
    '@odata.id': URI.taskService, '@odata.type': '#TaskService.v1_2_1.TaskService', Id: 'TaskService', Name: 'Task Service',
    ServiceEnabled: true, CompletedTaskOverWritePolicy: 'Oldest', LifeCycleEventOnTaskStateChange: false, Status: { State: 'Enabled', Health: 'OK' }, Tasks: { '@odata.id': URI.tasks },
  };
}

export function tasks(ids: string[]): object {
  return collection(URI.tasks, 'Task', 'Tasks', ids.map(taskUri));
}
