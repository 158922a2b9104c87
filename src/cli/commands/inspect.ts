import { inspect } from '../../core/inspect.js';
import { parseVersion } from '../../util/version.js';
import type { CommandModule } from '../command-table.js';
import { imageReportText } from '../render.js';

export const run: CommandModule['run'] = async (ctx, [image], opts) => {
  const raw =
    typeof opts.version === 'string'
      ? (() => {
          const v = parseVersion(opts.version);
          return { version: v.display, versionNumber: v.number, platform: null, lowestSupportedVersion: 0, securityVersion: 0 };
        })()
      : undefined;
  const r = await inspect(ctx, image!, { keys: (opts.key as string[]) ?? [], ...(raw ? { raw } : {}) });
  return {
    data: { path: r.path, ...r.report },
    text: (s) => imageReportText(image!, r.report, s),
    error: r.error,
  };
};
