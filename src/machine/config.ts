import { FwupError } from '../errors/fwup-error.js';
import type { FlashGeometry } from '../storage/flash.js';
import { parsePublicKey, type PublicKey } from '../image/keys.js';
import type { TrustedCertificateInput } from '../image/capsule-verify.js';
import { pemBlocks } from '../util/pem.js';

/** machine.json: everything about an emulated machine that is not in its flash. */
export interface MachineConfig {
  format: 'fwup-machine';
  version: 1;
  platform: string;
  cpus: number;
  ramBytes: number;
  flash: FlashGeometry;
  /** No trusted keys, or explicitly a development machine: unsigned images allowed with --allow-unsigned. */
  development: boolean;
  trustedKeys: Array<{ name: string; keyId: string; pem: string }>;
  /** X.509 certificates (PEM) UEFI capsules must chain to; absent in machines made before capsules. */
  trustedCerts?: Array<{ name: string; pem: string }>;
  /** The FMP image type GUID of this machine's firmware: a capsule's payload must name it. */
  imageTypeId?: string;
  createdAt: string;
}

export const MACHINE_FILE = 'machine.json';
export const FLASH_FILE = 'flash.img';
export const MAX_CPUS = 64;
export const DEFAULT_CPUS = 4;
export const DEFAULT_FLASH_BYTES = 64 * 1024 * 1024;
export const DEFAULT_RAM_BYTES = 16 * 1024 * 1024;
export const DEFAULT_PLATFORM = 'fwup-emu';
/** The image type GUID of the emulated firmware, unless `machine init --image-type-guid` names another. */
export const DEFAULT_IMAGE_TYPE_ID = '7F3B0B7E-5A59-4B5E-9C61-5E1A2F0F7775';

export function parseMachineConfig(text: string, where: string): MachineConfig {
  const bad = (why: string) =>
    new FwupError('TARGET_CORRUPT', `${where}: ${why}`, { hint: 're-create the machine with `fwup machine init --force`' });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad('not valid JSON');
  }
  const c = raw as Partial<MachineConfig>;
  if (!c || typeof c !== 'object' || c.format !== 'fwup-machine' || c.version !== 1) throw bad('not an fwup machine description (format/version)');
  if (typeof c.platform !== 'string' || !c.platform) throw bad('platform missing');
  if (!Number.isInteger(c.cpus) || c.cpus! < 1 || c.cpus! > MAX_CPUS) throw bad(`cpus must be 1..${MAX_CPUS}`);
  if (!Number.isInteger(c.ramBytes) || c.ramBytes! < 1 << 20) throw bad('ramBytes must be at least 1 MiB');
  const f = c.flash;
  if (!f || !Number.isInteger(f.size) || !Number.isInteger(f.blockSize) || !Number.isInteger(f.programAlign)) throw bad('flash geometry missing');
  if (typeof c.development !== 'boolean') throw bad('development must be true or false');
  if (!Array.isArray(c.trustedKeys)) throw bad('trustedKeys must be a list');
  if (c.trustedCerts !== undefined && !Array.isArray(c.trustedCerts)) throw bad('trustedCerts must be a list');
  if (c.imageTypeId !== undefined && !/^[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}$/i.test(c.imageTypeId)) throw bad('imageTypeId is not a GUID');
  for (const k of c.trustedKeys) {
    if (!k || typeof k.pem !== 'string' || typeof k.keyId !== 'string') throw bad('a trusted key entry is incomplete');
  }
  return c as MachineConfig;
}

/** What the firmware trusts: Ed25519 keys for .fwup images, certificates (DER) for capsules. */
export function firmwareTrust(c: MachineConfig): { keys: PublicKey[]; certs: TrustedCertificateInput[] } {
  return { keys: trustedKeys(c), certs: trustedCerts(c) };
}

export function trustedCerts(c: MachineConfig): TrustedCertificateInput[] {
  return (c.trustedCerts ?? []).flatMap((t) =>
    pemBlocks(t.pem)
      .filter((b) => b.label === 'CERTIFICATE')
      .map((b) => ({ name: t.name, der: b.der })),
  );
}

export function trustedKeys(c: MachineConfig): PublicKey[] {
  return c.trustedKeys.map((k) => {
    const key = parsePublicKey(k.pem, k.name);
    if (key.keyId !== k.keyId) {
      throw new FwupError('TARGET_CORRUPT', `machine.json: trusted key ${k.name} has id ${key.keyId}, recorded as ${k.keyId}`);
    }
    return key;
  });
}
