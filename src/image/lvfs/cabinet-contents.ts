import { FwupError } from '../../errors/fwup-error.js';
import type { Cabinet, CabFileEntry } from '../cab/cab-read.js';
import type { Metainfo, MetainfoRelease } from './metainfo.js';

/**
 * Which file of an LVFS cabinet is what: exactly one `*.metainfo.xml` (fwup stages one component per
 * cabinet), at most one `*.jcat`, and the payload the metainfo's release names (its content checksum's
 * filename), else `firmware.bin`, else the one file left. Anything else is reported and not installed.
 */

export type CabinetFileRole = 'payload' | 'metainfo' | 'jcat' | 'other';

export interface CabinetParts {
  metainfo: CabFileEntry;
  jcat: CabFileEntry | null;
  /** The release installed: the first in the document (LVFS writes one, newest first). */
  release: MetainfoRelease;
  payload: CabFileEntry;
  /** Why this file is the payload, for the report. */
  payloadChosenBy: 'metainfo checksum filename' | 'firmware.bin' | 'only file';
  roleOf(name: string): CabinetFileRole;
}

const isMetainfo = (n: string) => n.toLowerCase().endsWith('.metainfo.xml');
const isJcat = (n: string) => n.toLowerCase().endsWith('.jcat');

function refuse(rule: string, hint: string): FwupError {
  return new FwupError('CAB_INVALID', `invalid LVFS cabinet: ${rule}`, { hint, details: { rule } });
}

/** The metainfo and jcat files, before the metainfo is parsed. */
export function metadataFiles(cab: Cabinet): { metainfo: CabFileEntry; jcat: CabFileEntry | null } {
  const metainfos = cab.files.filter((f) => isMetainfo(f.name));
  if (metainfos.length === 0) {
    throw refuse('it holds no *.metainfo.xml, so nothing says what the firmware is or which device it is for',
      'an LVFS cabinet carries firmware.metainfo.xml beside the payload (fwupdtool build-cabinet adds it)');
  }
  if (metainfos.length > 1) {
    throw refuse(`it holds ${metainfos.length} metainfo files (${metainfos.map((f) => f.name).join(', ')}); fwup stages one component per cabinet`,
      'split it into one cabinet per component');
  }
  const jcats = cab.files.filter((f) => isJcat(f.name));
  if (jcats.length > 1) throw refuse(`it holds ${jcats.length} .jcat catalogs; a cabinet has at most one`, 'rebuild the cabinet with a single firmware.jcat');
  return { metainfo: metainfos[0]!, jcat: jcats[0] ?? null };
}

export function cabinetParts(cab: Cabinet, meta: Metainfo, files: { metainfo: CabFileEntry; jcat: CabFileEntry | null }): CabinetParts {
  const release = meta.releases[0];
  if (!release) throw refuse('the metainfo lists no release', 'add a <release version="..."> to the metainfo');
  const byName = new Map(cab.files.map((f) => [f.name, f]));
  const named = release.checksums.find((c) => c.target === 'content' && c.filename !== null)?.filename ?? null;
  let payload: CabFileEntry | undefined;
  let chosenBy: CabinetParts['payloadChosenBy'];
  if (named !== null) {
    payload = byName.get(named);
    if (!payload) throw refuse(`the metainfo names the payload ${JSON.stringify(named)}, which the cabinet does not hold`, 'rebuild the cabinet with the file the metainfo names');
    chosenBy = 'metainfo checksum filename';
  } else if (byName.has('firmware.bin')) {
    payload = byName.get('firmware.bin')!;
    chosenBy = 'firmware.bin';
  } else {
    const rest = cab.files.filter((f) => !isMetainfo(f.name) && !isJcat(f.name));
    if (rest.length !== 1) {
      throw refuse(rest.length === 0 ? 'it holds no payload besides its metadata' : `the metainfo names no payload and the cabinet holds ${rest.length} candidates (${rest.map((f) => f.name).join(', ')})`,
        'name the payload in the release: <checksum target="content" filename="..."/>');
    }
    payload = rest[0]!;
    chosenBy = 'only file';
  }
  if (payload.size === 0) throw refuse(`the payload ${JSON.stringify(payload.name)} is empty`, 'rebuild the cabinet with the firmware in it');
  const chosen = payload;
  return {
    ...files, release, payload: chosen, payloadChosenBy: chosenBy,
    roleOf: (n) => (n === chosen.name ? 'payload' : n === files.metainfo.name ? 'metainfo' : files.jcat && n === files.jcat.name ? 'jcat' : 'other'),
  };
}
