import type { ImageReport, CheckVerdict, SignatureReport } from '../image/report.js';
import { formatBytes } from '../util/units.js';
import { hex32 } from '../util/digest.js';
import { escapeText } from '../util/text.js';
import { displayLike } from '../util/version.js';
import type { Style } from './style.js';

/** Text from an image or a target, made safe to print (control characters escaped). */
export const esc = escapeText;

/** Two-column "key  value" lines, aligned. */
export function table(rows: ReadonlyArray<readonly [string, string]>, s: Style): string {
  const w = Math.max(0, ...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${s.dim(k.padEnd(w))}  ${v}`).join('\n');
}

export function verdict(v: CheckVerdict, s: Style): string {
  return v === 'ok' ? s.green('ok') : v === 'mismatch' ? s.red('MISMATCH') : s.dim('n/a');
}

export function signatureText(sig: SignatureReport, s: Style): string {
  switch (sig.status) {
    case 'valid': return s.green(`valid (${sig.algorithm}, key ${sig.keyId})`);
    case 'invalid': return s.red(`INVALID (key ${sig.keyId})`);
    case 'unknown-key': return s.red(`unknown key ${sig.keyId}`);
    case 'unsigned': return s.yellow('unsigned');
    case 'not-verified': return s.yellow(`present, not verified (key ${sig.keyId})`);
  }
}

export function imageReportText(path: string, r: ImageReport & { fileSha256?: string }, s: Style): string {
  const rows: Array<[string, string]> = [
    ['image', esc(path)],
    ['format', r.format],
    ['version', esc(r.version)],
    ['lowest supported', displayLike(r.lowestSupportedVersion, r.version)],
    ['security version', String(r.securityVersion)],
    ['platform', esc(r.platform ?? '-')],
  ];
  if (r.flags.length) rows.push(['flags', r.flags.join(', ')]);
  if (r.description) rows.push(['description', esc(r.description)]);
  if (r.buildTime) rows.push(['built', r.buildTime]);
  rows.push(
    ['header', `${r.headerSize} bytes`],
    ['payload', `${formatBytes(r.payloadSize)} (${r.payloadSize} bytes) at offset ${r.payloadOffset}`],
  );
  if (r.fileSha256) rows.push(['fileSha256', `${r.fileSha256} (the whole file: what --sha256 pins)`]);
  rows.push(
    ['payloadSha256', r.sha256],
    ['payload crc32', hex32(r.crc32)],
    ['header crc', verdict(r.checks.headerCrc, s)],
    ['payload crc', verdict(r.checks.payloadCrc, s)],
    ['payload sha256', verdict(r.checks.sha256, s)],
    ['signature', signatureText(r.signature, s)],
    ['verdict', r.ok ? s.green(s.bold('OK')) : s.red(s.bold('FAILED'))],
  );
  return table(rows, s);
}
