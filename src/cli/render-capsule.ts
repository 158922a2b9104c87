import type { CapsulePayloadSignature, CapsuleReport } from '../image/capsule-report.js';
import type { ImageReport } from '../image/report.js';
import { formatBytes } from '../util/units.js';
import { hex32 } from '../util/digest.js';
import type { Style } from './style.js';
import { esc, table } from './render.js';

const hex64 = (n: bigint) => `0x${n.toString(16).toUpperCase().padStart(16, '0')}`;

function verdictText(sig: CapsulePayloadSignature, s: Style): string {
  switch (sig.status) {
    case 'valid': return s.green(`valid (signer ${esc(sig.signer ?? '')}; trusted via ${esc(sig.trustAnchor ?? '')})`);
    case 'invalid': return s.red(`INVALID: ${esc(sig.reason ?? '')}`);
    case 'unknown-key': return s.red(`UNTRUSTED: ${esc(sig.reason ?? '')}`);
    case 'unsigned': return s.yellow('unsigned');
    case 'not-verified': return s.yellow(`present, not verified (signer ${esc(sig.signer ?? 'unknown')}; pass --cert)`);
  }
}

/** `inspect` of a capsule: the capsule header, then one block per embedded driver and per payload. */
export function capsuleReportText(path: string, r: ImageReport, c: CapsuleReport, s: Style): string {
  const rows: Array<[string, string]> = [
    ['image', esc(path)],
    ['format', 'UEFI FMP capsule'],
    ['capsule guid', c.capsuleGuid],
    ['flags', `${hex32(c.flags)}${c.flagNames.length ? ` (${c.flagNames.join(', ')})` : ''}`],
    ['oem flags', `0x${c.oemFlags.toString(16).toUpperCase().padStart(4, '0')}`],
    ['header size', `${c.headerSize} bytes`],
    ['capsule size', `${formatBytes(c.capsuleImageSize)} (${c.capsuleImageSize} bytes)`],
    ['fmp version', String(c.fmpVersion)],
    ['embedded drivers', String(c.embeddedDriverCount)],
    ['payloads', String(c.payloadItemCount)],
  ];
  const blocks = [table(rows, s)];
  c.embeddedDrivers.forEach((d, i) => {
    blocks.push(table([[`driver ${i}`, `${d.length} bytes at offset ${d.fileOffset}`], ['  sha256', d.sha256]], s));
  });
  for (const p of c.payloads) {
    const pr: Array<[string, string]> = [
      [`payload ${p.index}`, `image type ${p.updateImageTypeId}`],
      ['  index', String(p.updateImageIndex)],
      ['  hardware instance', hex64(p.hardwareInstance)],
      ['  fw version', `${hex32(p.fmpPayloadHeader.fwVersion)} (${p.fmpPayloadHeader.fwVersion})`],
      ['  lowest supported', `${hex32(p.fmpPayloadHeader.lowestSupportedVersion)} (${p.fmpPayloadHeader.lowestSupportedVersion})`],
      ['  size', `${formatBytes(p.payloadLength)} (${p.payloadLength} bytes) at offset ${p.fileOffsets.payload}`],
      ['  sha256', p.payloadSha256],
      ['  image header', `version ${p.imageHeaderVersion}, update image ${p.updateImageSize} bytes, vendor code ${p.updateVendorCodeSize} bytes`],
      ['  authenticated', p.authenticated ? `yes (PKCS#7, ${p.auth?.digestAlgorithm ?? 'unknown digest'})` : 'no'],
    ];
    if (p.monotonicCount !== null) pr.push(['  monotonic count', `${hex64(p.monotonicCount)} (${p.monotonicCount})`]);
    if (p.dependency) pr.push(['  dependency', esc(p.dependency.expression)]);
    pr.push(['  signature', verdictText(p.signature, s)]);
    blocks.push(table(pr, s));
  }
  blocks.push(table([['verdict', r.ok ? s.green(s.bold('OK')) : s.red(s.bold('FAILED'))]], s));
  return blocks.join('\n');
}
