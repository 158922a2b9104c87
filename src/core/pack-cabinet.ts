import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { FwupError } from '../errors/fwup-error.js';
import { BufferSource } from '../image/byte-source.js';
import { writeCabinet } from '../image/cab/cab-write.js';
import { cabinetFormat } from '../image/formats/cabinet.js';
import { buildJcat, JCAT_KIND, pkcs7Pem, type JcatBlobSpec } from '../image/lvfs/jcat-write.js';
import { buildMetainfo } from '../image/lvfs/metainfo-write.js';
import { isKnownVersionFormat, versionText, type VersionFormatName } from '../image/lvfs/version-format.js';
import type { RawMetadata } from '../image/raw-format.js';
import { reportError } from '../image/report.js';
import { verifyImage } from '../image/registry.js';
import { loadCertificateFiles } from './cert-files.js';
import { resolvePath, type Context } from './context.js';
import { readFileOrFail, writeAll, writeFileAtomic } from './files.js';
import { loadSigner } from './pack-capsule.js';
import { sha256Hex } from '../util/digest.js';

export interface CabinetPackRequest {
  payload: string;
  output: string;
  force?: boolean;
  /** A metainfo to use as is; without it one is generated from the options and the payload. */
  metainfo?: string;
  id?: string;
  name?: string;
  summary?: string;
  /** Provided GUIDs; default: the capsule's image type GUIDs. */
  guids: readonly string[];
  /** The release version; default: the payload's own in versionFormat. */
  version?: string;
  versionFormat?: string;
  description?: string;
  /** A raw payload's metadata (it has no version of its own). */
  raw?: RawMetadata;
  compress: boolean;
  /** Sign the payload and the metainfo in the jcat (PKCS#7, as the LVFS does). */
  signerCert?: string;
  signerKey?: string;
  otherCerts: readonly string[];
}

export interface CabinetPackResult {
  output: string;
  format: 'cabinet';
  size: number;
  fileSha256: string;
  files: Array<{ name: string; size: number; sha256: string }>;
  id: string;
  version: string;
  provides: string[];
  signed: boolean;
}

const MAX_PAYLOAD = 64 << 20;

/**
 * Pack a payload into an LVFS cabinet: the payload, a firmware.metainfo.xml (given, or made from the
 * options and what the payload says of itself) and a firmware.jcat with SHA-256 checksums and, with
 * --signer-cert, PKCS#7 signatures of both. The cabinet is read back with every rule inspect and
 * stage apply before it is written; a mismatch (a version the capsule does not carry) writes nothing.
 */
export async function packCabinet(ctx: Context, req: CabinetPackRequest): Promise<CabinetPackResult> {
  const outPath = resolvePath(ctx, req.output);
  const payloadPath = resolvePath(ctx, req.payload);
  if (outPath === payloadPath) throw new FwupError('USAGE', 'the output would overwrite the payload', { hint: 'give -o another file' });
  const payload = await readFileOrFail(payloadPath, 'read payload');
  if (payload.length > MAX_PAYLOAD) throw new FwupError('IMAGE_TOO_LARGE', `${payloadPath} is ${payload.length} bytes; a cabinet holds at most ${MAX_PAYLOAD}`);
  const payloadName = basename(payloadPath);
  if (/\.(jcat|metainfo\.xml)$/i.test(payloadName)) throw new FwupError('USAGE', `the payload may not be called ${payloadName}: that name is the cabinet's metadata`, { hint: 'rename the payload, e.g. firmware.bin' });
  const inner = await verifyImage(new BufferSource(payload, payloadPath), { trust: { keys: null, certs: null }, ...(req.raw ? { raw: req.raw } : {}) });
  const bad = reportError(inner.report, payloadPath);
  if (bad) throw bad;
  const now = ctx.now();
  const metainfo = req.metainfo ? await readFileOrFail(resolvePath(ctx, req.metainfo), 'read metainfo') : Buffer.from(generatedMetainfo(req, inner.report, payload, payloadName, now));
  const signer = req.signerCert ? await loadSigner(ctx, { signerCert: req.signerCert, signerKey: req.signerKey, otherCerts: [...req.otherCerts] }) : null;
  const blobs = async (data: Buffer): Promise<JcatBlobSpec[]> => [
    { kind: JCAT_KIND.sha256, data: sha256Hex(data) },
    ...(signer ? [{ kind: JCAT_KIND.pkcs7, data: pkcs7Pem(await signer.sign(data)) }] : []),
  ];
  const jcat = buildJcat([
    { id: payloadName, blobs: await blobs(payload) },
    { id: 'firmware.metainfo.xml', blobs: await blobs(metainfo) },
  ], now);
  const files = [
    { name: payloadName, data: payload },
    { name: 'firmware.metainfo.xml', data: metainfo },
    { name: 'firmware.jcat', data: jcat },
  ];
  const bytes = writeCabinet(files, { compress: req.compress, date: now });

  // Never write a cabinet stage would refuse: read it back with the same rules (the signer's own
  // certificate as trust, so a fresh signature is checked too).
  const own = req.signerCert ? (await loadCertificateFiles([resolvePath(ctx, req.signerCert)], 'signer certificate')).slice(0, 1) : [];
  const check = await cabinetFormat.verify(new BufferSource(bytes, req.output), { trust: { keys: null, certs: null, distributionCerts: own } });
  const refusal = reportError(check.report, req.output);
  if (refusal) throw refusal;
  const cab = check.report.cabinet!;
  if (signer && cab.signature.status !== 'valid') {
    throw new FwupError('JCAT_SIGNATURE_INVALID', `the new jcat signature does not verify against ${req.signerCert}: ${cab.signature.reason ?? cab.signature.status}`, { hint: 'check that --signer-key belongs to --signer-cert' });
  }
  await writeFileAtomic(outPath, (fh) => writeAll(fh, bytes, 0), { exclusive: !req.force });
  const written = await readFileOrFail(outPath, 'read back');
  const fileSha256 = sha256Hex(bytes);
  if (sha256Hex(written) !== fileSha256) {
    throw new FwupError('FILE_IO', `${outPath} does not hold what was written`, { hint: 'check the disk, then pack again' });
  }
  return {
    output: outPath, format: 'cabinet', size: bytes.length, fileSha256,
    files: files.map((f) => ({ name: f.name, size: f.data.length, sha256: sha256Hex(f.data) })),
    id: cab.metainfo.id, version: cab.release.version, provides: cab.metainfo.provides, signed: signer !== null,
  };
}

function generatedMetainfo(req: CabinetPackRequest, inner: Awaited<ReturnType<typeof verifyImage>>['report'], payload: Buffer, payloadName: string, now: Date): string {
  if (!req.id) throw new FwupError('USAGE', 'pack --format cab needs --id (the component id, e.g. com.example.laptop.firmware) or --metainfo FILE', { hint: 'fwup pack firmware.cap -o firmware.cab --format cab --id com.example.firmware' });
  const format = req.versionFormat ?? (inner.format === 'capsule' ? 'number' : null);
  if (format !== null && !isKnownVersionFormat(format)) {
    throw new FwupError('USAGE', `--version-format ${JSON.stringify(format)} is not one fwup writes`, { hint: 'use plain, number, hex, pair, triplet, quad or bcd' });
  }
  const version = req.version ?? (inner.format === 'capsule' ? versionText(inner.versionNumber, format as VersionFormatName) : inner.version);
  const provides = req.guids.length ? [...req.guids] : (inner.capsule?.payloads.map((p) => p.updateImageTypeId) ?? []);
  if (provides.length === 0) throw new FwupError('USAGE', 'pack --format cab needs --guid: the payload names no device GUID', { hint: 'give the GUID of the device it is for (the ESRT FwClass), e.g. --guid 6a1a7b26-...' });
  return buildMetainfo({
    id: req.id, name: req.name ?? req.id, summary: req.summary ?? `Firmware for ${req.name ?? req.id}`,
    provides: [...new Set(provides.map((g) => g.toLowerCase()))], version, versionFormat: format,
    description: req.description ?? null, payloadName, date: now,
    checksums: [
      { type: 'sha1', value: createHash('sha1').update(payload).digest('hex') },
      { type: 'sha256', value: sha256Hex(payload) },
    ],
  });
}
