import { pack } from '../../core/pack.js';
import { FwupError } from '../../errors/fwup-error.js';
import { FWUP_FLAGS } from '../../image/fwup-format.js';
import { parseUint } from '../../util/units.js';
import { parseVersion } from '../../util/version.js';
import type { CommandModule } from '../command-table.js';
import { esc, table } from '../render.js';
import { hex32 } from '../../util/digest.js';

/** Options that only make sense for a capsule, with their defaults (a value other than these was given). */
const CAPSULE_ONLY: ReadonlyArray<[string, string, unknown]> = [
  ['guid', '--guid', undefined],
  ['capoemflag', '--capoemflag', '0'],
  ['updateImageIndex', '--update-image-index', '1'],
  ['hardwareInstance', '--hardware-instance', '0'],
  ['monotonicCount', '--monotonic-count', '0'],
  ['signerCert', '--signer-cert', undefined],
  ['signerKey', '--signer-key', undefined],
  ['trustedCert', '--trusted-cert', undefined],
  ['jsonConfig', '--json-config', undefined],
];
const CAPSULE_ONLY_LISTS: ReadonlyArray<[string, string]> = [
  ['capflag', '--capflag'],
  ['embeddedDriver', '--embedded-driver'],
  ['otherCert', '--other-cert'],
];

export const run: CommandModule['run'] = async (ctx, args, opts, global) => {
  const format = String(opts.format);
  if (format === 'capsule') {
    // Capsule code (and pkijs behind it) is loaded only when a capsule is packed.
    const capsule = await import('./pack-capsule.js');
    return capsule.run(ctx, args, opts, global);
  }
  if (format === 'cab' || format === 'cabinet') {
    const cabinet = await import('./pack-cabinet.js');
    return cabinet.run(ctx, args, opts, global);
  }
  if (format !== 'fwup') throw new FwupError('USAGE', `--format ${JSON.stringify(format)} is not a format fwup can pack`, { hint: 'use --format fwup, capsule or cab' });
  for (const [key, flag] of [['metainfo', '--metainfo'], ['id', '--id'], ['name', '--name'], ['versionFormat', '--version-format'], ['compress', '--compress']] as const) {
    if (opts[key] !== undefined) throw new FwupError('USAGE', `${flag} is for cabinets`, { hint: 'add --format cab' });
  }
  for (const [key, flag, dflt] of CAPSULE_ONLY) {
    if (opts[key] !== undefined && opts[key] !== dflt) throw new FwupError('USAGE', `${flag} is for capsules`, { hint: 'add --format capsule' });
  }
  for (const [key, flag] of CAPSULE_ONLY_LISTS) {
    if ((opts[key] as string[] | undefined)?.length) throw new FwupError('USAGE', `${flag} is for capsules`, { hint: 'add --format capsule' });
  }
  const [payload] = args;
  if (payload === undefined) throw new FwupError('USAGE', 'pack needs a PAYLOAD file', { hint: 'fwup pack firmware.bin -o firmware.fwup --version 1.2.0' });
  if (typeof opts.output !== 'string') throw new FwupError('USAGE', 'pack needs -o/--output FILE', { hint: 'fwup pack firmware.bin -o firmware.fwup --version 1.2.0' });
  if (typeof opts.platform === 'string' && (opts.platform === '' || Buffer.byteLength(opts.platform) > 32)) {
    throw new FwupError('USAGE', `--platform ${JSON.stringify(opts.platform)} must be 1 to 32 bytes`, { hint: 'the platform id is stored in a 32-byte field' });
  }
  if (typeof opts.version !== 'string') throw new FwupError('USAGE', 'pack needs --version V', { hint: 'e.g. --version 1.2.0' });
  const version = parseVersion(opts.version);
  const lsv = /\./.test(String(opts.lsv)) ? parseVersion(String(opts.lsv)).number : parseUint(String(opts.lsv), '--lsv');
  const r = await pack(ctx, {
    payload,
    output: opts.output,
    force: Boolean(opts.force),
    meta: {
      platform: String(opts.platform),
      version: version.display,
      versionNumber: version.number,
      lowestSupportedVersion: lsv,
      securityVersion: parseUint(String(opts.svn), '--svn'),
      flags: opts.coldOnly ? FWUP_FLAGS.COLD_ONLY : 0,
      description: typeof opts.description === 'string' ? opts.description : null,
      buildTime: ctx.now(),
    },
    ...(typeof opts.sign === 'string' ? { signKey: opts.sign } : {}),
  });
  return {
    data: r,
    text: (s) =>
      table(
        [
          ['wrote', `${esc(r.output)} (${r.size} bytes)`],
          ['payload', `${r.payloadSize} bytes`],
          ['fileSha256', `${r.fileSha256} (the whole file: what stage URL --sha256 pins)`],
          ['payloadSha256', r.payloadSha256],
          ['payload crc32', hex32(r.crc32)],
          ['signed', r.keyId ? `key ${r.keyId}` : s.yellow('no')],
        ],
        s,
      ),
  };
};
