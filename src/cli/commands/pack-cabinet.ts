import { packCabinet } from '../../core/pack-cabinet.js';
import { FwupError } from '../../errors/fwup-error.js';
import { isGuid } from '../../util/layout.js';
import { parseVersion } from '../../util/version.js';
import type { CommandModule } from '../command-table.js';
import { esc, table } from '../render.js';

/** Options of the other formats that a cabinet does not take (it wraps an image that has them). */
const NOT_FOR_CABINETS: ReadonlyArray<[string, string]> = [
  ['sign', '--sign'], ['coldOnly', '--cold-only'], ['jsonConfig', '--json-config'], ['trustedCert', '--trusted-cert'],
];

/** `pack --format cab`: a payload (capsule, .fwup or raw) into an LVFS cabinet with metainfo and jcat. */
export const run: CommandModule['run'] = async (ctx, [payload], opts) => {
  for (const [key, flag] of NOT_FOR_CABINETS) {
    if (opts[key] !== undefined) throw new FwupError('USAGE', `${flag} is not for cabinets`, { hint: 'pack the image first (--format fwup or capsule), then pack it into a cabinet; sign the cabinet with --signer-cert' });
  }
  for (const key of ['capflag', 'embeddedDriver'] as const) {
    if ((opts[key] as string[] | undefined)?.length) throw new FwupError('USAGE', `--${key === 'capflag' ? 'capflag' : 'embedded-driver'} is for capsules`, { hint: 'pack the capsule first, then pack it into a cabinet' });
  }
  if (payload === undefined) throw new FwupError('USAGE', 'pack --format cab needs a PAYLOAD (a capsule, a .fwup image, or a raw payload with --version)');
  if (typeof opts.output !== 'string') throw new FwupError('USAGE', 'pack needs -o/--output FILE', { hint: 'e.g. -o firmware.cab' });
  if (typeof opts.guid === 'string' && !isGuid(opts.guid)) throw new FwupError('USAGE', `--guid ${JSON.stringify(opts.guid)} is not a GUID`, { hint: 'write it as 8-4-4-4-12 hex digits' });
  const version = typeof opts.version === 'string' ? opts.version : undefined;
  const r = await packCabinet(ctx, {
    payload,
    output: opts.output,
    force: Boolean(opts.force),
    ...(typeof opts.metainfo === 'string' ? { metainfo: opts.metainfo } : {}),
    ...(typeof opts.id === 'string' ? { id: opts.id } : {}),
    ...(typeof opts.name === 'string' ? { name: opts.name } : {}),
    ...(typeof opts.description === 'string' ? { description: opts.description } : {}),
    ...(typeof opts.versionFormat === 'string' ? { versionFormat: opts.versionFormat } : {}),
    ...(version !== undefined ? { version } : {}),
    // A raw payload has no version of its own: --version gives it (N, 0xN, A.B.C or A.B.C.D).
    ...(version !== undefined ? { raw: { version, versionNumber: parseVersion(version).number, platform: null, lowestSupportedVersion: 0, securityVersion: 0 } } : {}),
    guids: typeof opts.guid === 'string' ? [opts.guid] : [],
    compress: Boolean(opts.compress),
    otherCerts: (opts.otherCert as string[]) ?? [],
    ...(typeof opts.signerCert === 'string' ? { signerCert: opts.signerCert } : {}),
    ...(typeof opts.signerKey === 'string' ? { signerKey: opts.signerKey } : {}),
  });
  return {
    data: r,
    text: (s) =>
      table(
        [
          ['wrote', `${esc(r.output)} (${r.size} bytes)`],
          ['component', esc(r.id)],
          ['version', esc(r.version)],
          ['provides', r.provides.map(esc).join(', ')],
          ...r.files.map((f): [string, string] => [`file`, `${esc(f.name)} (${f.size} bytes, sha256 ${f.sha256})`]),
          ['fileSha256', `${r.fileSha256} (the whole file: what stage URL --sha256 pins)`],
          ['signed', r.signed ? 'yes (PKCS#7 in firmware.jcat)' : s.yellow('no (checksums only)')],
        ],
        s,
      ),
  };
};
