import { FwupError } from '../../errors/fwup-error.js';

export interface RedfishSpec {
  /** scheme://host:port of the BMC. */
  origin: string;
  /** The system the target acts on (/redfish/v1/Systems/ID), or null: the service's only (first) system. */
  systemPath: string | null;
}

const HINT = 'write redfish:https://BMC[:PORT][/redfish/v1/Systems/ID], e.g. redfish:https://10.0.0.5 or redfish:https://bmc.example.com:8443/redfish/v1/Systems/1';

/** `redfish:https://HOST[:PORT][/redfish/v1/Systems/ID]` (everything after "redfish:"). */
export function parseRedfishSpec(text: string): RedfishSpec {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new FwupError('TARGET_INVALID', `redfish target ${JSON.stringify(text)} is not a URL`, { hint: HINT });
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new FwupError('TARGET_INVALID', `redfish target ${JSON.stringify(text)}: the scheme must be https (or http with --allow-http)`, { hint: HINT });
  if (u.username || u.password) {
    throw new FwupError('TARGET_INVALID', 'a redfish target must not carry credentials in its URL (they would show in process lists and logs)', {
      hint: 'set FWUP_REDFISH_USER and FWUP_REDFISH_PASSWORD, or give --credentials FILE (mode 0600)',
    });
  }
  if (u.search || u.hash) throw new FwupError('TARGET_INVALID', `redfish target ${JSON.stringify(text)} has a query or fragment`, { hint: HINT });
  const path = u.pathname.replace(/\/+$/, '');
  let systemPath: string | null = null;
  if (path !== '' && path !== '/redfish/v1') {
    if (!/^\/redfish\/v1\/Systems\/[^/]+$/.test(path)) throw new FwupError('TARGET_INVALID', `redfish target path ${JSON.stringify(u.pathname)} is not /redfish/v1/Systems/ID`, { hint: HINT });
    systemPath = path;
  }
  return { origin: u.origin, systemPath };
}

export function redfishSpecText(s: RedfishSpec): string {
  return `redfish:${s.origin}${s.systemPath ?? ''}`;
}
