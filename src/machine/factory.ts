import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FwupError, fromSystemError } from '../errors/fwup-error.js';
import { Digester } from '../util/digest.js';
import { buildFwupHeader } from '../image/fwup-format.js';
import type { PublicKey } from '../image/keys.js';
import { DEFAULT_GEOMETRY, type Flash } from '../storage/flash.js';
import type { FlashTimingSpec } from '../storage/flash-timing.js';
import { FileFlash } from '../storage/file-flash.js';
import { planFlashMap, writeFlashMapCopy, type Region } from '../storage/flash-map.js';
import { bootRecords, NO_DIGEST } from '../storage/boot-record.js';
import { encodeKeyStore, writeKeyStoreCopy, type InstallStrategy, type TrustAnchors } from '../storage/key-store.js';
import { VariableStore } from '../storage/nvram/variable-store.js';
import {
  DEFAULT_IMAGE_TYPE_ID, DEFAULT_RAM_BYTES, FLASH_FILE, MACHINE_FILE, MAX_CPUS, serializeMachineConfig, type MachineConfig,
} from './config.js';

export interface CreateMachineOptions {
  cpus: number;
  flashBytes: number;
  platform: string;
  trusted: readonly PublicKey[];
  /** Certificates (DER) that capsules must chain to. */
  trustedCerts?: ReadonlyArray<{ name: string; der: Buffer }>;
  /** The firmware's FMP image type GUID (capsules must name it). */
  imageTypeId?: string;
  development: boolean;
  /** How updates are installed (default: copy, what machines made before the option do). */
  install?: InstallStrategy;
  now: Date;
  force: boolean;
  /** Model this chip's datasheet timing in apply reports (simulated time; off when absent). */
  flashTiming?: FlashTimingSpec;
}

export const FACTORY_VERSION = { display: '1', number: 1 } as const;
const FACTORY_PAYLOAD_BYTES = 64 * 1024;

/** The factory firmware: version 1, unsigned, a deterministic payload per platform. */
export function factoryImage(platform: string): Buffer {
  const payload = Buffer.alloc(FACTORY_PAYLOAD_BYTES);
  for (let i = 0, at = 0; at < payload.length; i++, at += 32) {
    createHash('sha256').update(`fwup-factory-firmware/${platform}/${i}`).digest().copy(payload, at);
  }
  const header = buildFwupHeader(
    {
      platform, version: FACTORY_VERSION.display, versionNumber: FACTORY_VERSION.number, lowestSupportedVersion: 0,
      securityVersion: 0, flags: 0, buildTime: null, description: 'factory firmware',
    },
    new Digester().update(payload).digest(),
  );
  return Buffer.concat([header, payload]);
}

/** Erase the blocks an image needs at the start of a region and program it there. */
export function programImage(flash: Flash, region: Region, image: Uint8Array): void {
  const b = flash.geometry.blockSize;
  const span = Math.ceil(image.length / b) * b;
  if (span > region.size) throw new FwupError('POLICY_TOO_LARGE', `image of ${image.length} bytes does not fit ${region.name}`);
  flash.erase(region.offset, span);
  flash.program(region.offset, image);
}

/**
 * Provision a new machine's flash, as a factory does before the first power-on (no flash controller
 * yet, so every region is writable): both copies of the flash map and of the key store (the trust
 * anchors, like fused keys), formatted NVRAM, the factory firmware in slot A and in the recovery copy,
 * and the boot record naming it.
 */
export function provisionFlash(flash: Flash, anchors: TrustAnchors): void {
  const map = planFlashMap(flash.geometry);
  writeFlashMapCopy(flash, map, 0);
  writeFlashMapCopy(flash, map, 1);
  const keys = encodeKeyStore(anchors);
  writeKeyStoreCopy(flash, map.KEYSTORE, 0, keys);
  writeKeyStoreCopy(flash, map.KEYSTORE, 1, keys);
  VariableStore.open(flash, map.NVRAM, map.NVRAM_SPARE, { writable: true, format: true });
  const factory = factoryImage(anchors.platform);
  programImage(flash, map.SLOT_A, factory);
  programImage(flash, map.RECOVERY, factory);
  flash.sync();
  const sha = createHash('sha256').update(factory).digest('hex');
  bootRecords(flash, map.BOOTREC).write({
    active: 0, previous: 0, trial: 0, trialBoots: 0, securityVersion: 0, progress: 0, progressSlot: 0, progressVersion: 0,
    slots: [sha, NO_DIGEST], recovery: sha,
  });
}

export function trustAnchors(config: MachineConfig, opts: CreateMachineOptions): TrustAnchors {
  return {
    platform: opts.platform,
    imageTypeId: (opts.imageTypeId ?? DEFAULT_IMAGE_TYPE_ID).toUpperCase(),
    development: opts.development || (opts.trusted.length === 0 && (opts.trustedCerts ?? []).length === 0),
    keys: opts.trusted.map((k) => ({ name: basename(k.name), keyId: k.keyId, spki: k.key.export({ type: 'spki', format: 'der' }).toString('base64') })),
    certs: (opts.trustedCerts ?? []).map((c) => ({ name: basename(c.name), der: c.der.toString('base64') })),
    hardware: { cpus: config.cpus, ramBytes: config.ramBytes, flash: config.flash, install: config.install },
    provisionedAt: opts.now.toISOString(),
  };
}

/**
 * Create a machine directory: machine.json (the hardware, mode 0644) and flash.img (provisioned),
 * in a directory of mode 0755 whatever the umask. Built in a temporary directory beside the target and
 * renamed into place, so a failed init (a full disk) leaves nothing behind, and --force replaces the old
 * machine only once the new one is whole.
 */
export function createMachine(dir: string, opts: CreateMachineOptions): { config: MachineConfig; anchors: TrustAnchors } {
  if (!Number.isInteger(opts.cpus) || opts.cpus < 1 || opts.cpus > MAX_CPUS) {
    throw new FwupError('USAGE', `--cpus must be 1..${MAX_CPUS}, not ${opts.cpus}`, { hint: `give a number of CPUs from 1 to ${MAX_CPUS}` });
  }
  if (!opts.platform || Buffer.byteLength(opts.platform) > 32) {
    throw new FwupError('USAGE', 'platform id must be 1..32 bytes', { hint: 'give a shorter --platform' });
  }
  const exists = existsSync(join(dir, MACHINE_FILE)) || existsSync(join(dir, FLASH_FILE));
  if (exists && !opts.force) {
    throw new FwupError('FILE_EXISTS', `a machine already exists at ${dir}`, { hint: 'pass --force to replace it (its flash is lost)' });
  }
  const geometry = { size: opts.flashBytes, ...DEFAULT_GEOMETRY };
  planFlashMap(geometry); // a usage error for a size that has no layout, before anything is created
  const config: MachineConfig = {
    format: 'fwup-machine', version: 2, cpus: opts.cpus, ramBytes: DEFAULT_RAM_BYTES, flash: geometry, install: opts.install ?? 'copy', createdAt: opts.now.toISOString(),
    ...(opts.flashTiming ? { flashTiming: opts.flashTiming } : {}), ignored: [],
  };
  const anchors = trustAnchors(config, opts);
  const parent = dirname(dir);
  const tmp = join(parent, `.${basename(dir)}.init-${process.pid}`);
  try {
    mkdirSync(parent, { recursive: true });
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    chmodSync(tmp, 0o755);
    writeFileSync(join(tmp, MACHINE_FILE), serializeMachineConfig(config));
    chmodSync(join(tmp, MACHINE_FILE), 0o644);
    const flash = FileFlash.create(join(tmp, FLASH_FILE), geometry);
    try {
      chmodSync(join(tmp, FLASH_FILE), 0o644);
      provisionFlash(flash, anchors);
    } finally {
      flash.close();
    }
    if (existsSync(dir)) {
      const old = join(parent, `.${basename(dir)}.old-${process.pid}`);
      renameSync(dir, old);
      renameSync(tmp, dir);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, dir);
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw fromSystemError(e, dir, 'create machine');
  }
  return { config, anchors };
}
