import { fetchImage } from '../../core/fetch-image.js';
import { FwupError } from '../../errors/fwup-error.js';
import { formatBytes, parseSeconds, parseSize, parseUint } from '../../util/units.js';
import { parseVersion } from '../../util/version.js';
import type { CommandModule } from '../command-table.js';
import { VERSION } from '../main.js';
import { signatureText, table } from '../render.js';

export const run: CommandModule['run'] = async (ctx, [url], opts) => {
  if (typeof opts.output !== 'string') throw new FwupError('USAGE', 'fetch needs -o/--output FILE');
  const raw =
    typeof opts.version === 'string'
      ? (() => {
          const v = parseVersion(opts.version);
          return { version: v.display, versionNumber: v.number, platform: null, lowestSupportedVersion: 0, securityVersion: 0 };
        })()
      : undefined;
  const r = await fetchImage(ctx, url!, {
    output: opts.output,
    keyFiles: (opts.key as string[]) ?? [],
    ...(typeof opts.sha256 === 'string' ? { sha256: opts.sha256 } : {}),
    ...(raw ? { raw } : {}),
    headersTimeoutMs: parseSeconds(String(opts.timeout), '--timeout'),
    idleTimeoutMs: parseSeconds(String(opts.idleTimeout), '--idle-timeout'),
    maxBytes: parseSize(String(opts.maxSize), '--max-size'),
    maxRedirects: parseUint(String(opts.maxRedirects), '--max-redirects', 8),
    allowInsecureRedirect: Boolean(opts.allowHttpRedirect),
    userAgent: `fwup/${VERSION}`,
  });
  return {
    data: r,
    text: (s) => {
      const how = r.cached ? s.dim('cached copy, no request') : r.resumed ? `resumed after ${formatBytes(r.resumed)}` : 'downloaded';
      return table(
        [
          ['wrote', `${r.path} (${r.size} bytes)`],
          ['from', `${r.url} (${how})`],
          ['sha256', r.sha256],
          ['image', `${r.image.format} ${r.image.version}${r.image.platform ? ` for ${r.image.platform}` : ''}`],
          ['signature', signatureText(r.image.signature, s)],
        ],
        s,
      );
    },
  };
};
