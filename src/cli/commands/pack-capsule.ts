import { parseCapsuleConfig, type CapsulePayloadRequest } from '../../core/capsule-config.js';
import { readFileOrFail } from '../../core/files.js';
import { resolvePath } from '../../core/context.js';
import { packCapsule } from '../../core/pack-capsule.js';
import { FwupError } from '../../errors/fwup-error.js';
import { CAPSULE_FLAGS, type CapsuleFlagName } from '../../image/capsule-layouts.js';
import { isGuid } from '../../util/layout.js';
import { hex32 } from '../../util/digest.js';
import { parseU64, parseUint } from '../../util/units.js';
import { parseVersion } from '../../util/version.js';
import type { CommandModule } from '../command-table.js';
import { esc, table } from '../render.js';

/** `pack --format capsule`: the command line (or a GenerateCapsule JSON file) to a capsule request. */
export const run: CommandModule['run'] = async (ctx, [payload], opts) => {
  for (const [key, flag] of [['sign', '--sign'], ['description', '--description'], ['coldOnly', '--cold-only']] as const) {
    if (opts[key] !== undefined) throw new FwupError('USAGE', `${flag} is for .fwup images`, { hint: 'sign a capsule with --signer-cert (and --signer-key)' });
  }
  if (typeof opts.output !== 'string') throw new FwupError('USAGE', 'pack needs -o/--output FILE', { hint: 'e.g. -o firmware.cap' });
  const flags = capsuleFlags((opts.capflag as string[]) ?? []);
  const oemFlags = parseUint(String(opts.capoemflag), '--capoemflag', 16);
  const drivers = (opts.embeddedDriver as string[]) ?? [];

  let payloads: CapsulePayloadRequest[];
  let embeddedDrivers = drivers;
  if (typeof opts.jsonConfig === 'string') {
    if (payload !== undefined) throw new FwupError('USAGE', 'give either PAYLOAD or --json-config, not both');
    for (const [key, flag] of [['guid', '--guid'], ['version', '--version'], ['signerCert', '--signer-cert'], ['signerKey', '--signer-key']] as const) {
      if (opts[key] !== undefined) throw new FwupError('USAGE', `${flag} cannot be combined with --json-config: the JSON file describes the payloads`);
    }
    const path = resolvePath(ctx, opts.jsonConfig);
    const config = parseCapsuleConfig((await readFileOrFail(path, 'read')).toString('utf8'), opts.jsonConfig);
    payloads = config.payloads;
    embeddedDrivers = [...config.embeddedDrivers, ...drivers];
  } else {
    if (payload === undefined) throw new FwupError('USAGE', 'pack needs a PAYLOAD file (or --json-config)');
    if (typeof opts.guid !== 'string') throw new FwupError('USAGE', 'a capsule needs --guid, the UpdateImageTypeId of the firmware it updates');
    if (!isGuid(opts.guid)) throw new FwupError('USAGE', `--guid ${JSON.stringify(opts.guid)} is not a GUID`, { hint: 'write it as 8-4-4-4-12 hex digits' });
    if (typeof opts.version !== 'string') throw new FwupError('USAGE', 'pack needs --version V (the FwVersion)', { hint: 'e.g. --version 0x0000020A' });
    payloads = [
      {
        payload,
        guid: opts.guid,
        fwVersion: parseVersion(opts.version).number,
        lowestSupportedVersion: /\./.test(String(opts.lsv)) ? parseVersion(String(opts.lsv)).number : parseUint(String(opts.lsv), '--lsv'),
        updateImageIndex: parseUint(String(opts.updateImageIndex), '--update-image-index', 8),
        hardwareInstance: parseU64(String(opts.hardwareInstance), '--hardware-instance'),
        monotonicCount: parseU64(String(opts.monotonicCount), '--monotonic-count'),
        otherCerts: (opts.otherCert as string[]) ?? [],
        ...(typeof opts.signerCert === 'string' ? { signerCert: opts.signerCert } : {}),
        ...(typeof opts.signerKey === 'string' ? { signerKey: opts.signerKey } : {}),
        ...(typeof opts.trustedCert === 'string' ? { trustedCert: opts.trustedCert } : {}),
      },
    ];
  }
  const r = await packCapsule(ctx, { output: opts.output, force: Boolean(opts.force), flags, oemFlags, embeddedDrivers, payloads });
  return {
    data: r,
    text: (s) =>
      [
        table([['wrote', `${esc(r.output)} (${r.size} bytes)`], ['fileSha256', `${r.fileSha256} (the whole file: what stage URL --sha256 pins)`], ['embedded drivers', String(r.embeddedDrivers)]], s),
        ...r.payloads.map((p) =>
          table(
            [
              [`payload ${p.index}`, `image type ${p.imageTypeId}, fw version ${hex32(p.fwVersion)}`],
              ['  size', `${p.payloadSize} bytes`],
              ['  payloadSha256', p.payloadSha256],
              ['  signed', p.signed ? `by ${p.signer}` : s.yellow('no')],
            ],
            s,
          ),
        ),
      ].join('\n'),
  };
};

function capsuleFlags(values: readonly string[]): CapsuleFlagName[] {
  const names = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  const allowed: CapsuleFlagName[] = ['PersistAcrossReset', 'InitiateReset'];
  for (const n of names) {
    if (!allowed.includes(n as CapsuleFlagName)) {
      const why = n in CAPSULE_FLAGS ? 'is not allowed on an FMP capsule' : 'is not a capsule flag';
      throw new FwupError('USAGE', `--capflag ${n} ${why}`, { hint: 'use PersistAcrossReset and/or InitiateReset' });
    }
  }
  return [...new Set(names as CapsuleFlagName[])];
}
