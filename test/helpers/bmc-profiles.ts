import type { Json, Profile, TaskStep } from './fake-bmc.js';

// Response shapes of real BMC families, written from the DMTF schemas (DSP0266, DSP8010) and the vendors'
// public documentation, code and issue threads named beside each quirk. Only what fwup's client reads is
// modelled; the JSON is written here, not copied. The image is fixtures/images/fw-2.0.0-signed.fwup.

const id = (p: string) => ({ '@odata.id': p });
const coll = (self: string, members: string[]): Json => ({ '@odata.id': self, Name: 'Collection', Members: members.map(id), 'Members@odata.count': members.length });
const msg = (MessageId: string, Message: string, MessageArgs: string[] = [], Severity = 'OK'): Json => ({ MessageId, Message, MessageArgs, MessageSeverity: Severity, Severity });
const root = (extra: Json): Json => ({ '@odata.type': '#ServiceRoot.v1_15_0.ServiceRoot', '@odata.id': '/redfish/v1', Id: 'RootService', RedfishVersion: '1.17.0', UUID: '92384634-2938-2342-8820-489239905423', ...extra });
const sw = (self: string, name: string, version: string, extra: Json = {}): Json => ({
  '@odata.type': '#SoftwareInventory.v1_10_0.SoftwareInventory', '@odata.id': self, Id: self.replace(/\/$/, '').split('/').pop(), Name: name, Version: version,
  Updateable: true, Status: { State: 'Enabled', Health: 'OK' }, ...extra,
});
const system = (self: string, resetTarget: string, allowable: string[] | null, extra: Json = {}): Json => ({
  '@odata.type': '#ComputerSystem.v1_20_0.ComputerSystem', '@odata.id': self, Id: self.replace(/\/$/, '').split('/').pop(), PowerState: 'On',
  Actions: { '#ComputerSystem.Reset': { target: resetTarget, ...(allowable ? { 'ResetType@Redfish.AllowableValues': allowable } : {}) } }, ...extra,
});
const successful = (target: string) => msg('Update.1.0.UpdateSuccessful', `Device '${target}' successfully updated with image 'fw-2.0.0-signed.fwup'.`, [target, 'fw-2.0.0-signed.fwup']);
const SESSIONS = '/redfish/v1/SessionService/Sessions';

/**
 * OpenBMC bmcweb (redfish-core/lib/update_service.hpp, task.hpp): MultipartHttpPushUri update-multipart
 * with "Immediate" its only apply time; the upload answers 202, a brief Task body (@odata.id
 * …/Tasks/0) and Location …/Tasks/0/Monitor; the monitor answers 202 while running, 204 once when done,
 * then 404; TaskEvent messages; the host firmware item relates to …/Systems/system/Bios; the Reset
 * action names its values through an ActionInfo and answers 200 + Base Success. The host runs the new
 * BIOS only after a host reset (ResetRequiredOnUpdate, SoftwareInventory v1_x).
 */
export function bmcweb(sha: string): Profile {
  const sys = '/redfish/v1/Systems/system';
  const bios = '/redfish/v1/UpdateService/FirmwareInventory/bios_active';
  const bmc = '/redfish/v1/UpdateService/FirmwareInventory/bmc_active';
  const ev = (k: string, text: string) => msg(`TaskEvent.1.0.3.${k}`, text, ['0']);
  const started = ev('TaskStarted', "The task with Id '0' has started.");
  const at = (n: number) => msg('TaskEvent.1.0.3.TaskProgressChanged', `The task with Id '0' has changed to progress ${n} percent complete.`, ['0', String(n)]);
  return {
    name: 'OpenBMC bmcweb', user: 'root', password: '0penBmc-vendors', sessions: SESSIONS,
    resources: {
      '/redfish/v1': root({ Links: { Sessions: id(SESSIONS) }, SessionService: id('/redfish/v1/SessionService'), UpdateService: id('/redfish/v1/UpdateService'), Systems: id('/redfish/v1/Systems'), Tasks: id('/redfish/v1/TaskService') }),
      '/redfish/v1/UpdateService': {
        '@odata.type': '#UpdateService.v1_11_1.UpdateService', '@odata.id': '/redfish/v1/UpdateService', Id: 'UpdateService', ServiceEnabled: true,
        HttpPushUri: '/redfish/v1/UpdateService/update', MultipartHttpPushUri: '/redfish/v1/UpdateService/update-multipart',
        'MultipartHttpPushUri@Redfish.OperationApplyTimeSupport': { '@odata.type': '#Settings.v1_3_3.OperationApplyTimeSupport', SupportedValues: ['Immediate'] },
        FirmwareInventory: id('/redfish/v1/UpdateService/FirmwareInventory'),
      },
      '/redfish/v1/UpdateService/FirmwareInventory': coll('/redfish/v1/UpdateService/FirmwareInventory', [bmc, bios]),
      [bmc]: sw(bmc, 'Software Inventory', '2.14.0-dev', { Description: 'BMC image', RelatedItem: [id('/redfish/v1/Managers/bmc')] }),
      [bios]: sw(bios, 'Software Inventory', '1.0.0', { Description: 'Host image', RelatedItem: [id(`${sys}/Bios`)], ResetRequiredOnUpdate: true }),
      '/redfish/v1/Systems': coll('/redfish/v1/Systems', [sys]),
      [sys]: system(sys, `${sys}/Actions/ComputerSystem.Reset`, null, { Bios: id(`${sys}/Bios`) }),
    },
    upload: { path: '/redfish/v1/UpdateService/update-multipart', kind: 'multipart', parts: ['UpdateParameters', 'UpdateFile'], answer: 'task+monitor' },
    task: { uri: '/redfish/v1/TaskService/Tasks/0', monitor: '/redfish/v1/TaskService/Tasks/0/Monitor', style: 'bmcweb' },
    steps: [
      { state: 'Running', messages: [started] },
      { state: 'Running', percent: 20, messages: [started, at(20)] },
      { state: 'Running', percent: 100, messages: [started, at(20), at(100)] },
      { state: 'Completed', percent: 100, messages: [started, at(20), at(100), ev('TaskCompletedOK', "The task with Id '0' has Completed.")] },
    ],
    component: bios, newVersion: '2.0.0', installOn: 'reset', system: sys, resetPath: `${sys}/Actions/ComputerSystem.Reset`,
    resetTypes: ['On', 'ForceOff', 'ForceOn', 'ForceRestart', 'GracefulRestart', 'GracefulShutdown', 'PowerCycle', 'Nmi'],
    resetStatus: 200, resetBody: { '@Message.ExtendedInfo': [msg('Base.1.13.0.Success', 'The request completed successfully.')] }, imageSha256: sha,
  };
}

/**
 * Dell iDRAC9 (Dell's iDRAC-Redfish-Scripting DeviceFirmwareMultipartUploadREDFISH.py and issues #32,
 * #160, #266, #275): MultipartHttpPushUri /redfish/v1/UpdateService/MultipartUpload with the apply time
 * in UpdateParameters (SimpleUpdate declares Immediate and OnReset); the upload answers 202 with no body
 * and Location = the Task itself (/redfish/v1/TaskService/Tasks/JID_…); the Task answers 202 while the
 * job runs and 200 when done, and is deleted moments after; a device that needs a reboot ends
 * Completed with "Job completed, server reboot pending" and a Base ResetRequired naming PowerCycle.
 * Inventory Ids carry the version (Installed-159-1.0.0 becomes Installed-159-2.0.0, the old one
 * Previous-159-1.0.0), with SoftwareId the component id. Message ids of the IDRAC registry are
 * illustrative; their texts are the ones Dell's scripts match.
 */
export function idrac(sha: string): Profile {
  const sys = '/redfish/v1/Systems/System.Embedded.1';
  const inv = '/redfish/v1/UpdateService/FirmwareInventory';
  const oldBios = `${inv}/Installed-159-1.0.0`;
  const newBios = `${inv}/Installed-159-2.0.0`;
  const prev = `${inv}/Previous-159-1.0.0`;
  const drac = `${inv}/Installed-25227-7.00.00.00__iDRAC.Embedded.1-1`;
  const cpld = `${inv}/Installed-27763-1.0.1__CPLD.Embedded.1`;
  const reset = `${sys}/Actions/ComputerSystem.Reset`;
  const oem = (JobState: string, Message: string) => ({ Dell: { '@odata.type': '#DellJob.v1_5_0.DellJob', JobState, JobType: 'FirmwareUpdate', Message } });
  const job = (state: string, percent: number, text: string, jobState: string, extra: Json[] = []): TaskStep & { oem: Json } => ({
    state, percent, messages: [msg('IDRAC.2.9.RED002', text, [], 'Informational'), ...extra], oem: oem(jobState, text),
  });
  const others = [drac, cpld];
  return {
    name: 'Dell iDRAC9', user: 'root', password: 'calvin-vendors', sessions: SESSIONS,
    resources: {
      '/redfish/v1': root({ Vendor: 'Dell', Product: 'Integrated Dell Remote Access Controller', Links: { Sessions: id(SESSIONS) }, UpdateService: id('/redfish/v1/UpdateService'), Systems: id('/redfish/v1/Systems'), Tasks: id('/redfish/v1/TaskService') }),
      '/redfish/v1/UpdateService': {
        '@odata.type': '#UpdateService.v1_11_0.UpdateService', '@odata.id': '/redfish/v1/UpdateService', Id: 'UpdateService', ServiceEnabled: true,
        HttpPushUri: inv, MultipartHttpPushUri: '/redfish/v1/UpdateService/MultipartUpload', FirmwareInventory: id(inv),
        Actions: {
          '#UpdateService.SimpleUpdate': {
            target: '/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate', 'TransferProtocol@Redfish.AllowableValues': ['HTTP', 'NFS', 'CIFS', 'TFTP', 'HTTPS'],
            '@Redfish.OperationApplyTimeSupport': { '@odata.type': '#Settings.v1_3_5.OperationApplyTimeSupport', SupportedValues: ['Immediate', 'OnReset'] },
          },
        },
      },
      [inv]: coll(inv, [oldBios, ...others]),
      [oldBios]: sw(oldBios, 'BIOS', '1.0.0', { SoftwareId: '159' }),
      [drac]: sw(drac, 'Integrated Dell Remote Access Controller', '7.00.00.00', { SoftwareId: '25227' }),
      [cpld]: sw(cpld, 'System CPLD', '1.0.1', { SoftwareId: '27763' }),
      '/redfish/v1/Systems': coll('/redfish/v1/Systems', [sys]),
      [sys]: system(sys, reset, ['On', 'ForceOff', 'ForceRestart', 'GracefulRestart', 'GracefulShutdown', 'PushPowerButton', 'Nmi', 'PowerCycle']),
    },
    upload: { path: '/redfish/v1/UpdateService/MultipartUpload', kind: 'multipart', parts: ['UpdateParameters', 'UpdateFile'], answer: 'task-in-location' },
    task: { uri: '/redfish/v1/TaskService/Tasks/JID_774205342218', monitor: null, style: 'idrac', goneAfterDone: true },
    steps: [
      job('Running', 0, 'Downloading the fw-2.0.0-signed.fwup update package.', 'Downloading'),
      job('Running', 34, 'Package successfully downloaded.', 'Downloaded'),
      job('Completed', 100, 'Job completed, server reboot pending', 'Completed', [
        msg('Base.1.12.ResetRequired', `In order to apply changes, recover from errors, or complete the operation, a component reset is required with the Reset action URI '${reset}' and ResetType 'PowerCycle'.`, [reset, 'PowerCycle'], 'Warning'),
      ]),
    ],
    component: oldBios, newVersion: '2.0.0', installOn: 'reset', system: sys, resetPath: reset,
    resetTypes: ['On', 'ForceOff', 'ForceRestart', 'GracefulRestart', 'GracefulShutdown', 'PushPowerButton', 'Nmi', 'PowerCycle'], resetStatus: 204, offReads: 3,
    onInstall: {
      [inv]: coll(inv, [newBios, prev, ...others]), [oldBios]: null,
      [newBios]: sw(newBios, 'BIOS', '2.0.0', { SoftwareId: '159' }), [prev]: sw(prev, 'BIOS', '1.0.0', { SoftwareId: '159', Updateable: false }),
    },
    imageSha256: sha,
  };
}

/**
 * HPE iLO 5/6 (HPE's iLO UpdateService documentation and "HPE firmware updates part 3"; python-ilorest-
 * library issue #57): no MultipartHttpPushUri and no Redfish HttpPushUri, only SimpleUpdate; every
 * @odata.id ends with "/"; a login's Location is an absolute URL; SimpleUpdate answers 200 at once with
 * Base Success wrapped in an "error" object (iLO's ExtendedInfo style) and downloads ImageURI
 * afterwards ("the success response only says iLO received the call"); there is no task. Inventory
 * names: "System ROM" beside "System Programmable Logic Device", versions in iLO's text form.
 */
export function ilo(sha: string): Profile {
  const sys = '/redfish/v1/Systems/1/';
  const inv = '/redfish/v1/UpdateService/FirmwareInventory/';
  const item = (n: number) => `${inv}${n}/`;
  const ok: Json = { error: { code: 'iLO.0.10.ExtendedInfo', message: 'See @Message.ExtendedInfo for more information.', '@Message.ExtendedInfo': [{ MessageId: 'Base.1.18.Success' }] } };
  const t = (p: string) => p.replace(/\/$/, '');
  return {
    name: 'HPE iLO 6', user: 'Administrator', password: 'ilo-vendors', sessions: '/redfish/v1/SessionService/Sessions/', absoluteSessionLocation: true,
    resources: {
      '/redfish/v1': root({ '@odata.id': '/redfish/v1/', Vendor: 'HPE', Product: 'ProLiant DL380 Gen11', Links: { Sessions: id('/redfish/v1/SessionService/Sessions/') }, UpdateService: id('/redfish/v1/UpdateService/'), Systems: id('/redfish/v1/Systems/') }),
      '/redfish/v1/UpdateService': {
        '@odata.type': '#UpdateService.v1_2_1.UpdateService', '@odata.id': '/redfish/v1/UpdateService/', Id: 'UpdateService', ServiceEnabled: true, FirmwareInventory: id(inv),
        Actions: { '#UpdateService.SimpleUpdate': { target: '/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate/' } },
        Oem: { Hpe: { State: 'Idle', FlashProgressPercent: 0 } },
      },
      [t(inv)]: coll(inv, [1, 2, 3, 4].map(item)),
      [t(item(1))]: sw(item(1), 'iLO 6', '1.55 Jan 09 2024'),
      [t(item(2))]: sw(item(2), 'System ROM', 'U54 v1.0.0 (03/14/2024)'),
      [t(item(3))]: sw(item(3), 'System Programmable Logic Device', '0x0D'),
      [t(item(4))]: sw(item(4), 'Redundant System ROM', 'U54 v0.9.0 (01/01/2024)', { Updateable: false }),
      '/redfish/v1/Systems': coll('/redfish/v1/Systems/', [sys]),
      [t(sys)]: system(sys, `${sys}Actions/ComputerSystem.Reset/`, ['On', 'ForceOff', 'GracefulShutdown', 'ForceRestart', 'Nmi', 'PushPowerButton', 'GracefulRestart']),
    },
    upload: { path: '/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate/', kind: 'simple-update', answer: 'sync-200', syncBody: ok },
    steps: [],
    component: item(2), newVersion: 'U54 v2.0.0 (12/01/2026)', installOn: 'fetch', system: sys, resetPath: `${sys}Actions/ComputerSystem.Reset/`,
    resetTypes: ['On', 'ForceOff', 'GracefulShutdown', 'ForceRestart', 'Nmi', 'PushPowerButton', 'GracefulRestart'], resetStatus: 200, resetBody: ok, imageSha256: sha,
  };
}

/** A small DMTF-mockup service (DSP2043 public-rackmount1 names): the base of the ones below. */
function dmtf(sha: string, o: { sessions: boolean; upload: Profile['upload']; task?: Profile['task']; steps: TaskStep[]; resetSteps?: TaskStep[]; installOn: Profile['installOn']; applyTimes?: string[] }): Profile {
  const sys = '/redfish/v1/Systems/437XR1138R2';
  const bios = '/redfish/v1/UpdateService/FirmwareInventory/BIOS';
  const bmcFw = '/redfish/v1/UpdateService/FirmwareInventory/BMC';
  const us: Json = {
    '@odata.type': '#UpdateService.v1_11_0.UpdateService', '@odata.id': '/redfish/v1/UpdateService', Id: 'UpdateService', ServiceEnabled: true, FirmwareInventory: id('/redfish/v1/UpdateService/FirmwareInventory'),
    ...(o.upload.kind === 'multipart' ? { MultipartHttpPushUri: o.upload.path } : { HttpPushUri: o.upload.path }),
    ...(o.applyTimes ? { 'MultipartHttpPushUri@Redfish.OperationApplyTimeSupport': { SupportedValues: o.applyTimes } } : {}),
  };
  return {
    name: 'DMTF mockup', user: 'Administrator', password: 'Passw0rd-vendors', sessions: o.sessions ? SESSIONS : null,
    resources: {
      '/redfish/v1': root({ ...(o.sessions ? { Links: { Sessions: id(SESSIONS) }, SessionService: id('/redfish/v1/SessionService') } : {}), UpdateService: id('/redfish/v1/UpdateService'), Systems: id('/redfish/v1/Systems') }),
      '/redfish/v1/UpdateService': us,
      '/redfish/v1/UpdateService/FirmwareInventory': coll('/redfish/v1/UpdateService/FirmwareInventory', [bmcFw, bios]),
      [bmcFw]: sw(bmcFw, 'Contoso BMC Firmware', '1.45.455b66-rev4', { RelatedItem: [id('/redfish/v1/Managers/BMC')] }),
      [bios]: sw(bios, 'Contoso BIOS Firmware', '1.0.0', { RelatedItem: [id(`${sys}/Bios`)] }),
      '/redfish/v1/Systems': coll('/redfish/v1/Systems', [sys]),
      [sys]: system(sys, `${sys}/Actions/ComputerSystem.Reset`, ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn', 'PushPowerButton']),
    },
    upload: o.upload, ...(o.task ? { task: o.task } : {}), steps: o.steps, ...(o.resetSteps ? { resetSteps: o.resetSteps } : {}),
    component: bios, newVersion: '2.0.0', installOn: o.installOn, system: sys, resetPath: `${sys}/Actions/ComputerSystem.Reset`,
    resetTypes: ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn', 'PushPowerButton'], resetStatus: 204, imageSha256: sha,
  };
}

export const DMTF_BIOS = '/redfish/v1/UpdateService/FirmwareInventory/BIOS';
export const DMTF_RESET = '/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset';
const DMTF_TASK = { uri: '/redfish/v1/TaskService/Tasks/5', monitor: '/redfish/v1/TaskService/TaskMonitors/5', style: 'dmtf' as const };

/**
 * No session service (DSP0266 makes it optional; the root has no Links.Sessions): a POST to the usual
 * Sessions URI is 404 and every request carries HTTP Basic. The upload answers the DSP0266 minimum:
 * 202 with only a Location to a task monitor, which answers 202 without a body while the update runs
 * and then the operation's own final response (200, @Message.ExtendedInfo), not a Task.
 */
export function noSessions(sha: string): Profile {
  const p = dmtf(sha, {
    sessions: false, installOn: 'task-done', upload: { path: '/redfish/v1/UpdateService/upload', kind: 'multipart', parts: ['UpdateParameters', 'UpdateFile'], answer: 'monitor' },
    task: { uri: '/redfish/v1/TaskService/Tasks/9', monitor: '/redfish/v1/TaskMonitors/9a7c', style: 'bare' },
    steps: [{ state: 'Running' }, { state: 'Running' }, { state: 'Running' }, { state: 'Completed' }],
  });
  p.name = 'no session service';
  p.upload.syncBody = { '@Message.ExtendedInfo': [successful(DMTF_BIOS)] };
  return p;
}

/** A BMC that installs an HTTP push before it answers: 200 with @Message.ExtendedInfo, or 204, and no task (DSP0266 allows both). */
export function synchronous(sha: string, status: 200 | 204): Profile {
  const p = dmtf(sha, { sessions: true, installOn: 'upload', upload: { path: '/redfish/v1/UpdateService/update', kind: 'raw', answer: status === 200 ? 'sync-200' : 'sync-204' }, steps: [] });
  p.name = `synchronous (${status})`;
  if (status === 200) p.upload.syncBody = { '@Message.ExtendedInfo': [msg('Base.1.8.Success', 'The request completed successfully.'), successful(DMTF_BIOS)] };
  return p;
}

/** The DMTF async pattern (202 + Task body + Location monitor; the monitor answers 202 + Task, then 200 + Task), steps scripted by the test. */
export function scripted(sha: string, o: { steps: TaskStep[]; resetSteps?: TaskStep[]; answer?: Profile['upload']['answer']; applyTimes?: string[]; installOn?: Profile['installOn'] }): Profile {
  return dmtf(sha, {
    sessions: true, installOn: o.installOn ?? 'task-done', applyTimes: o.applyTimes, task: DMTF_TASK, steps: o.steps, ...(o.resetSteps ? { resetSteps: o.resetSteps } : {}),
    upload: { path: '/redfish/v1/UpdateService/upload', kind: 'multipart', parts: ['UpdateParameters', 'UpdateFile'], answer: o.answer ?? 'task+monitor' },
  });
}

export const updateMsg = (key: string, text: string, severity = 'OK') => msg(`Update.1.0.${key}`, text, ['fw-2.0.0-signed.fwup', DMTF_BIOS], severity);
export const resetRequired = () => msg('Base.1.12.ResetRequired', `In order to apply changes, recover from errors, or complete the operation, a component reset is required with the Reset action URI '${DMTF_RESET}' and ResetType 'ForceRestart'.`, [DMTF_RESET, 'ForceRestart'], 'Warning');
