import { FwupError } from '../../errors/fwup-error.js';
import { BufferSource, readWhole } from '../byte-source.js';
import { DEFAULT_CAB_LIMITS, readCabinet } from '../cab/cab-read.js';
import type { ImageFormat, VerifyOptions } from '../format.js';
import { cabinetChecks, rawFromRelease } from '../lvfs/cabinet-checks.js';
import { cabinetParts, metadataFiles } from '../lvfs/cabinet-contents.js';
import { cabinetSignature, type CabinetReport } from '../lvfs/cabinet-report.js';
import { parseJcat } from '../lvfs/jcat.js';
import { verifyJcat } from '../lvfs/jcat-verify.js';
import { parseMetainfo } from '../lvfs/metainfo.js';
import type { RawMetadata } from '../raw-format.js';
import { verifyImage } from '../registry.js';
import type { ImageReport } from '../report.js';
import { sha256Hex } from '../../util/digest.js';

// The signature alone: a cabinet with a bad reserved field is still a cabinet, refused with that rule.
const CAB_MAGIC = Buffer.from('MSCF', 'latin1');

/**
 * An LVFS cabinet (.cab with firmware.metainfo.xml, the payload and firmware.jcat), as fwupd installs
 * them. A container, never installed as is: verify reads the cabinet whole (every block checksummed
 * and inflated to its declared size), the metainfo, the jcat (checksums, PKCS#7 signatures against
 * the distribution's and the target's certificates), the payload as its own format with the target's
 * trust, and the rules that bind them (cabinet-checks.ts). Stage then installs the payload, which it
 * verifies again from the copy it writes (core/cabinet-payload.ts).
 */
export const cabinetFormat: ImageFormat = {
  name: 'cabinet',
  id: 4,
  container: true,
  description: 'LVFS cabinet (.cab)',
  detect: (head) => head.length >= CAB_MAGIC.length && head.subarray(0, CAB_MAGIC.length).equals(CAB_MAGIC),
  maxBytes: DEFAULT_CAB_LIMITS.maxCabinetBytes,

  async verify(src, opts) {
    const { bytes, sha256: fileSha256 } = await readWhole(src, opts);
    const cab = readCabinet(new BufferSource(bytes, src.name));
    const meta = metadataFiles(cab);
    const metainfo = parseMetainfo(meta.metainfo.data, `${src.name}: ${meta.metainfo.name}`);
    const parts = cabinetParts(cab, metainfo, meta);
    const byName = new Map(cab.files.map((f) => [f.name, f.data]));
    const catalog = meta.jcat ? parseJcat(meta.jcat.data, `${src.name}: ${meta.jcat.name}`) : null;
    const jcat = catalog ? await verifyJcat(catalog, (id) => byName.get(id) ?? null, opts.trust.distributionCerts ?? null) : null;

    const innerName = `${src.name}: ${parts.payload.name}`;
    const head = parts.payload.data.subarray(0, 16);
    if (cabinetFormat.detect(head)) throw new FwupError('CAB_INVALID', `invalid LVFS cabinet: the payload ${parts.payload.name} is itself a cabinet`, { hint: 'put the firmware itself in the cabinet' });
    const inner = await verifyImage(new BufferSource(parts.payload.data, innerName), {
      trust: opts.trust, ...(opts.checkpoint ? { checkpoint: opts.checkpoint } : {}), ...rawOption(opts, metainfo, parts.release.version),
    });
    const checks = cabinetChecks(parts, metainfo, jcat?.items ?? null, inner.report);
    const cabinet: CabinetReport = {
      files: cab.files.map((f) => ({ name: f.name, size: f.size, sha256: sha256Hex(f.data), role: parts.roleOf(f.name), modified: f.modified })),
      folders: cab.folders.map((f) => ({ compression: f.compression, blocks: f.blocks, compressedSize: f.compressedSize, uncompressedSize: f.uncompressedSize })),
      metainfo: { ...metainfo, file: meta.metainfo.name },
      release: { version: parts.release.version, versionFormat: metainfo.versionFormat },
      payload: { file: parts.payload.name, size: parts.payload.size, sha256: inner.fileSha256, chosenBy: parts.payloadChosenBy },
      jcat: catalog && jcat && meta.jcat ? { file: meta.jcat.name, version: catalog.version, items: jcat.items } : null,
      signature: cabinetSignature(jcat?.items ?? [], parts.payload.name, meta.metainfo.name),
      checks,
      inner: inner.report,
    };
    return { format: cabinetFormat, report: cabinetImageReport(cabinet, src.size), fileSha256, fileSize: src.size, payload: { name: parts.payload.name, bytes: parts.payload.data, verdict: inner } };
  },

  slotHeader() {
    throw new FwupError('INTERNAL', 'a cabinet is not installed as is: its payload is', { hint: 'this is a bug in fwup: please report it' });
  },
};

/** A headerless payload takes its version from the release (unless the user gave one). */
function rawOption(opts: VerifyOptions, meta: Parameters<typeof rawFromRelease>[0], version: string): { raw?: RawMetadata } {
  if (opts.raw) return { raw: opts.raw };
  const fromRelease = rawFromRelease(meta, version);
  return fromRelease ? { raw: { ...fromRelease, platform: null, lowestSupportedVersion: 0, securityVersion: 0 } } : {};
}

/** The cabinet as an ImageReport: the payload's facts (what is installed), the cabinet's own size and verdicts. */
function cabinetImageReport(cabinet: CabinetReport, size: number): ImageReport {
  const { capsule: _capsule, ...inner } = cabinet.inner;
  const consistent = cabinet.checks.every((c) => c.verdict !== 'mismatch') && cabinet.signature.status !== 'invalid';
  return {
    ...inner,
    format: 'cabinet',
    headerSize: 0,
    totalSize: size,
    description: cabinet.metainfo.name ?? inner.description,
    ok: inner.ok && consistent,
    cabinet,
  };
}
