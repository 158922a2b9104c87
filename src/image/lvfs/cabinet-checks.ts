import { createHash } from 'node:crypto';
import type { ImageReport } from '../report.js';
import type { CabinetParts } from './cabinet-contents.js';
import type { CabinetCheck } from './cabinet-report.js';
import type { JcatItemVerdict } from './jcat-verify.js';
import type { Metainfo } from './metainfo.js';
import { guessVersionFormat, isKnownVersionFormat, versionNumber, versionText } from './version-format.js';

/**
 * The rules that bind a cabinet's metadata to its payload, which fwupd leaves to the device: the
 * metainfo's and the jcat's checksums against the payload's bytes, the release version against the
 * version the payload itself carries, the provided GUIDs against the capsule's image types. Each rule
 * gives ok, mismatch (stage refuses), or n/a with the reason it could not apply.
 */
export function cabinetChecks(parts: CabinetParts, meta: Metainfo, jcat: readonly JcatItemVerdict[] | null, inner: ImageReport): CabinetCheck[] {
  return [metainfoChecksum(parts), jcatChecksum(parts, jcat), versionCheck(parts, meta, inner), guidCheck(meta, inner)];
}

const HASHES: Readonly<Record<string, string>> = { sha1: 'sha1', sha256: 'sha256', sha512: 'sha512' };

function metainfoChecksum(parts: CabinetParts): CabinetCheck {
  const listed = parts.release.checksums.filter((c) => c.target === 'content' && (c.filename === null || c.filename === parts.payload.name));
  const checked = listed.filter((c) => HASHES[c.type]);
  if (checked.length === 0) {
    const why = listed.length ? `only ${listed.map((c) => c.type).join(', ')} checksums, which fwup does not compute` : 'no content checksum of the payload';
    return { rule: 'metainfo-checksum', verdict: 'n/a', detail: `the release lists ${why}` };
  }
  for (const c of checked) {
    const actual = createHash(HASHES[c.type]!).update(parts.payload.data).digest('hex');
    if (actual !== c.value) {
      return { rule: 'metainfo-checksum', verdict: 'mismatch', detail: `the release's ${c.type} of ${parts.payload.name} is ${c.value}, the payload's is ${actual}` };
    }
  }
  return { rule: 'metainfo-checksum', verdict: 'ok', detail: `${checked.map((c) => c.type).join(', ')} of ${parts.payload.name} match the release` };
}

function jcatChecksum(parts: CabinetParts, jcat: readonly JcatItemVerdict[] | null): CabinetCheck {
  if (!jcat) return { rule: 'jcat-checksum', verdict: 'n/a', detail: 'the cabinet has no jcat catalog' };
  const sums = jcat.flatMap((i) => i.checksums.map((c) => ({ ...c, id: i.id, present: i.present })));
  const bad = sums.find((c) => c.present && !c.ok);
  if (bad) return { rule: 'jcat-checksum', verdict: 'mismatch', detail: `the jcat's ${bad.kind} of ${bad.id} is ${bad.expected}, the file's is ${bad.actual ?? 'not computed'}` };
  const forPayload = sums.filter((c) => c.id === parts.payload.name);
  if (forPayload.length === 0) return { rule: 'jcat-checksum', verdict: 'n/a', detail: `the jcat holds no checksum of ${parts.payload.name}` };
  return { rule: 'jcat-checksum', verdict: 'ok', detail: `${[...new Set(sums.filter((c) => c.present).map((c) => `${c.kind} of ${c.id}`))].join(', ')} match` };
}

function versionCheck(parts: CabinetParts, meta: Metainfo, inner: ImageReport): CabinetCheck {
  const claimed = parts.release.version;
  if (inner.format === 'raw') return { rule: 'version', verdict: 'n/a', detail: `a raw payload carries no version of its own: the release's (${claimed}) is the one staged` };
  if (inner.format === 'fwup' && inner.version === claimed) return { rule: 'version', verdict: 'ok', detail: `the release and the .fwup header both say ${claimed}` };
  const format = meta.versionFormat ?? guessVersionFormat(claimed);
  if (format === null || !isKnownVersionFormat(format)) {
    const why = format === null ? `its shape names no version format and the metainfo gives none` : `fwup does not read the version format ${JSON.stringify(format)}`;
    return { rule: 'version', verdict: 'n/a', detail: `the release version ${JSON.stringify(claimed)} cannot be compared: ${why}` };
  }
  const own = inner.versionNumber >>> 0;
  const claimedNumber = versionNumber(claimed, format);
  const what = inner.format === 'capsule' ? "the capsule's FMP payload header" : 'the .fwup header';
  if (claimedNumber !== own) {
    return { rule: 'version', verdict: 'mismatch', detail: `the release says ${claimed} (${format}), ${what} says ${versionText(own, format)} (0x${own.toString(16).padStart(8, '0')})` };
  }
  return { rule: 'version', verdict: 'ok', detail: `the release and ${what} both say ${claimed} (${format})` };
}

function guidCheck(meta: Metainfo, inner: ImageReport): CabinetCheck {
  if (!inner.capsule) return { rule: 'guid', verdict: 'n/a', detail: `a ${inner.format} payload names no image type GUID` };
  const provides = new Set(meta.provides.map((g) => g.toLowerCase()));
  const types = inner.capsule.payloads.map((p) => p.updateImageTypeId.toLowerCase());
  const stray = types.find((t) => !provides.has(t));
  if (stray !== undefined) {
    return { rule: 'guid', verdict: 'mismatch', detail: `the capsule updates image type ${stray}, which the metainfo does not provide (it provides ${[...provides].join(', ') || 'none'})` };
  }
  return { rule: 'guid', verdict: 'ok', detail: `the capsule's image type${types.length > 1 ? 's' : ''} ${[...new Set(types)].join(', ')} ${types.length > 1 ? 'are' : 'is'} provided by the metainfo` };
}

/** The raw metadata of a headerless payload, from the release: its version in its format, as a number. */
export function rawFromRelease(meta: Metainfo, version: string): { version: string; versionNumber: number } | null {
  const format = meta.versionFormat ?? guessVersionFormat(version);
  if (format === null || !isKnownVersionFormat(format)) return null;
  const n = versionNumber(version, format);
  return n === null ? null : { version, versionNumber: n };
}
