import { FwupError } from '../errors/fwup-error.js';
import { refusePrivateKey } from '../image/keys.js';
import { looksLikePem, pemBlocks } from '../util/pem.js';
import { readFileOrFail } from './files.js';

/** An X.509 certificate file, as `--cert` and `--other-cert` name them: PEM (one or more) or DER. */
export interface CertificateFile {
  name: string;
  der: Buffer;
}

export async function readCertificateOrKeyFile(path: string, what: string): Promise<Buffer> {
  try {
    return await readFileOrFail(path, `read ${what}`);
  } catch (e) {
    if (e instanceof FwupError && e.code === 'FILE_NOT_FOUND') {
      throw new FwupError('KEY_NOT_FOUND', e.message, { hint: `check the path of the ${what}` });
    }
    throw e;
  }
}

/**
 * Every certificate in each file (a PEM bundle may hold several). Where a certificate is to be trusted,
 * a file that also holds a private key is refused: trust anchors are public, and a signing key that
 * travels with them is a key that leaked. Other uses (certificates carried in a signature) skip it.
 */
export async function loadCertificateFiles(paths: readonly string[], what = 'certificate', opts: { refusePrivateKeys?: boolean } = {}): Promise<CertificateFile[]> {
  const out: CertificateFile[] = [];
  for (const path of paths) {
    const bytes = await readCertificateOrKeyFile(path, what);
    if (opts.refusePrivateKeys) refusePrivateKey(bytes, path, `a ${what}`);
    if (!looksLikePem(bytes)) {
      out.push({ name: path, der: bytes });
      continue;
    }
    const certs = pemBlocks(bytes.toString('latin1')).filter((b) => b.label === 'CERTIFICATE');
    if (certs.length === 0) {
      throw new FwupError('KEY_INVALID', `${path} holds no "-----BEGIN CERTIFICATE-----" block`, {
        hint: `the ${what} must be an X.509 certificate in PEM or DER form`,
      });
    }
    certs.forEach((c, i) => out.push({ name: certs.length > 1 ? `${path}#${i + 1}` : path, der: c.der }));
  }
  return out;
}
