import { machineInit } from '../../core/machine-init.js';
import { parseSize, parseUint } from '../../util/units.js';
import type { CommandModule } from '../command-table.js';
import { table } from '../render.js';

export const run: CommandModule['run'] = async (ctx, [dir], opts, g) => {
  const r = await machineInit(ctx, {
    ...(dir ? { dir } : {}),
    ...(g.target ? { target: g.target } : {}),
    cpus: parseUint(String(opts.cpus), '--cpus'),
    flashBytes: parseSize(String(opts.flashSize), '--flash-size'),
    trust: (opts.trust as string[]) ?? [],
    trustCerts: (opts.trustCert as string[]) ?? [],
    ...(typeof opts.imageTypeGuid === 'string' ? { imageTypeId: opts.imageTypeGuid } : {}),
    platform: String(opts.platform),
    development: Boolean(opts.development),
    force: Boolean(opts.force),
  });
  return {
    data: { dir: r.dir, firmwareVersion: r.firmwareVersion, ...r.config },
    text: (s) =>
      `${s.green('created')} emulated machine ${r.dir}\n` +
      table(
        [
          ['platform', r.config.platform],
          ['cpus', String(r.config.cpus)],
          ['flash', `${r.config.flash.size >> 20} MiB (${r.config.flash.blockSize}-byte blocks)`],
          ['firmware', `${r.firmwareVersion} in slot A`],
          ['trusted keys', r.config.trustedKeys.length ? r.config.trustedKeys.map((k) => `${k.name} (${k.keyId})`).join(', ') : s.yellow('none')],
          ['capsules', `image type ${r.config.imageTypeId ?? '-'}; trusted certificates: ${r.config.trustedCerts?.length ? r.config.trustedCerts.map((c) => c.name).join(', ') : 'none'}`],
          ['development', r.config.development ? s.yellow('yes (unsigned images allowed with --allow-unsigned)') : 'no'],
        ],
        s,
      ),
  };
};
