import { createMachine, FACTORY_VERSION } from '../machine/factory.js';
import { DEFAULT_CPUS, DEFAULT_FLASH_BYTES, DEFAULT_PLATFORM, type MachineConfig } from '../machine/config.js';
import { parseTargetSpec } from '../targets/open-target.js';
import { runningServicePid } from '../targets/emu/service-files.js';
import { FwupError } from '../errors/fwup-error.js';
import { readFileOrFail } from './files.js';
import { loadCertificateFiles } from './cert-files.js';
import { isGuid } from '../util/layout.js';
import { parsePublicKey } from '../image/keys.js';
import { resolvePath, type Context } from './context.js';

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
  force: boolean;
}

export interface MachineInitResult {
  dir: string;
  config: MachineConfig;
  firmwareVersion: string;
}

export async function machineInit(ctx: Context, opts: MachineInitOptions): Promise<MachineInitResult> {
  let dir: string;
  if (opts.dir) dir = resolvePath(ctx, opts.dir);
  else {
    const spec = parseTargetSpec(opts.target, ctx.cwd);
    if (spec.kind !== 'emu') throw new FwupError('USAGE', 'machine init creates emulated machines only (emu:DIR)');
    dir = spec.dir;
  }
  const running = runningServicePid(dir);
  if (running !== null) {
    throw new FwupError('TARGET_BUSY', `the machine at ${dir} is running (pid ${running})`, { hint: 'stop it first: fwup machine stop' });
  }
  const trusted = await Promise.all(
    opts.trust.map(async (p) => {
      const path = resolvePath(ctx, p);
      const pem = (await readFileOrFail(path, 'read key')).toString('utf8');
      return { ...parsePublicKey(pem, path), pem };
    }),
  );
  const certFiles = await loadCertificateFiles((opts.trustCerts ?? []).map((p) => resolvePath(ctx, p)), 'trusted certificate');
  const trustedCerts = certFiles.map((c) => ({ name: c.name, pem: `-----BEGIN CERTIFICATE-----\n${c.der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n` }));
  if (opts.imageTypeId !== undefined && !isGuid(opts.imageTypeId)) throw new FwupError('USAGE', `--image-type-guid ${opts.imageTypeId} is not a GUID`);
  const config = createMachine(dir, {
    cpus: opts.cpus ?? DEFAULT_CPUS,
    flashBytes: opts.flashBytes ?? DEFAULT_FLASH_BYTES,
    platform: opts.platform ?? DEFAULT_PLATFORM,
    trusted,
    trustedCerts,
    ...(opts.imageTypeId ? { imageTypeId: opts.imageTypeId } : {}),
    development: opts.development,
    now: ctx.now(),
    force: opts.force,
  });
  return { dir, config, firmwareVersion: FACTORY_VERSION.display };
}
