import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FwupError, fromSystemError } from '../errors/fwup-error.js';
import { Digester } from '../util/digest.js';
import { buildFwupHeader } from '../image/fwup-format.js';
import type { PublicKey } from '../image/keys.js';
import { DEFAULT_GEOMETRY, type Flash } from '../storage/flash.js';
import { FileFlash } from '../storage/file-flash.js';
import { planFlashMap, writeFlashMap, type Region } from '../storage/flash-map.js';
import { VariableStore } from '../storage/nvram/variable-store.js';
import { PlatformVariables, SLOT } from '../storage/variables.js';
import { DEFAULT_IMAGE_TYPE_ID, DEFAULT_RAM_BYTES, FLASH_FILE, MACHINE_FILE, MAX_CPUS, type MachineConfig } from './config.js';

export interface CreateMachineOptions {
  cpus: number;
  flashBytes: number;
  platform: string;
  trusted: ReadonlyArray<PublicKey & { pem: string }>;
  /** Certificates (PEM) that capsules must chain to. */
  trustedCerts?: ReadonlyArray<{ name: string; pem: string }>;
  /** The firmware's FMP image type GUID (capsules must name it). */
  imageTypeId?: string;
  development: boolean;
  now: Date;
  force: boolean;
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
      platform,
      version: FACTORY_VERSION.display,
      versionNumber: FACTORY_VERSION.number,
      lowestSupportedVersion: 0,
      securityVersion: 0,
      flags: 0,
      buildTime: null,
      description: 'factory firmware',
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
 * Create a machine directory: machine.json, flash.img with the flash map, formatted NVRAM and the factory
 * firmware in slot A. Built in a temporary directory beside the target and renamed into place, so a
 * failed init leaves nothing behind (and --force replaces the old machine only once the new one is whole).
 */
export function createMachine(dir: string, opts: CreateMachineOptions): MachineConfig {
  if (!Number.isInteger(opts.cpus) || opts.cpus < 1 || opts.cpus > MAX_CPUS) {
    throw new FwupError('USAGE', `--cpus must be 1..${MAX_CPUS}, not ${opts.cpus}`);
  }
  if (!opts.platform || Buffer.byteLength(opts.platform) > 32) throw new FwupError('USAGE', 'platform id must be 1..32 bytes');
  const exists = existsSync(join(dir, MACHINE_FILE)) || existsSync(join(dir, FLASH_FILE));
  if (exists && !opts.force) {
    throw new FwupError('FILE_EXISTS', `a machine already exists at ${dir}`, { hint: 'pass --force to replace it (its flash is lost)' });
  }
  const geometry = { size: opts.flashBytes, ...DEFAULT_GEOMETRY };
  const map = planFlashMap(geometry);
  const config: MachineConfig = {
    format: 'fwup-machine',
    version: 1,
    platform: opts.platform,
    cpus: opts.cpus,
    ramBytes: DEFAULT_RAM_BYTES,
    flash: geometry,
    development: opts.development || (opts.trusted.length === 0 && (opts.trustedCerts ?? []).length === 0),
    trustedKeys: opts.trusted.map((k) => ({ name: basename(k.name), keyId: k.keyId, pem: k.pem })),
    trustedCerts: (opts.trustedCerts ?? []).map((c) => ({ name: basename(c.name), pem: c.pem })),
    imageTypeId: (opts.imageTypeId ?? DEFAULT_IMAGE_TYPE_ID).toUpperCase(),
    createdAt: opts.now.toISOString(),
  };
  const parent = dirname(dir);
  const tmp = join(parent, `.${basename(dir)}.init-${process.pid}`);
  try {
    mkdirSync(parent, { recursive: true });
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    writeFileSync(join(tmp, MACHINE_FILE), `${JSON.stringify(config, null, 2)}\n`);
    const flash = FileFlash.create(join(tmp, FLASH_FILE), geometry);
    try {
      writeFlashMap(flash, map);
      const vars = new PlatformVariables(VariableStore.open(flash, map.NVRAM, map.NVRAM_SPARE, { writable: true, format: true }));
      programImage(flash, map.SLOT_A, factoryImage(opts.platform));
      flash.sync();
      vars.setBootState({ active: SLOT.A, previous: SLOT.A, trial: 0, trialBoots: 0, counter: 1 });
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
  return config;
}
