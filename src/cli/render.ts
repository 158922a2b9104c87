import type { ImageReport, CheckVerdict, SignatureReport } from '../image/report.js';
import { formatBytes } from '../util/units.js';
import { hex32 } from '../util/digest.js';
import type { Style } from './style.js';

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
    case 'not-verified': return s.yellow(`present, not verified (key ${sig.keyId}; pass --key)`);
  }
}

export function imageReportText(path: string, r: ImageReport, s: Style): string {
  const rows: Array<[string, string]> = [
    ['image', path],
    ['format', r.format],
    ['version', `${r.version} (${hex32(r.versionNumber)})`],
    ['lowest supported', `${hex32(r.lowestSupportedVersion)}`],
    ['security version', String(r.securityVersion)],
    ['platform', r.platform ?? '-'],
  ];
  if (r.flags.length) rows.push(['flags', r.flags.join(', ')]);
  if (r.description) rows.push(['description', r.description]);
  if (r.buildTime) rows.push(['built', r.buildTime]);
  rows.push(
    ['header', `${r.headerSize} bytes`],
    ['payload', `${formatBytes(r.payloadSize)} (${r.payloadSize} bytes) at offset ${r.payloadOffset}`],
    ['sha256', r.sha256],
    ['crc32', hex32(r.crc32)],
    ['header crc', verdict(r.checks.headerCrc, s)],
    ['payload crc', verdict(r.checks.payloadCrc, s)],
    ['payload sha256', verdict(r.checks.sha256, s)],
    ['signature', signatureText(r.signature, s)],
    ['verdict', r.ok ? s.green(s.bold('OK')) : s.red(s.bold('FAILED'))],
  );
  return table(rows, s);
}
