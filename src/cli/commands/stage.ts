import { stage } from '../../core/stage.js';
import { parseVersion } from '../../util/version.js';
import { formatBytes, parseSeconds, parseSize, parseUint } from '../../util/units.js';
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
    download: {
      ...(typeof opts.sha256 === 'string' ? { sha256: opts.sha256 } : {}),
      headersTimeoutMs: parseSeconds(String(opts.timeout), '--timeout'),
      idleTimeoutMs: parseSeconds(String(opts.idleTimeout), '--idle-timeout'),
      maxBytes: parseSize(String(opts.maxSize), '--max-size'),
      maxRedirects: parseUint(String(opts.maxRedirects), '--max-redirects', 8),
      allowInsecureRedirect: Boolean(opts.allowHttpRedirect),
    },
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
        rows.push(['written', `${r.write.blocks} blocks: ${r.write.erased} erased and programmed, ${r.write.programmedOnly} programmed without erase, ${r.write.unchanged} unchanged`]);
      }
      if (r.replaced) rows.push(['replaced', 'the previously staged update']);
      if (r.download) {
        const how = r.download.cached ? 'cached copy, no request' : r.download.resumedBytes ? `resumed after ${formatBytes(r.download.resumedBytes)}` : 'downloaded';
        rows.unshift(['from', `${r.download.url} (${how})`]);
      }
      return `${s.green('staged')} ${image}\n${table(rows, s)}\nnext: fwup apply --warm`;
    },
  };
};
