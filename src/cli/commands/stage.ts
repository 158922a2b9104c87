import { stage } from '../../core/stage.js';
import { parseVersion } from '../../util/version.js';
import { formatBytes } from '../../util/units.js';
import type { CommandModule } from '../command-table.js';
import { signatureText, table } from '../render.js';

export const run: CommandModule['run'] = async (ctx, [image], opts, g) => {
  const raw =
    typeof opts.version === 'string'
      ? (() => {
          const v = parseVersion(opts.version);
          return { version: v.display, versionNumber: v.number, platform: null, lowestSupportedVersion: 0, securityVersion: 0 };
        })()
      : undefined;
  const r = await stage(ctx, image!, {
    ...(g.target ? { target: g.target } : {}),
    allowOlder: Boolean(opts.allowOlder),
    allowUnsigned: Boolean(opts.allowUnsigned),
    allowReinstall: Boolean(opts.allowReinstall),
    ...(raw ? { raw } : {}),
  });
  return {
    data: r,
    text: (s) => {
      const rows: Array<[string, string]> = [
        ['target', r.target],
        ['version', `${r.staged.version} (${r.staged.format}, ${formatBytes(r.staged.size)})`],
        ['sha256', r.staged.sha256],
        ['signature', signatureText(r.image.signature, s)],
      ];
      if (r.write) {
        rows.push(['written', `${r.write.blocks} blocks: ${r.write.erased} erased, ${r.write.programmedOnly} programmed, ${r.write.unchanged} unchanged`]);
      }
      if (r.replaced) rows.push(['replaced', 'the previously staged update']);
      return `${s.green('staged')} ${image}\n${table(rows, s)}\nnext: fwup apply --warm`;
    },
  };
};
