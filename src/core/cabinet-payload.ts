import { randomBytes } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FwupError } from '../errors/fwup-error.js';
import type { ByteSource } from '../image/byte-source.js';
import type { TrustedCertificateInput } from '../image/capsule-verify.js';
import type { ImageVerdict, VerifyTrust } from '../image/format.js';
import { cabinetFormat } from '../image/formats/cabinet.js';
import { lvfsCaFiles } from './lvfs-ca-files.js';
import type { CabinetReport } from '../image/lvfs/cabinet-report.js';
import type { RawMetadata } from '../image/raw-format.js';
import { verifyImage } from '../image/registry.js';
import { loadCertificateFiles } from './cert-files.js';
import type { Context } from './context.js';
import { FileSource } from './file-source.js';

/** Whether a source is a cabinet (its first 8 bytes): decides whether the LVFS CA is loaded at all. */
export function isCabinet(src: ByteSource): boolean {
  const n = Math.min(src.size, 16);
  return cabinetFormat.detect(Buffer.from(src.read(0, n, Buffer.alloc(n))));
}

/**
 * The certificates a cabinet's jcat signatures are checked against: the LVFS CA PEMs the distribution
 * ships with fwupd (under the sysroot's /etc/pki/fwupd), and the ones the caller trusts already
 * (the target's, or inspect's --cert).
 */
export async function distributionCerts(ctx: Context, own: readonly TrustedCertificateInput[] | null): Promise<TrustedCertificateInput[]> {
  const files = lvfsCaFiles(ctx.sysroot);
  const lvfs = files.length ? await loadCertificateFiles(files, 'LVFS CA certificate') : [];
  return [...(own ?? []), ...lvfs];
}

/**
 * Stage's trust rule for a cabinet: a jcat signature that verifies against no trusted certificate is
 * refused (who signed it is unknown) unless --allow-unsigned, which leaves the payload's own signature
 * rules to decide. No signature, or nothing to check it against, also leaves them to decide.
 */
export function cabinetTrustRefusal(c: CabinetReport, what: string, allowUnsigned: boolean): FwupError | null {
  if (c.signature.status !== 'unknown-key' || allowUnsigned) return null;
  return new FwupError('IMAGE_SIGNATURE_UNKNOWN_KEY', `${what}: the cabinet's jcat is signed by ${c.signature.signer ?? 'an unknown signer'}, which is not trusted: ${c.signature.reason ?? 'no trusted certificate issued it'}`, {
    hint: "install the signer's CA beside the LVFS CA (/etc/pki/fwupd), or trust it on the target (fwup machine init --trust-cert); --allow-unsigned stages it on the payload's own signature alone",
    details: { file: c.signature.file, signer: c.signature.signer },
  });
}

export interface SpooledPayload {
  source: FileSource;
  verdict: ImageVerdict;
  close(): Promise<void>;
}

/**
 * A cabinet's payload as stage installs it: copied to a private file under the state directory, opened
 * once, and verified again from that descriptor as its own format with the target's trust. The write
 * pass then reads the same descriptor, so the bytes written are the bytes verified here; and these must
 * be the bytes the cabinet's checks were made on (same SHA-256), or nothing is staged.
 */
export async function spoolPayload(ctx: Context, cabinet: ImageVerdict, trust: VerifyTrust, checkpoint?: () => void): Promise<SpooledPayload> {
  const p = cabinet.payload;
  if (!p) throw new FwupError('INTERNAL', 'spoolPayload called on an image that is not a container');
  const dir = join(ctx.stateDir, 'tmp');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `cab-${process.pid}-${randomBytes(6).toString('hex')}`);
  const remove = () => rm(path, { force: true });
  try {
    const fh = await open(path, 'wx', 0o600);
    try {
      await fh.writeFile(p.bytes);
    } finally {
      await fh.close();
    }
    const source = FileSource.open(path, `${cabinet.report.cabinet?.payload.file ?? p.name} (from the cabinet)`);
    try {
      const inner = p.verdict.report;
      const raw: RawMetadata | undefined = inner.format === 'raw'
        ? { version: inner.version, versionNumber: inner.versionNumber, platform: inner.platform, lowestSupportedVersion: inner.lowestSupportedVersion, securityVersion: inner.securityVersion }
        : undefined;
      const verdict = await verifyImage(source, { trust, format: p.verdict.format, ...(raw ? { raw } : {}), ...(checkpoint ? { checkpoint } : {}) });
      if (verdict.fileSha256 !== p.verdict.fileSha256) {
        throw new FwupError('FILE_IO', `the payload copied out of the cabinet hashes to ${verdict.fileSha256.slice(0, 16)}…, not ${p.verdict.fileSha256.slice(0, 16)}… as in the cabinet (SHA-256)`, {
          hint: `nothing was staged; something changed ${dir} while fwup used it: check who else writes there`,
        });
      }
      return { source, verdict, close: async () => { source.close(); await remove(); } };
    } catch (e) {
      source.close();
      throw e;
    }
  } catch (e) {
    await remove();
    throw e;
  }
}
