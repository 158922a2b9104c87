import { FwupError } from '../../errors/fwup-error.js';
import { parseSafeXml, type XmlElement } from './safe-xml.js';

/**
 * The AppStream metainfo of an LVFS cabinet (`*.metainfo.xml`): which firmware it is, which devices
 * it is for (provides), its releases with their checksums, and what it requires. Read with the rules
 * of docs/cabinet-format.md ("Metainfo"); anything malformed is METAINFO_INVALID, naming the element
 * and its line.
 */

export interface MetainfoChecksum {
  /** 'sha1' | 'sha256' | 'sha384' | 'sha512', lower-case; '' when the element only names the file. */
  type: string;
  /** 'content' | 'container' | 'signature' | 'device'; 'unknown' when the attribute is absent. */
  target: string;
  filename: string | null;
  /** Lower-case hex; '' when the element only names the file (as a metainfo before LVFS signs it). */
  value: string;
}

export interface MetainfoRelease {
  version: string;
  date: string | null;
  timestamp: number | null;
  urgency: string | null;
  /** Seconds. */
  installDuration: number | null;
  /** The description's paragraphs, one a line; list items as "- item". */
  description: string | null;
  checksums: MetainfoChecksum[];
}

export interface MetainfoRequirement {
  /** The element: firmware, id, hardware or client; 'other' for any other (its name in `element`). */
  kind: 'firmware' | 'id' | 'hardware' | 'client' | 'other' | string;
  element: string;
  /** The element's text (a GUID, an AppStream id, 'bootloader', ...), null when empty. */
  value: string | null;
  compare: string | null;
  version: string | null;
  depth: number | null;
}

export interface Metainfo {
  id: string;
  name: string | null;
  summary: string | null;
  developer: string | null;
  license: string | null;
  metadataLicense: string | null;
  /** <firmware type="flashed"> GUIDs, lower-cased, in document order. */
  provides: string[];
  /** <custom><value key="LVFS::VersionFormat">. */
  versionFormat: string | null;
  /** In document order (newest first, as the LVFS writes them). */
  releases: MetainfoRelease[];
  requires: MetainfoRequirement[];
  categories: string[];
}

/** Metainfo files are a few kilobytes; 1 MiB leaves room for long release notes and nothing more. */
export const MAX_METAINFO_BYTES = 1 << 20;

const HINT = 'fix the .metainfo.xml (see docs/cabinet-format.md, "Metainfo") and rebuild the cabinet';
const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = { sha1: 40, sha256: 64, sha384: 96, sha512: 128 };
const CHECKSUM_TARGETS = new Set(['content', 'container', 'signature', 'device']);
const URGENCIES = new Set(['low', 'medium', 'high', 'critical']);
const COMPARES = new Set(['eq', 'ne', 'lt', 'gt', 'le', 'ge', 'glob', 'regex']);
const REQUIREMENT_KINDS = new Set(['firmware', 'id', 'hardware', 'client']);
const DATE_RE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:?\d{2})?)?$/;

export function parseMetainfo(xml: Buffer, name: string): Metainfo {
  const fail = (rule: string): never => {
    throw new FwupError('METAINFO_INVALID', `${name}: ${rule}`, { hint: HINT, details: { file: name, rule } });
  };
  const root = parseSafeXml(xml, { name, code: 'METAINFO_INVALID', hint: HINT, maxBytes: MAX_METAINFO_BYTES });
  const at = (e: XmlElement) => `<${e.name}> (line ${e.line ?? '?'})`;
  if (root.name !== 'component') fail(`the root element is ${at(root)}, not <component type="firmware">`);
  if (root.attributes.type !== 'firmware') {
    fail(`the root <component> has type=${root.attributes.type === undefined ? 'none' : `"${root.attributes.type}"`}, not type="firmware"`);
  }

  const one = (parent: XmlElement, tag: string): XmlElement | null => {
    const all = parent.children.filter((c) => c.name === tag && c.attributes['xml:lang'] === undefined);
    if (all.length > 1) fail(`<${parent.name}> has ${all.length} <${tag}> elements (lines ${all.map((e) => e.line).join(', ')}); one is allowed`);
    return all[0] ?? null;
  };
  const textOf = (e: XmlElement | null): string | null => {
    const t = e ? collapse(e.text) : '';
    return t === '' ? null : t;
  };

  const idEl = one(root, 'id');
  const id = textOf(idEl);
  if (id === null) fail(idEl ? `${at(idEl)} is empty` : 'the <component> has no <id>');

  const developerEl = one(root, 'developer');
  const developer = textOf(one(root, 'developer_name')) ?? (developerEl ? textOf(one(developerEl, 'name')) : null);

  const provides: string[] = [];
  const providesEl = one(root, 'provides');
  for (const fw of providesEl?.children.filter((c) => c.name === 'firmware') ?? []) {
    if (fw.attributes.type !== 'flashed') continue;
    const guid = collapse(fw.text);
    if (!GUID_RE.test(guid)) fail(`${at(fw)} of type "flashed" holds "${guid}", which is not a GUID`);
    provides.push(guid.toLowerCase());
  }

  let versionFormat: string | null = null;
  const customEl = one(root, 'custom');
  for (const v of customEl?.children.filter((c) => c.name === 'value') ?? []) {
    if (v.attributes.key === 'LVFS::VersionFormat') versionFormat = textOf(v);
  }

  const releasesEl = one(root, 'releases');
  const releases = (releasesEl?.children.filter((c) => c.name === 'release') ?? []).map((r) => parseRelease(r, at, fail));
  if (releases.length === 0) fail(releasesEl ? `${at(releasesEl)} holds no <release>` : 'the <component> has no <releases>');

  const requiresEl = one(root, 'requires');
  const requires = (requiresEl?.children ?? []).map((r) => parseRequirement(r, at, fail));

  const categoriesEl = one(root, 'categories');
  const categories = (categoriesEl?.children.filter((c) => c.name === 'category') ?? []).map((c) => collapse(c.text)).filter((c) => c !== '');

  return {
    id: id!,
    name: textOf(one(root, 'name')),
    summary: textOf(one(root, 'summary')),
    developer,
    license: textOf(one(root, 'project_license')),
    metadataLicense: textOf(one(root, 'metadata_license')),
    provides,
    versionFormat,
    releases,
    requires,
    categories,
  };
}

type At = (e: XmlElement) => string;
type Fail = (rule: string) => never;

function parseRelease(r: XmlElement, at: At, fail: Fail): MetainfoRelease {
  const a = r.attributes;
  const version = (a.version ?? '').trim();
  if (version === '') fail(`${at(r)} has no version attribute`);
  const date = a.date ?? null;
  if (date !== null && !DATE_RE.test(date)) fail(`${at(r)} has date="${date}", which is not an ISO 8601 date (YYYY-MM-DD)`);
  const timestamp = integerAttribute(r, 'timestamp', at, fail);
  const urgency = a.urgency ?? null;
  if (urgency !== null && !URGENCIES.has(urgency)) fail(`${at(r)} has urgency="${urgency}"; known: ${[...URGENCIES].join(', ')}`);
  const installDuration = integerAttribute(r, 'install_duration', at, fail);
  const descriptionEl = r.children.find((c) => c.name === 'description' && c.attributes['xml:lang'] === undefined) ?? null;
  const checksums = r.children.filter((c) => c.name === 'checksum').map((c) => parseChecksum(c, at, fail));
  return { version, date, timestamp, urgency, installDuration, description: descriptionEl ? describe(descriptionEl) : null, checksums };
}

function parseChecksum(c: XmlElement, at: At, fail: Fail): MetainfoChecksum {
  const value = collapse(c.text).toLowerCase();
  const type = (c.attributes.type ?? '').toLowerCase();
  const target = c.attributes.target ?? 'unknown';
  if (c.attributes.target !== undefined && !CHECKSUM_TARGETS.has(target)) {
    fail(`${at(c)} has target="${target}"; known: ${[...CHECKSUM_TARGETS].join(', ')}`);
  }
  if (value !== '' || type !== '') {
    const length = DIGEST_HEX_LENGTH[type];
    if (length === undefined) fail(`${at(c)} has type=${type === '' ? 'none' : `"${type}"`}; known: ${Object.keys(DIGEST_HEX_LENGTH).join(', ')}`);
    if (value !== '' && !new RegExp(`^[0-9a-f]{${length}}$`).test(value)) {
      fail(`${at(c)}: "${value}" is not a ${type} digest (${length} hex digits)`);
    }
  }
  return { type, target, filename: c.attributes.filename ?? null, value };
}

function parseRequirement(r: XmlElement, at: At, fail: Fail): MetainfoRequirement {
  const compare = r.attributes.compare ?? null;
  const version = r.attributes.version ?? null;
  if (compare !== null && !COMPARES.has(compare)) fail(`${at(r)} has compare="${compare}"; known: ${[...COMPARES].join(', ')}`);
  if (compare !== null && version === null) fail(`${at(r)} has compare="${compare}" but no version`);
  if (compare === null && version !== null) fail(`${at(r)} has version="${version}" but no compare`);
  const value = collapse(r.text);
  if (r.name === 'id' && value === '') fail(`${at(r)} names no component id`);
  return {
    kind: REQUIREMENT_KINDS.has(r.name) ? r.name : 'other',
    element: r.name,
    value: value === '' ? null : value,
    compare,
    version,
    depth: integerAttribute(r, 'depth', at, fail, true),
  };
}

function integerAttribute(e: XmlElement, attr: string, at: At, fail: Fail, signed = false): number | null {
  const raw = e.attributes[attr];
  if (raw === undefined) return null;
  const re = signed ? /^-?\d{1,15}$/ : /^\d{1,15}$/;
  if (!re.test(raw.trim())) fail(`${at(e)} has ${attr}="${raw}", which is not ${signed ? 'an integer' : 'a non-negative integer'}`);
  return Number(raw.trim());
}

/** AppStream description markup as text: a line per <p>, "- " per <li>; other markup contributes its text. */
function describe(d: XmlElement): string | null {
  const lines: string[] = [];
  const walk = (e: XmlElement): void => {
    if (e.name === 'p') lines.push(collapse(e.textContent));
    else if (e.name === 'li') lines.push(`- ${collapse(e.textContent)}`);
    else e.children.forEach(walk);
  };
  if (collapse(d.text) !== '') lines.push(collapse(d.text));
  d.children.forEach(walk);
  const text = lines.filter((l) => l !== '' && l !== '- ').join('\n');
  return text === '' ? null : text;
}

function collapse(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
