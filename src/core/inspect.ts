import { reportError, type ImageReport } from '../image/report.js';
import type { RawMetadata } from '../image/raw-format.js';
import type { FwupError } from '../errors/fwup-error.js';
import { resolvePath, type Context } from './context.js';
import { verifyImage } from '../image/registry.js';
import { cabinetTrustRefusal, distributionCerts, isCabinet } from './cabinet-payload.js';
import { FileSource } from './file-source.js';
import { fileOf, type ImageFile } from './image-reader.js';
import { loadPublicKeys } from './key-files.js';
import { loadCertificateFiles } from './cert-files.js';
import { STDIN_NAME, withInputFile } from './standard-input.js';

export interface InspectResult {
  path: string;
  report: ImageReport;
  /** SHA-256 of the whole file (what `stage URL --sha256` and `fetch --sha256` pin). */
  fileSha256: string;
  fileSize: number;
  /** Set when a check failed: the report is still complete, the error says which check. */
  error: FwupError | null;
}

export async function inspect(
  ctx: Context,
  image: string,
  opts: { keys: readonly string[]; certs?: readonly string[]; raw?: RawMetadata },
): Promise<InspectResult> {
  return withInputFile(ctx, image, async (file) => {
    const r = await inspectFile(ctx, resolvePath(ctx, file), image, opts);
    return image === STDIN_NAME ? { ...r, path: STDIN_NAME } : r;
  });
}

async function inspectFile(
  ctx: Context,
  path: string,
  image: string,
  opts: { keys: readonly string[]; certs?: readonly string[]; raw?: RawMetadata },
): Promise<InspectResult> {
  const keys = opts.keys.length ? await loadPublicKeys(opts.keys.map((k) => resolvePath(ctx, k))) : null;
  const certPaths = opts.certs ?? [];
  const trustedCerts = certPaths.length ? await loadCertificateFiles(certPaths.map((c) => resolvePath(ctx, c)), 'trusted certificate', { refusePrivateKeys: true }) : null;
  const task = ctx.progress.start(`verifying ${image}`);
  const src = FileSource.open(path, image === STDIN_NAME ? 'standard input' : path);
  let file: ImageFile;
  try {
    const distribution = isCabinet(src) ? { distributionCerts: await distributionCerts(ctx, trustedCerts) } : {};
    file = fileOf(path, await verifyImage(src, {
      trust: { keys, certs: trustedCerts, ...distribution },
      ...(opts.raw ? { raw: opts.raw } : {}),
      onProgress: (done, total) => task.update(done, `verifying ${image} ${Math.floor((done / total) * 100)}%`),
    }));
  } finally {
    src.close();
  }
  task.succeed();
  const checked = file.report.cabinet?.inner.format ?? file.format;
  if (checked === 'capsule' && keys) ctx.log.warn('--key checks .fwup signatures; a capsule is checked against --cert');
  if (checked !== 'capsule' && file.format !== 'cabinet' && trustedCerts) ctx.log.warn('--cert checks capsule signatures; this image is checked against --key');
  return { path, report: file.report, fileSha256: file.fileSha256, fileSize: file.fileSize, error: inspectError(file.report, image, trustedCerts !== null) };
}

/** The first failed check; for a cabinet whose jcat signer is untrusted, an error only when --cert named whom to trust. */
function inspectError(r: ImageReport, image: string, certsGiven: boolean): FwupError | null {
  const e = reportError(r, image);
  if (e || !r.cabinet || !certsGiven) return e;
  return cabinetTrustRefusal(r.cabinet, image, false);
}
