import { createMachine, FACTORY_VERSION } from '../machine/factory.js';
import { DEFAULT_CPUS, DEFAULT_FLASH_BYTES, DEFAULT_INSTALL, DEFAULT_PLATFORM, type MachineConfig } from '../machine/config.js';
import { INSTALL_STRATEGIES, type InstallStrategy } from '../storage/key-store.js';
import type { TrustAnchors } from '../storage/key-store.js';
import { parseTargetSpec } from '../targets/open-target.js';
import { runningServicePid } from '../targets/emu/service-files.js';
import { FwupError } from '../errors/fwup-error.js';
import { loadCertificateFiles } from './cert-files.js';
import { isGuid } from '../util/layout.js';
import { loadPublicKeys } from './key-files.js';
import { resolvePath, type Context } from './context.js';
import { readFileOrFail } from './files.js';
import { builtinFlashTiming, parseFlashTiming, type FlashTimingSpec } from '../storage/flash-timing.js';

export interface MachineInitOptions {
  dir?: string;
  target?: string;
  cpus?: number;
  flashBytes?: number;
  trust: string[];
  /** Certificates capsules must chain to (PEM or DER files). */
  trustCerts?: string[];
  imageTypeId?: string;
  platform?: string;
  development: boolean;
  /** copy | in-place (docs/emulated-platform.md, "Install strategies"); default DEFAULT_INSTALL. */
  install?: string;
  force: boolean;
  /** `--flash-timing`: a built-in chip name (W25Q128JV) or a FILE.json of datasheet figures. */
  flashTiming?: string;
}

export interface MachineInitResult {
  dir: string;
  config: MachineConfig;
  /** What was provisioned into the key store (public keys by id, certificate names; nothing secret). */
  trust: Pick<TrustAnchors, 'platform' | 'imageTypeId' | 'development'> & { keys: Array<{ name: string; keyId: string }>; certs: Array<{ name: string }> };
  firmwareVersion: string;
}

export async function machineInit(ctx: Context, opts: MachineInitOptions): Promise<MachineInitResult> {
  let dir: string;
  if (opts.dir) dir = resolvePath(ctx, opts.dir);
  else {
    const spec = parseTargetSpec(opts.target, ctx.cwd);
    if (spec.kind !== 'emu') throw new FwupError('USAGE', 'machine init creates emulated machines only (emu:DIR)', { hint: 'give a directory, or --target emu:DIR' });
    dir = spec.dir;
  }
  const running = runningServicePid(dir);
  if (running !== null) {
    throw new FwupError('TARGET_BUSY', `the machine at ${dir} is running (pid ${running})`, { hint: 'stop it first: fwup machine stop' });
  }
  // Public keys and certificates only: a private key given here is refused before anything is created.
  const trusted = await loadPublicKeys(opts.trust.map((p) => resolvePath(ctx, p)));
  const certs = await loadCertificateFiles((opts.trustCerts ?? []).map((p) => resolvePath(ctx, p)), 'trusted certificate', { refusePrivateKeys: true });
  if (opts.imageTypeId !== undefined && !isGuid(opts.imageTypeId)) {
    throw new FwupError('USAGE', `--image-type-guid ${opts.imageTypeId} is not a GUID`, { hint: 'write it as 8-4-4-4-12 hex digits' });
  }
  const flashTiming = opts.flashTiming === undefined ? undefined : await loadFlashTiming(ctx, opts.flashTiming);
  const install = (opts.install ?? DEFAULT_INSTALL) as InstallStrategy;
  if (!INSTALL_STRATEGIES.includes(install)) {
    throw new FwupError('USAGE', `--install ${opts.install} is not an install strategy`, { hint: `give ${INSTALL_STRATEGIES.join(' or ')}` });
  }
  const { config, anchors } = createMachine(dir, {
    cpus: opts.cpus ?? DEFAULT_CPUS,
    flashBytes: opts.flashBytes ?? DEFAULT_FLASH_BYTES,
    platform: opts.platform ?? DEFAULT_PLATFORM,
    trusted,
    trustedCerts: certs,
    ...(opts.imageTypeId ? { imageTypeId: opts.imageTypeId } : {}),
    development: opts.development,
    install,
    now: ctx.now(),
    force: opts.force,
    ...(flashTiming ? { flashTiming } : {}),
  });
  return {
    dir,
    config,
    trust: {
      platform: anchors.platform, imageTypeId: anchors.imageTypeId, development: anchors.development,
      keys: anchors.keys.map((k) => ({ name: k.name, keyId: k.keyId })), certs: anchors.certs.map((c) => ({ name: c.name })),
    },
    firmwareVersion: FACTORY_VERSION.display,
  };
}

/** A name ending in .json is a file of datasheet figures (checked field by field); anything else names a built-in chip. */
export async function loadFlashTiming(ctx: Context, value: string): Promise<FlashTimingSpec> {
  if (!/\.json$/i.test(value)) return builtinFlashTiming(value);
  const path = resolvePath(ctx, value);
  const text = (await readFileOrFail(path, 'read flash timing')).toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new FwupError('USAGE', `${path}: not valid JSON`, { hint: 'a flash timing file is one JSON object of datasheet figures (docs/emulated-platform.md)' });
  }
  return parseFlashTiming(raw, path);
}
