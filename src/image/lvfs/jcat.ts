import { gunzipSync } from 'node:zlib';
import { FwupError } from '../../errors/fwup-error.js';

/**
 * A Jcat catalog (libjcat's `.jcat`): gzip of a JSON document that lists, per file of the cabinet
 * (an item, by its name and aliases), blobs: checksums and detached signatures of that file.
 *
 *   {"JcatVersionMajor":0,"JcatVersionMinor":1,"Items":[{"Id":"firmware.bin","AliasIds":[...],
 *    "Blobs":[{"Kind":1,"Flags":1,"Timestamp":1700000000,"Data":"…","AppstreamId":"…","Target":1}]}]}
 *
 * Kind numbers are libjcat's JcatBlobKind; Flags bit 0 (IS_UTF8) says Data is the blob itself as text
 * (hex checksums, PEM PKCS#7, ASCII-armoured GPG), else Data is base64 of binary bytes (raw Ed25519
 * signatures). Target, when set, is the kind of another blob of the same item that this one signs
 * instead of the file. Bounds and rules: docs/cabinet-format.md ("Jcat").
 */

export type JcatBlobKind = 'sha256' | 'sha1' | 'sha512' | 'pkcs7' | 'gpg' | 'ed25519' | 'unknown';

export interface JcatBlob {
  kind: JcatBlobKind;
  kindNumber: number;
  /** libjcat's name of the kind ('bt-manifest' for a kind fwup names 'unknown'), or 'kind-N' for one libjcat lacks. */
  kindName: string;
  /** The kind of the blob this one signs; null: it signs the file. */
  target: JcatBlobKind | null;
  targetNumber: number | null;
  flags: number;
  timestamp: number | null;
  appstreamId: string | null;
  /** The blob's bytes: the UTF-8 of Data when flags has IS_UTF8, else Data base64-decoded. */
  data: Buffer;
}

export interface JcatItem {
  id: string;
  aliases: string[];
  blobs: JcatBlob[];
}

export interface JcatCatalog {
  /** "MAJOR.MINOR", e.g. "0.1". */
  version: string;
  items: JcatItem[];
}

export const JCAT_FLAG_IS_UTF8 = 1;

/** libjcat's JcatBlobKind numbers (jcat-blob.h), and the names libjcat gives them. */
export const JCAT_KIND_NAMES: readonly string[] = [
  'unknown', 'sha256', 'gpg', 'pkcs7', 'sha1', 'bt-manifest', 'bt-checkpoint', 'bt-inclusion-proof', 'bt-verifier', 'ed25519', 'sha512', 'bt-logindex',
];
const FWUP_KINDS: ReadonlySet<string> = new Set(['sha256', 'sha1', 'sha512', 'pkcs7', 'gpg', 'ed25519']);

export interface JcatLimits {
  /** Bytes of JSON once gunzipped. */
  maxJsonBytes: number;
  maxItems: number;
  maxBlobsPerItem: number;
  maxAliasesPerItem: number;
}

/** A cabinet's catalog holds a few items of a few blobs, a few kilobytes; these are far above that. */
export const DEFAULT_JCAT_LIMITS: JcatLimits = { maxJsonBytes: 4 << 20, maxItems: 1024, maxBlobsPerItem: 64, maxAliasesPerItem: 64 };

const HINT = 'the catalog is damaged or was not made by libjcat: rebuild it with jcat-tool (see docs/cabinet-format.md, "Jcat")';
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function kindOf(n: number): JcatBlobKind {
  const name = JCAT_KIND_NAMES[n];
  return name !== undefined && FWUP_KINDS.has(name) ? (name as JcatBlobKind) : 'unknown';
}

export function parseJcat(gz: Buffer, name: string, limits: JcatLimits = DEFAULT_JCAT_LIMITS): JcatCatalog {
  const fail = (rule: string): never => {
    throw new FwupError('JCAT_INVALID', `${name}: ${rule}`, { hint: HINT, details: { file: name, rule } });
  };
  if (gz.length < 2 || gz[0] !== 0x1f || gz[1] !== 0x8b) {
    fail(`is not gzip (it starts with ${gz.subarray(0, 2).toString('hex').toUpperCase() || 'nothing'}, not 1F8B)`);
  }
  let json: Buffer;
  try {
    json = gunzipSync(gz, { maxOutputLength: limits.maxJsonBytes });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') return fail(`inflates to more than ${limits.maxJsonBytes} bytes, the most accepted`);
    return fail(`is not a valid gzip stream (${e instanceof Error ? e.message : String(e)})`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    return fail('its JSON is not valid UTF-8');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return fail(`is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const root = object(doc, 'the document', fail);
  const major = integer(root.JcatVersionMajor, 'JcatVersionMajor', fail);
  const minor = integer(root.JcatVersionMinor, 'JcatVersionMinor', fail);
  if (major !== 0) fail(`JcatVersionMajor is ${major}: only version 0.x catalogs are known`);
  // libjcat leaves Items out of a catalog with no item.
  const rawItems = root.Items === undefined ? [] : array(root.Items, 'Items', fail);
  if (rawItems.length > limits.maxItems) fail(`Items has ${rawItems.length} entries; at most ${limits.maxItems} are accepted`);
  const seen = new Map<string, number>();
  const items = rawItems.map((raw, i) => {
    const item = parseItem(raw, `Items[${i}]`, limits, fail);
    for (const n of [item.id, ...item.aliases]) {
      const before = seen.get(n);
      if (before !== undefined && before !== i) fail(`Items[${i}] and Items[${before}] both name "${n}"`);
      seen.set(n, i);
    }
    return item;
  });
  return { version: `${major}.${minor}`, items };
}

type Fail = (rule: string) => never;

function parseItem(raw: unknown, where: string, limits: JcatLimits, fail: Fail): JcatItem {
  const o = object(raw, where, fail);
  const id = string(o.Id, `${where}.Id`, fail);
  if (id === '') fail(`${where}.Id is empty`);
  const aliases = o.AliasIds === undefined ? [] : array(o.AliasIds, `${where}.AliasIds`, fail).map((a, j) => string(a, `${where}.AliasIds[${j}]`, fail));
  if (aliases.length > limits.maxAliasesPerItem) fail(`${where}.AliasIds has ${aliases.length} entries; at most ${limits.maxAliasesPerItem} are accepted`);
  const rawBlobs = array(o.Blobs, `${where}.Blobs`, fail);
  if (rawBlobs.length > limits.maxBlobsPerItem) fail(`${where}.Blobs has ${rawBlobs.length} entries; at most ${limits.maxBlobsPerItem} are accepted`);
  return { id, aliases, blobs: rawBlobs.map((b, j) => parseBlob(b, `${where} ("${id}").Blobs[${j}]`, fail)) };
}

function parseBlob(raw: unknown, where: string, fail: Fail): JcatBlob {
  const o = object(raw, where, fail);
  const kindNumber = integer(o.Kind, `${where}.Kind`, fail);
  const flags = integer(o.Flags, `${where}.Flags`, fail);
  const dataText = string(o.Data, `${where}.Data`, fail);
  const timestamp = o.Timestamp === undefined ? null : integer(o.Timestamp, `${where}.Timestamp`, fail);
  const appstreamId = o.AppstreamId === undefined ? null : string(o.AppstreamId, `${where}.AppstreamId`, fail);
  const targetNumber = o.Target === undefined || o.Target === 0 ? null : integer(o.Target, `${where}.Target`, fail);
  let data: Buffer;
  if (flags & JCAT_FLAG_IS_UTF8) data = Buffer.from(dataText, 'utf8');
  else {
    if (!BASE64_RE.test(dataText)) fail(`${where}.Data is not base64 (Flags ${flags} has no IS_UTF8 bit, so it must be)`);
    data = Buffer.from(dataText, 'base64');
  }
  return {
    kind: kindOf(kindNumber),
    kindNumber,
    kindName: JCAT_KIND_NAMES[kindNumber] ?? `kind-${kindNumber}`,
    target: targetNumber === null ? null : kindOf(targetNumber),
    targetNumber,
    flags,
    timestamp,
    appstreamId,
    data,
  };
}

function object(v: unknown, where: string, fail: Fail): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`${where} is ${describe(v)}, not an object`);
  return v as Record<string, unknown>;
}

function array(v: unknown, where: string, fail: Fail): unknown[] {
  if (!Array.isArray(v)) fail(`${where} is ${describe(v)}, not an array`);
  return v as unknown[];
}

function string(v: unknown, where: string, fail: Fail): string {
  if (typeof v !== 'string') fail(`${where} is ${describe(v)}, not a string`);
  return v as string;
}

/** A non-negative integer, as libjcat requires of Kind, Flags, Timestamp and Target. */
function integer(v: unknown, where: string, fail: Fail): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(`${where} is ${describe(v)}, not an integer`);
  if ((v as number) < 0) fail(`${where} is ${v as number}, which is negative`);
  return v as number;
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number') return `the number ${v}`;
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
