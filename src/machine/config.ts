import { createPublicKey } from 'node:crypto';
import { FwupError } from '../errors/fwup-error.js';
import type { FlashGeometry } from '../storage/flash.js';
import { parseFlashTiming, type FlashTimingSpec } from '../storage/flash-timing.js';
import { MAX_FLASH_BYTES, MIN_FLASH_BYTES } from '../storage/flash-map.js';
import { keyIdOf, type PublicKey } from '../image/keys.js';
import type { TrustedCertificateInput } from '../image/capsule-verify.js';
import { INSTALL_STRATEGIES, type HardwareDescription, type InstallStrategy, type TrustAnchors } from '../storage/key-store.js';

/**
 * machine.json: the hardware of an emulated machine (CPUs, RAM, flash geometry), nothing else. Trust
 * lives in the flash's key store; a hand edit here grants nothing (fields the firmware does not read are
 * ignored and reported), and what this file says is checked against what the machine was made with.
 */
export interface MachineConfig extends HardwareDescription {
  format: 'fwup-machine';
  /** The install strategy the machine was provisioned with (the key store's copy is the one the firmware obeys). */
  install: InstallStrategy;
  version: 2;
  createdAt: string;
  /**
   * The chip's datasheet timing, when the machine models one (`machine init --flash-timing`): a
   * simulation setting for downtime reports, not part of the provisioned hardware the key store checks.
   */
  flashTiming?: FlashTimingSpec;
  /** Fields this file holds that fwup does not read (e.g. a hand-added "development"). */
  ignored: string[];
}

export const MACHINE_FILE = 'machine.json';
export const FLASH_FILE = 'flash.img';
export const MAX_CPUS = 64;
export const DEFAULT_CPUS = 4;
export const DEFAULT_FLASH_BYTES = 128 * 1024 * 1024;
export const DEFAULT_RAM_BYTES = 16 * 1024 * 1024;
export const MIN_RAM_BYTES = 4 * 1024 * 1024;
export const MAX_RAM_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_PLATFORM = 'fwup-emu';
/** `machine init` without --install: see docs/emulated-platform.md ("Install strategies") for why. */
export const DEFAULT_INSTALL: InstallStrategy = 'in-place';
/** The image type GUID of the emulated firmware, unless `machine init --image-type-guid` names another. */
export const DEFAULT_IMAGE_TYPE_ID = '7F3B0B7E-5A59-4B5E-9C61-5E1A2F0F7775';

const KNOWN_FIELDS = ['format', 'version', 'cpus', 'ramBytes', 'flash', 'install', 'createdAt', 'flashTiming'];

export function serializeMachineConfig(c: MachineConfig): string {
  const { ignored: _ignored, ...fields } = c;
  return `${JSON.stringify(fields, null, 2)}\n`;
}

/** Parse and bound every value: a damaged or hand-made machine.json is the target's fault (exit 10). */
export function parseMachineConfig(text: string, where: string): MachineConfig {
  const bad = (why: string) =>
    new FwupError('TARGET_CORRUPT', `${where}: ${why}`, { hint: 're-create the machine with `fwup machine init --force` (its flash is lost)' });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad('not valid JSON');
  }
  const c = raw as Record<string, unknown> & Partial<MachineConfig>;
  if (!c || typeof c !== 'object' || Array.isArray(c) || c.format !== 'fwup-machine') throw bad('not an fwup machine description');
  if ((c.version as number) === 1) throw bad('made by an older fwup (machine format 1: trust in machine.json, flash layout 1)');
  if (c.version !== 2) throw bad(`machine format ${String(c.version)} is not known`);
  if (!Number.isInteger(c.cpus) || c.cpus! < 1 || c.cpus! > MAX_CPUS) throw bad(`cpus must be 1..${MAX_CPUS}`);
  if (!Number.isInteger(c.ramBytes) || c.ramBytes! < MIN_RAM_BYTES || c.ramBytes! > MAX_RAM_BYTES || c.ramBytes! % 4096 !== 0) {
    throw bad(`ramBytes must be a multiple of 4096 from ${MIN_RAM_BYTES} to ${MAX_RAM_BYTES}`);
  }
  const f = c.flash as Partial<FlashGeometry> | undefined;
  const pow2 = (n: unknown, lo: number, hi: number) => Number.isInteger(n) && (n as number) >= lo && (n as number) <= hi && ((n as number) & ((n as number) - 1)) === 0;
  if (!f || typeof f !== 'object') throw bad('flash geometry missing');
  if (!pow2(f.blockSize, 512, 1 << 16)) throw bad('flash.blockSize must be a power of two from 512 to 65536');
  if (!pow2(f.programAlign, 1, f.blockSize!)) throw bad('flash.programAlign must be a power of two no larger than a block');
  if (!Number.isInteger(f.size) || f.size! < MIN_FLASH_BYTES || f.size! > MAX_FLASH_BYTES || f.size! % f.blockSize! !== 0) {
    throw bad(`flash.size must be a multiple of the block size from ${MIN_FLASH_BYTES} to ${MAX_FLASH_BYTES}`);
  }
  if (typeof c.createdAt !== 'string') throw bad('createdAt missing');
  const timing = c.flashTiming === undefined ? undefined : parseFlashTiming(c.flashTiming, `${where}: flashTiming`, 'TARGET_CORRUPT');
  // Machines made before the strategies existed have no field: they copy, as they always did.
  if (c.install !== undefined && !INSTALL_STRATEGIES.includes(c.install)) throw bad(`install must be ${INSTALL_STRATEGIES.join(' or ')}`);
  return {
    format: 'fwup-machine',
    version: 2,
    cpus: c.cpus!,
    ramBytes: c.ramBytes!,
    flash: { size: f.size!, blockSize: f.blockSize!, programAlign: f.programAlign! },
    install: c.install ?? 'copy',
    createdAt: c.createdAt,
    ...(timing ? { flashTiming: timing } : {}),
    ignored: Object.keys(c).filter((k) => !KNOWN_FIELDS.includes(k)),
  };
}

/** machine.json must describe the hardware the machine was provisioned with (recorded in the key store). */
export function checkHardware(c: MachineConfig, provisioned: HardwareDescription, where: string): void {
  const mine = JSON.stringify({ cpus: c.cpus, ramBytes: c.ramBytes, flash: c.flash, install: c.install ?? 'copy' });
  const theirs = JSON.stringify({ cpus: provisioned.cpus, ramBytes: provisioned.ramBytes, flash: provisioned.flash, install: provisioned.install ?? 'copy' });
  if (mine !== theirs) {
    throw new FwupError('TARGET_CORRUPT', `${where} says ${mine}, but the machine was made with ${theirs}`, {
      hint: 'machine.json was edited; put it back, or re-create the machine with `fwup machine init --force`',
    });
  }
}

/** What the firmware trusts, from the key store: Ed25519 keys for .fwup images, certificates for capsules. */
export interface FirmwareTrust {
  keys: PublicKey[];
  certs: TrustedCertificateInput[];
  development: boolean;
  platform: string;
  imageTypeId: string;
  /** From the key store: whether the OS may be given the inactive slot to stage into. */
  install: InstallStrategy;
}

export function trustFromAnchors(a: TrustAnchors): FirmwareTrust {
  return {
    keys: a.keys.map((k) => {
      const key = createPublicKey({ key: Buffer.from(k.spki, 'base64'), format: 'der', type: 'spki' });
      if (key.asymmetricKeyType !== 'ed25519' || keyIdOf(key) !== k.keyId) {
        throw new FwupError('TARGET_CORRUPT', `key store: trusted key ${k.name} does not match its id ${k.keyId}`);
      }
      return { keyId: k.keyId, key, name: k.name };
    }),
    certs: a.certs.map((c) => ({ name: c.name, der: Buffer.from(c.der, 'base64') })),
    development: a.development,
    platform: a.platform,
    imageTypeId: a.imageTypeId,
    install: a.hardware.install ?? 'copy',
  };
}

/** A damaged key store trusts nothing, and is not a development machine either: every update is refused. */
export const NO_TRUST: FirmwareTrust = { keys: [], certs: [], development: false, platform: '', imageTypeId: '', install: 'copy' };
