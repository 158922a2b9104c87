import type { CabinetReport, CabinetSignature } from '../image/lvfs/cabinet-report.js';
import type { ImageReport } from '../image/report.js';
import { formatBytes } from '../util/units.js';
import { capsuleReportText } from './render-capsule.js';
import { esc, imageReportText, table, verdict } from './render.js';
import type { Style } from './style.js';

function signatureText(sig: CabinetSignature, s: Style): string {
  const who = esc(sig.signer ?? 'unknown signer');
  switch (sig.status) {
    case 'valid': return s.green(`valid (PKCS#7 over ${esc(sig.file ?? '')}, signer ${who})`);
    case 'invalid': return s.red(`INVALID over ${esc(sig.file ?? '')}: ${esc(sig.reason ?? '')}`);
    case 'unknown-key': return s.red(`UNTRUSTED signer ${who}: ${esc(sig.reason ?? '')}`);
    case 'not-verified': return s.yellow(`present, not verified (${esc(sig.reason ?? 'no trusted certificates: pass --cert')})`);
    case 'unsigned': return s.yellow('no jcat signature over the payload');
  }
}

/** `inspect` of an LVFS cabinet: its files, the metainfo, the jcat, the rules that bind them, then the payload as its own format. */
export function cabinetReportText(path: string, r: ImageReport, c: CabinetReport, s: Style): string {
  const m = c.metainfo;
  const rows: Array<[string, string]> = [
    ['image', esc(path)],
    ['format', 'LVFS cabinet (.cab)'],
    ['size', `${formatBytes(r.totalSize)} (${r.totalSize} bytes)`],
    ['folders', c.folders.map((f) => `${f.compression} (${f.blocks} blocks, ${f.compressedSize} → ${f.uncompressedSize} bytes)`).join('; ') || 'none'],
  ];
  for (const f of c.files) rows.push([`file ${f.role}`, `${esc(f.name)}: ${f.size} bytes, sha256 ${f.sha256}`]);
  rows.push(
    ['component', esc(m.id)],
    ['name', esc(m.name ?? '-')],
  );
  if (m.summary) rows.push(['summary', esc(m.summary)]);
  if (m.developer) rows.push(['developer', esc(m.developer)]);
  if (m.license) rows.push(['license', esc(m.license)]);
  rows.push(['provides', m.provides.map(esc).join(', ') || '-'], ['version format', esc(m.versionFormat ?? '-')]);
  for (const rel of m.releases) {
    rows.push([`release ${esc(rel.version)}`, [rel.urgency ? `urgency ${esc(rel.urgency)}` : '', rel.date ? `date ${esc(rel.date)}` : '', `${rel.checksums.length} checksum(s)`].filter(Boolean).join(', ')]);
  }
  for (const q of m.requires) {
    rows.push([`requires ${esc(q.kind)}`, [q.value ? esc(q.value) : '', q.compare ? `${esc(q.compare)} ${esc(q.version ?? '')}` : ''].filter(Boolean).join(' ') || '-']);
  }
  rows.push(['payload', `${esc(c.payload.file)} (chosen by ${c.payload.chosenBy})`]);
  rows.push(['jcat', c.jcat ? `${esc(c.jcat.file)} (version ${esc(c.jcat.version)}, ${c.jcat.items.length} item(s))` : 'none']);
  rows.push(['jcat signature', signatureText(c.signature, s)]);
  for (const ch of c.checks) rows.push([`rule ${ch.rule}`, `${verdict(ch.verdict, s)}: ${esc(ch.detail)}`]);
  const inner = c.inner;
  const innerText = inner.capsule
    ? capsuleReportText(`${path}: ${c.payload.file}`, inner, inner.capsule, s)
    : imageReportText(`${path}: ${c.payload.file}`, inner, s);
  return [table(rows, s), innerText, table([['verdict', r.ok ? s.green(s.bold('OK')) : s.red(s.bold('FAILED'))]], s)].join('\n\n');
}
