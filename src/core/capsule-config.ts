import { FwupError } from '../errors/fwup-error.js';
import { isGuid } from '../util/layout.js';
import { parseU64, parseUint } from '../util/units.js';

/**
 * The payload description of a capsule to pack, one per payload: from the command line, or from a
 * JSON file in the format of edk2 GenerateCapsule's `-j` (its "Payloads" and "EmbeddedDrivers"
 * sections, same field names, numbers as strings in decimal or 0x hex). Paths in the JSON file are
 * relative to the working directory, as GenerateCapsule resolves them, so one file serves both tools.
 */
export interface CapsulePayloadRequest {
  payload: string;
  guid: string;
  fwVersion: number;
  lowestSupportedVersion: number;
  updateImageIndex: number;
  hardwareInstance: bigint;
  monotonicCount: bigint;
  /** Certificate of the signer, PEM; may also hold its private key (edk2 TestCert.pem does). */
  signerCert?: string;
  signerKey?: string;
  otherCerts: string[];
  /** When given, the signature just made must verify against this certificate (as GenerateCapsule checks). */
  trustedCert?: string;
}

export interface CapsuleConfig {
  payloads: CapsulePayloadRequest[];
  embeddedDrivers: string[];
}

/** Fields GenerateCapsule knows that fwup does not implement: refused, never silently ignored. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  SignToolPfxFile: 'Windows signtool signing is not supported; sign with OpenSslSignerPrivateCertFile',
  SigningToolPath: 'fwup signs without external tools; remove SigningToolPath',
  Dependencies: 'building dependency expressions is not supported by fwup pack yet (inspect reads them)',
};
const KNOWN = new Set([
  'Payload', 'Guid', 'FwVersion', 'LowestSupportedVersion', 'HardwareInstance', 'UpdateImageIndex', 'MonotonicCount',
  'OpenSslSignerPrivateCertFile', 'OpenSslOtherPublicCertFile', 'OpenSslTrustedPublicCertFile',
]);

export function parseCapsuleConfig(text: string, name: string): CapsuleConfig {
  const bad = (why: string) => new FwupError('USAGE', `${name}: ${why}`, { hint: 'see docs/capsule-format.md, "Packing several payloads"' });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`);
  }
  if (!isObject(json) || !Array.isArray(json.Payloads) || json.Payloads.length === 0) throw bad('needs a non-empty "Payloads" array');
  const drivers = json.EmbeddedDrivers ?? [];
  if (!Array.isArray(drivers)) throw bad('"EmbeddedDrivers" must be an array');
  const embeddedDrivers = drivers.map((d, i) => {
    if (!isObject(d) || typeof d.Driver !== 'string') throw bad(`EmbeddedDrivers[${i}] needs a "Driver" path`);
    return d.Driver;
  });
  const payloads = json.Payloads.map((p, i): CapsulePayloadRequest => {
    const where = `Payloads[${i}]`;
    if (!isObject(p)) throw bad(`${where} is not an object`);
    for (const key of Object.keys(p)) {
      if (UNSUPPORTED[key]) throw bad(`${where}.${key}: ${UNSUPPORTED[key]}`);
      if (!KNOWN.has(key)) throw bad(`${where}.${key} is not a GenerateCapsule payload field`);
    }
    const str = (key: string, required: boolean): string | undefined => {
      const v = p[key];
      if (v === undefined) {
        if (required) throw bad(`${where} needs "${key}"`);
        return undefined;
      }
      if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
      if (typeof v !== 'string') throw bad(`${where}.${key} must be a string`);
      return v;
    };
    const guid = str('Guid', true)!;
    if (!isGuid(guid)) throw bad(`${where}.Guid ${JSON.stringify(guid)} is not a GUID`);
    const other = str('OpenSslOtherPublicCertFile', false);
    const signerCert = str('OpenSslSignerPrivateCertFile', false);
    const trustedCert = str('OpenSslTrustedPublicCertFile', false);
    return {
      payload: str('Payload', true)!,
      guid,
      fwVersion: parseUint(str('FwVersion', true)!, `${where}.FwVersion`),
      lowestSupportedVersion: parseUint(str('LowestSupportedVersion', true)!, `${where}.LowestSupportedVersion`),
      updateImageIndex: parseUint(str('UpdateImageIndex', false) ?? '1', `${where}.UpdateImageIndex`, 8),
      hardwareInstance: parseU64(str('HardwareInstance', false) ?? '0', `${where}.HardwareInstance`),
      monotonicCount: parseU64(str('MonotonicCount', false) ?? '0', `${where}.MonotonicCount`),
      otherCerts: other ? [other] : [],
      ...(signerCert ? { signerCert } : {}),
      ...(trustedCert ? { trustedCert } : {}),
    };
  });
  return { payloads, embeddedDrivers };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
