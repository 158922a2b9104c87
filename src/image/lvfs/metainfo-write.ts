/**
 * A firmware.metainfo.xml for `fwup pack --format cab`: the fields fwupd and the LVFS read, every text
 * escaped. The output is parsed back by parseMetainfo before it is packed, so it follows the reader's rules.
 */

export interface MetainfoSpec {
  id: string;
  name: string;
  summary: string;
  provides: readonly string[];
  version: string;
  versionFormat: string | null;
  description: string | null;
  /** Content checksums of the payload (type → lower-case hex). */
  checksums: ReadonlyArray<{ type: string; value: string }>;
  payloadName: string;
  /** The release date (UTC day). */
  date: Date;
}

const escapeXml = (s: string): string =>
  s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

export function buildMetainfo(m: MetainfoSpec): string {
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<component type="firmware">',
    `  <id>${escapeXml(m.id)}</id>`,
    `  <name>${escapeXml(m.name)}</name>`,
    `  <summary>${escapeXml(m.summary)}</summary>`,
    '  <provides>',
    ...m.provides.map((g) => `    <firmware type="flashed">${escapeXml(g)}</firmware>`),
    '  </provides>',
    '  <releases>',
    `    <release version="${escapeXml(m.version)}" date="${m.date.toISOString().slice(0, 10)}">`,
    ...m.checksums.map((c) => `      <checksum type="${escapeXml(c.type)}" filename="${escapeXml(m.payloadName)}" target="content">${escapeXml(c.value)}</checksum>`),
    ...(m.description ? ['      <description>', `        <p>${escapeXml(m.description)}</p>`, '      </description>'] : []),
    '    </release>',
    '  </releases>',
  ];
  if (m.versionFormat) lines.push('  <custom>', `    <value key="LVFS::VersionFormat">${escapeXml(m.versionFormat)}</value>`, '  </custom>');
  lines.push('</component>', '');
  return lines.join('\n');
}
