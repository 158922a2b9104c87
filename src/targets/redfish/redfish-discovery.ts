import { FwupError } from '../../errors/fwup-error.js';
import type { Json, RedfishClient } from './redfish-client.js';

export interface RedfishComponent {
  uri: string;
  id: string;
  name: string;
  version: string | null;
  lowestSupportedVersion: string | null;
  updateable: boolean;
  softwareId: string | null;
  staged: boolean | null;
  active: boolean | null;
  resetRequiredOnUpdate: boolean | null;
  relatedItems: string[];
  health: string | null;
}

export interface RedfishService {
  redfishVersion: string | null;
  vendor: string | null;
  product: string | null;
  uuid: string | null;
  update: {
    uri: string;
    enabled: boolean;
    multipartUri: string | null;
    pushUri: string | null;
    simpleUpdate: { target: string; protocols: string[] | null; applyTimes: string[] | null } | null;
    startUpdate: string | null;
    maxImageBytes: number | null;
    /** Apply times the service declares for a push (multipart) update; null when it declares none. */
    pushApplyTimes: string[] | null;
  };
  components: RedfishComponent[];
  system: { uri: string; powerState: string | null; resetTarget: string | null; resetTypes: string[] | null } | null;
}

const id = (v: unknown): string | null => (v && typeof v === 'object' && typeof (v as Json)['@odata.id'] === 'string' ? ((v as Json)['@odata.id'] as string) : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);
const strings = (v: unknown): string[] | null => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null);

function members(c: Json): string[] {
  const m = c.Members;
  if (!Array.isArray(m)) throw new FwupError('REDFISH_PROTOCOL', `${String(c['@odata.id'] ?? 'a collection')} has no Members array`);
  return m.map(id).filter((x): x is string => x !== null);
}

export function component(j: Json): RedfishComponent {
  const uri = str(j['@odata.id']) ?? '';
  return {
    uri, id: str(j.Id) ?? uri.split('/').pop() ?? '', name: str(j.Name) ?? '', version: str(j.Version), lowestSupportedVersion: str(j.LowestSupportedVersion),
    updateable: j.Updateable === true, softwareId: str(j.SoftwareId), staged: bool(j.Staged), active: bool(j.Active), resetRequiredOnUpdate: bool(j.ResetRequiredOnUpdate),
    relatedItems: Array.isArray(j.RelatedItem) ? j.RelatedItem.map(id).filter((x): x is string => x !== null) : [],
    health: str((j.Status as Json | undefined)?.Health),
  };
}

/** Everything fwup reads from a BMC before it acts: the service root, UpdateService, inventory, system. */
export async function discover(c: RedfishClient, root: Json, systemPath: string | null): Promise<RedfishService> {
  const updateUri = id(root.UpdateService);
  if (!updateUri) throw new FwupError('TARGET_UNSUPPORTED', `${c.origin} has no UpdateService: this BMC does not take firmware updates over Redfish`, { hint: 'update it with the vendor\'s tool, or check the BMC\'s Redfish licence/settings' });
  const us = await c.resource(updateUri);
  const actions = (us.Actions ?? {}) as Json;
  const simple = actions['#UpdateService.SimpleUpdate'] as Json | undefined;
  const start = actions['#UpdateService.StartUpdate'] as Json | undefined;
  const simpleApply = (simple?.['@Redfish.OperationApplyTimeSupport'] as Json | undefined)?.SupportedValues;
  const pushApply = ((us['MultipartHttpPushUri@Redfish.OperationApplyTimeSupport'] ?? us['@Redfish.OperationApplyTimeSupport']) as Json | undefined)?.SupportedValues;
  const update: RedfishService['update'] = {
    uri: updateUri,
    enabled: us.ServiceEnabled !== false,
    multipartUri: str(us.MultipartHttpPushUri),
    pushUri: str(us.HttpPushUri),
    simpleUpdate: simple && typeof simple.target === 'string' ? { target: simple.target, protocols: strings(simple['TransferProtocol@Redfish.AllowableValues']), applyTimes: strings(simpleApply) } : null,
    startUpdate: start && typeof start.target === 'string' ? start.target : null,
    maxImageBytes: typeof us.MaxImageSizeBytes === 'number' ? us.MaxImageSizeBytes : null,
    pushApplyTimes: strings(pushApply) ?? strings(simpleApply),
  };
  const components: RedfishComponent[] = [];
  const inv = id(us.FirmwareInventory);
  if (inv) {
    for (const m of members(await c.resource(inv))) components.push(component(await c.resource(m)));
  }
  let system: RedfishService['system'] = null;
  const systemsUri = id(root.Systems);
  const sysUri = systemPath ?? (systemsUri ? members(await c.resource(systemsUri))[0] ?? null : null);
  if (sysUri) {
    const s = await c.resource(sysUri);
    const reset = ((s.Actions ?? {}) as Json)['#ComputerSystem.Reset'] as Json | undefined;
    system = { uri: sysUri, powerState: str(s.PowerState), resetTarget: str(reset?.target), resetTypes: strings(reset?.['ResetType@Redfish.AllowableValues']) };
  }
  return { redfishVersion: str(root.RedfishVersion), vendor: str(root.Vendor), product: str(root.Product), uuid: str(root.UUID), update, components, system };
}

/**
 * The inventory item fwup updates: the one named (--component ID), else the system's updateable host
 * firmware (BIOS/system firmware related to the system), else the only updateable item.
 */
export function pickComponent(s: RedfishService, wanted: string | undefined): RedfishComponent {
  const list = s.components;
  if (wanted) {
    const c = list.find((x) => x.id === wanted || x.uri === wanted);
    if (!c) throw new FwupError('TARGET_NOT_FOUND', `the BMC has no firmware inventory item ${JSON.stringify(wanted)}`, { hint: `items: ${list.map((x) => x.id).join(', ') || 'none'}` });
    return c;
  }
  const up = list.filter((x) => x.updateable);
  const sys = s.system?.uri;
  // RelatedItem names the system or one of its resources (bmcweb and the DMTF mockups: …/Systems/ID/Bios).
  const host = up.filter((x) => /bios|system|host|uefi/i.test(`${x.id} ${x.name}`) && (!sys || x.relatedItems.length === 0 || x.relatedItems.some((r) => r === sys || r.startsWith(`${sys}/`))));
  // "System ROM" beside "System CPLD" (iLO, iDRAC): the one named as the boot firmware wins.
  const boot = host.filter((x) => /bios|uefi|system ?rom|(system|host) ?firmware/i.test(`${x.id} ${x.name}`));
  if (boot.length === 1) return boot[0]!;
  if (host.length === 1) return host[0]!;
  if (up.length === 1) return up[0]!;
  throw new FwupError('TARGET_INVALID', `the BMC lists ${up.length} updateable firmware items and fwup cannot tell which one is the system's firmware`, {
    hint: `name one with --component ID: ${up.map((x) => `${x.id} (${x.name}, ${x.version ?? '?'})`).join(', ') || 'none is updateable'}`,
  });
}
