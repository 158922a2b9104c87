import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { FwupError, fromSystemError } from '../errors/fwup-error.js';
import { buildCapsule, type CapsulePayloadSpec, type CapsuleSigner } from '../image/capsule-build.js';
import { parseCapsule, signedContent } from '../image/capsule-format.js';
import type { CapsuleFlagName } from '../image/capsule-layouts.js';
import { createPkcs7Signer, parseSignerPrivateKey } from '../image/capsule-sign.js';
import { loadTrustStore, verifyCapsuleSignature } from '../image/capsule-verify.js';
import { sha256Hex } from '../util/digest.js';
import { looksLikePem, pemBlocks } from '../util/pem.js';
import type { CapsulePayloadRequest } from './capsule-config.js';
import { loadCertificateFiles, readCertificateOrKeyFile } from './cert-files.js';
import { STDIN_NAME, withInputFile } from './standard-input.js';
import { resolvePath, type Context } from './context.js';
import { readFileOrFail, writeAll, writeFileAtomic } from './files.js';

export interface CapsulePackRequest {
  output: string;
  /** Replace OUT when it exists. */
  force?: boolean;
  flags: CapsuleFlagName[];
  oemFlags: number;
  embeddedDrivers: string[];
  payloads: CapsulePayloadRequest[];
}

export interface CapsulePackResult {
  output: string;
  format: 'capsule';
  size: number;
  /** SHA-256 of the whole capsule file (what a download's --sha256 pins). */
  fileSha256: string;
  embeddedDrivers: number;
  payloads: Array<{ index: number; imageTypeId: string; fwVersion: number; payloadSize: number; payloadSha256: string; signed: boolean; signer: string | null }>;
}

/** Payloads above this are refused before they are read: CapsuleImageSize is a 32-bit field. */
const MAX_CAPSULE_BYTES = 0xffff_ffff;

/**
 * Pack one or more payloads into a UEFI FMP capsule: read every input, sign, build in memory, parse
 * the result back with the same rules `inspect` applies (and verify fresh signatures when a trusted
 * certificate was named), then write it atomically. Nothing is written when any step fails.
 */
export async function packCapsule(ctx: Context, req: CapsulePackRequest): Promise<CapsulePackResult> {
  const outPath = resolvePath(ctx, req.output);
  const task = ctx.progress.start(`packing capsule ${req.output}`);
  const signers = new Map<string, Promise<CapsuleSigner>>();
  const specs: CapsulePayloadSpec[] = [];
  if (req.payloads.filter((p) => p.payload === STDIN_NAME).length > 1) {
    throw new FwupError('USAGE', 'standard input (-) can be only one of the payloads', { hint: 'give the other payloads as files' });
  }
  for (const p of req.payloads) {
    const payloadPath = resolvePath(ctx, p.payload);
    if (payloadPath === outPath) throw new FwupError('USAGE', 'the output would overwrite a payload');
    let signer: CapsuleSigner | null = null;
    if (p.signerCert) {
      const key = [p.signerCert, p.signerKey ?? '', ...p.otherCerts].join('\0');
      if (!signers.has(key)) signers.set(key, loadSigner(ctx, p));
      signer = await signers.get(key)!;
    } else if (p.signerKey || p.otherCerts.length) {
      throw new FwupError('USAGE', '--signer-key and --other-cert need --signer-cert');
    }
    specs.push({
      imageTypeId: p.guid,
      fwVersion: p.fwVersion,
      lowestSupportedVersion: p.lowestSupportedVersion,
      updateImageIndex: p.updateImageIndex,
      hardwareInstance: p.hardwareInstance,
      monotonicCount: p.monotonicCount,
      payload: await withInputFile(ctx, p.payload, (file) => readInput(resolvePath(ctx, file), 'payload')),
      signer,
    });
  }
  const drivers = await Promise.all(req.embeddedDrivers.map((d) => readInput(resolvePath(ctx, d), 'embedded driver')));
  const bytes = await buildCapsule({ flags: req.flags, oemFlags: req.oemFlags, embeddedDrivers: drivers, payloads: specs });

  // Never write a capsule that `inspect` would reject, or a signature its signer's CA would not accept.
  const parsed = parseCapsule(bytes);
  const verdicts = await Promise.all(
    parsed.payloads.map(async (pp, k) => {
      const trusted = req.payloads[k]!.trustedCert;
      if (!pp.auth) return null;
      const trust = trusted ? await loadTrustStore(await loadCertificateFiles([resolvePath(ctx, trusted)], 'trusted certificate')) : null;
      const v = await verifyCapsuleSignature(pp.auth.certData, signedContent(bytes, pp)!, trust);
      if (trust && v.status !== 'valid') {
        throw new FwupError('IMAGE_SIGNATURE_INVALID', `payload ${k}: the new signature does not verify against ${trusted}: ${v.reason}`, {
          hint: 'carry the intermediate CA with --other-cert (OpenSslOtherPublicCertFile), or trust a certificate of the signer\'s own chain',
        });
      }
      return v;
    }),
  );
  await writeFileAtomic(outPath, (fh) => writeAll(fh, bytes, 0), { exclusive: !req.force });
  task.succeed(`packed ${req.output}`);
  return {
    output: outPath,
    format: 'capsule',
    size: bytes.length,
    fileSha256: createHash('sha256').update(bytes).digest('hex'),
    embeddedDrivers: parsed.embeddedDriverCount,
    payloads: parsed.payloads.map((p, k) => ({
      index: k,
      imageTypeId: p.updateImageTypeId,
      fwVersion: p.fmpPayloadHeader.fwVersion,
      payloadSize: p.payload.length,
      payloadSha256: sha256Hex(p.payload),
      signed: p.auth !== null,
      signer: verdicts[k]?.signer ?? null,
    })),
  };
}

async function readInput(path: string, what: string): Promise<Buffer> {
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new FwupError('USAGE', `${path} (${what}) is not a regular file`);
    size = s.size;
  } catch (e) {
    throw fromSystemError(e, path, `read ${what}`);
  }
  if (size > MAX_CAPSULE_BYTES) throw new FwupError('IMAGE_TOO_LARGE', `${what} ${path} is ${size} bytes; a capsule holds at most ${MAX_CAPSULE_BYTES}`);
  return readFileOrFail(path, `read ${what}`);
}

/** The signer certificate is the first certificate of --signer-cert; the key comes from --signer-key or that same file. */
export async function loadSigner(ctx: Context, p: Pick<CapsulePayloadRequest, 'signerCert' | 'signerKey' | 'otherCerts'>): Promise<CapsuleSigner> {
  const certPath = resolvePath(ctx, p.signerCert!);
  const certFile = await readCertificateOrKeyFile(certPath, 'signer certificate');
  const certDer = looksLikePem(certFile) ? pemBlocks(certFile.toString('latin1')).find((b) => b.label === 'CERTIFICATE')?.der : certFile;
  if (!certDer) throw new FwupError('KEY_INVALID', `${certPath} holds no "-----BEGIN CERTIFICATE-----" block`);
  const keyPath = p.signerKey ? resolvePath(ctx, p.signerKey) : certPath;
  const keyFile = p.signerKey ? await readCertificateOrKeyFile(keyPath, 'signer key') : certFile;
  const privateKey = parseSignerPrivateKey(keyFile, keyPath);
  const others = await loadCertificateFiles(p.otherCerts.map((c) => resolvePath(ctx, c)), 'other certificate');
  return createPkcs7Signer({ certificate: certDer, privateKey, otherCertificates: others.map((o) => o.der), signingTime: ctx.now() }, certPath);
}
