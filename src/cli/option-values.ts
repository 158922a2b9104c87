import type { RawMetadata } from '../image/raw-format.js';
import type { DownloadOptions } from '../core/download.js';
import { parseSeconds, parseSize, parseUint } from '../util/units.js';
import { parseVersion } from '../util/version.js';

/** Option values shared by several commands, parsed in one place. */

/** `--version V` on inspect, stage and fetch: accept a raw payload (no header) of that version. */
export function rawFromOptions(opts: Record<string, unknown>): RawMetadata | undefined {
  if (typeof opts.version !== 'string') return undefined;
  const v = parseVersion(opts.version);
  return { version: v.display, versionNumber: v.number, platform: null, lowestSupportedVersion: 0, securityVersion: 0 };
}

/** The download options of fetch and of stage URL. */
export function downloadFromOptions(opts: Record<string, unknown>): Omit<DownloadOptions, 'keys' | 'raw'> {
  return {
    ...(typeof opts.sha256 === 'string' ? { sha256: opts.sha256 } : {}),
    headersTimeoutMs: parseSeconds(String(opts.timeout), '--timeout'),
    idleTimeoutMs: parseSeconds(String(opts.idleTimeout), '--idle-timeout'),
    maxBytes: parseSize(String(opts.maxSize), '--max-size'),
    maxRedirects: parseUint(String(opts.maxRedirects), '--max-redirects', 8),
    allowInsecureRedirect: Boolean(opts.allowHttpRedirect),
  };
}
