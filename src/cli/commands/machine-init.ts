import { machineInit } from '../../core/machine-init.js';
import { parseSize, parseUint } from '../../util/units.js';
import type { CommandModule } from '../command-table.js';
import { esc, table } from '../render.js';

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
    ...(typeof opts.install === 'string' ? { install: opts.install } : {}),
    force: Boolean(opts.force),
    ...(typeof opts.flashTiming === 'string' ? { flashTiming: opts.flashTiming } : {}),
  });
  const { ignored: _ignored, ...hardware } = r.config;
  return {
    data: { dir: r.dir, firmwareVersion: r.firmwareVersion, hardware, trust: r.trust },
    text: (s) =>
      `${s.green('created')} emulated machine ${esc(r.dir)}\n` +
      table(
        [
          ['platform', esc(r.trust.platform)],
          ['cpus', String(r.config.cpus)],
          ['flash', `${r.config.flash.size >> 20} MiB (${r.config.flash.blockSize}-byte blocks)`],
          ...(r.config.flashTiming ? [['flash timing', `${esc(r.config.flashTiming.chip)} (simulated: apply reports the downtime on this chip)`] as [string, string]] : []),
          ['firmware', `${r.firmwareVersion} in slot A (and in the recovery copy)`],
          ['trusted keys', r.trust.keys.length ? r.trust.keys.map((k) => `${esc(k.name)} (${k.keyId})`).join(', ') : s.yellow('none')],
          ['capsules', `image type ${r.trust.imageTypeId}; trusted certificates: ${r.trust.certs.length ? r.trust.certs.map((c) => esc(c.name)).join(', ') : 'none'}`],
          ['install', r.config.install === 'in-place' ? 'in-place (stage writes the inactive slot; the firmware verifies and switches)' : 'copy (stage writes STAGING; the firmware copies it into the inactive slot)'],
          ['development', r.trust.development ? s.yellow('yes (unsigned images allowed with --allow-unsigned)') : 'no'],
          ['key store', 'provisioned into the flash (two copies); machine.json holds only the hardware'],
        ],
        s,
      ),
  };
};
