import { createHash } from 'node:crypto';
import { FwupError } from '../errors/fwup-error.js';
import { DIGEST_NAMES, loadPkcs7Library, toArrayBuffer, type Pkcs7Library } from './pkcs7-library.js';

/**
 * Verify the PKCS#7 signature of one capsule payload the way edk2's FmpAuthenticationLibPkcs7 →
 * Pkcs7Verify (OpenSSL PKCS7_verify) does:
 * - the signed content is given by the caller (update image after the auth block ‖ MonotonicCount);
 * - every SignerInfo must verify: its messageDigest attribute (when signed attributes are present)
 *   must equal the digest of the content, and its signature must verify with the signer certificate
 *   carried in the SignedData;
 * - the signer certificate must chain, through the certificates carried in the SignedData, to one of
 *   the trusted certificates. As edk2 sets X509_V_FLAG_PARTIAL_CHAIN and X509_V_FLAG_NO_CHECK_TIME with
 *   purpose "any": any certificate of the chain may be the trust anchor, validity dates are not checked
 *   (edk2's test certificates expired in 2018), and extended key usage is not required.
 * Pure: bytes in, verdict out; async because WebCrypto is.
 */

export type CapsuleSignatureStatus = 'valid' | 'invalid' | 'unknown-key' | 'not-verified';

export interface CapsuleSignatureVerdict {
  status: CapsuleSignatureStatus;
  /** Digest algorithm of the (first) SignerInfo, e.g. "sha256"; null when CertData does not parse. */
  digestAlgorithm: string | null;
  /** Subject of the signer certificate, e.g. "CN=TestCert, O=TianoCore". */
  signer: string | null;
  /** First 8 bytes (hex) of the SHA-256 fingerprint of the signer certificate. */
  keyId: string | null;
  /** The trusted certificate the chain ended at (valid only). */
  trustAnchor: string | null;
  /** Why the verdict is not "valid". */
  reason: string | null;
}

export interface TrustedCertificateInput {
  /** Where it came from, for messages. */
  name: string;
  der: Buffer;
}

type Certificate = InstanceType<Pkcs7Library['pkijs']['Certificate']>;

export interface TrustStore {
  readonly anchors: ReadonlyArray<{ name: string; cert: Certificate; subject: string }>;
}

/** Maximum chain length walked from the signer, so a loop of cross-signed certificates ends. */
const MAX_CHAIN = 8;

/** Parse trusted certificates (DER). Throws KEY_INVALID naming the file for one that does not parse. */
export async function loadTrustStore(inputs: readonly TrustedCertificateInput[]): Promise<TrustStore> {
  const { pkijs } = await loadPkcs7Library();
  const anchors = inputs.map(({ name, der }) => {
    let cert: Certificate;
    try {
      cert = pkijs.Certificate.fromBER(toArrayBuffer(der));
    } catch {
      throw new FwupError('KEY_INVALID', `${name} is not an X.509 certificate`, {
        hint: 'give the trusted certificate as PEM ("-----BEGIN CERTIFICATE-----") or DER, e.g. TestRoot.pub.pem',
      });
    }
    return { name, cert, subject: subjectText(cert) };
  });
  return { anchors };
}

export interface SignatureCheckOptions {
  /**
   * Look for a SignerInfo's certificate among the trusted ones too when the SignedData does not carry
   * it, as GnuTLS does for a jcat catalog (jcat-tool self-sign carries none); edk2 does not.
   */
  signerFromTrusted?: boolean;
}

/** Verify `certData` over `content`; `trust` null means "report what is there, check nothing". */
export async function verifyCapsuleSignature(
  certData: Buffer,
  content: Buffer,
  trust: TrustStore | null,
  options: SignatureCheckOptions = {},
): Promise<CapsuleSignatureVerdict> {
  const lib = await loadPkcs7Library();
  const verdict: CapsuleSignatureVerdict = { status: 'invalid', digestAlgorithm: null, signer: null, keyId: null, trustAnchor: null, reason: null };
  const fail = (reason: string): CapsuleSignatureVerdict => ({ ...verdict, status: 'invalid', reason });

  const signed = parseSignedData(lib, certData);
  if (typeof signed === 'string') return fail(signed);
  if (signed.signerInfos.length === 0) return fail('the SignedData has no SignerInfo');
  const firstDigest = signed.signerInfos[0]!.digestAlgorithm.algorithmId;
  verdict.digestAlgorithm = DIGEST_NAMES[firstDigest] ?? firstDigest;
  const carried = (signed.certificates ?? []).filter((c): c is Certificate => c instanceof lib.pkijs.Certificate);
  const signerCert = findSigner(lib, signed.signerInfos[0]!, carried);
  if (signerCert) {
    verdict.signer = subjectText(signerCert);
    verdict.keyId = createHash('sha256').update(certificateDer(signerCert)).digest('hex').slice(0, 16);
  }
  if (signed.encapContentInfo.eContent) {
    return fail('the SignedData carries its own content; a capsule signature must be detached');
  }
  if (trust === null) return { ...verdict, status: 'not-verified' };
  if (options.signerFromTrusted) {
    for (let i = 0; i < signed.signerInfos.length; i++) {
      const si = signed.signerInfos[i]!;
      if (findSigner(lib, si, carried)) continue;
      const trusted = findSigner(lib, si, trust.anchors.map((a) => a.cert));
      if (!trusted) {
        return { ...verdict, status: 'unknown-key', reason: `SignerInfo ${i}: its certificate (${signerIdText(lib, si)}) is neither carried in the SignedData nor trusted` };
      }
      // pkijs finds the signer among the SignedData's certificates; lend it the trusted one.
      carried.push(trusted);
      signed.certificates = [...(signed.certificates ?? []), trusted];
      if (i === 0) {
        verdict.signer = subjectText(trusted);
        verdict.keyId = createHash('sha256').update(certificateDer(trusted)).digest('hex').slice(0, 16);
      }
    }
  }

  const data = toArrayBuffer(content);
  for (let i = 0; i < signed.signerInfos.length; i++) {
    let ok: boolean;
    try {
      const r = await signed.verify({ signer: i, data, checkChain: false, extendedMode: true }, lib.engine);
      ok = r.signatureVerified === true;
    } catch (e) {
      return fail(`SignerInfo ${i}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!ok) return fail(`SignerInfo ${i}: the signature does not verify over the signed content`);
  }
  // Every SignerInfo verified; each signer must chain to a trusted certificate.
  for (let i = 0; i < signed.signerInfos.length; i++) {
    const cert = findSigner(lib, signed.signerInfos[i]!, carried);
    if (!cert) return fail(`SignerInfo ${i}: its certificate is not in the SignedData`);
    const chain = await chainToAnchor(lib, cert, carried, trust);
    if ('problem' in chain) return { ...verdict, status: 'unknown-key', reason: chain.problem };
    if (i === 0) verdict.trustAnchor = chain.anchor;
  }
  return { ...verdict, status: 'valid' };
}

type SignedData = InstanceType<Pkcs7Library['pkijs']['SignedData']>;
type SignerInfo = SignedData['signerInfos'][number];

/** ContentInfo{signedData}, or a bare SignedData, which edk2's WrapPkcs7Data also accepts. */
function parseSignedData({ pkijs }: Pkcs7Library, certData: Buffer): SignedData | string {
  const raw = toArrayBuffer(certData);
  try {
    const info = pkijs.ContentInfo.fromBER(raw);
    if (info.contentType !== pkijs.ContentInfo.SIGNED_DATA) return `CertData is a PKCS#7 ${info.contentType}, not signedData`;
    return new pkijs.SignedData({ schema: info.content });
  } catch {
    try {
      return pkijs.SignedData.fromBER(raw);
    } catch {
      return 'CertData is not a DER PKCS#7 SignedData';
    }
  }
}

/** "issuer CN=…, serial 7ae8…" or "subjectKeyIdentifier …": who a SignerInfo says signed. */
function signerIdText({ pkijs }: Pkcs7Library, si: SignerInfo): string {
  if (si.sid instanceof pkijs.IssuerAndSerialNumber) {
    const issuer = nameText(si.sid.issuer);
    return `issuer ${issuer === '' ? '(empty)' : issuer}, serial ${Buffer.from(si.sid.serialNumber.valueBlock.valueHexView).toString('hex')}`;
  }
  return `subjectKeyIdentifier ${Buffer.from((si.sid as { valueBlock: { valueHexView: Uint8Array } }).valueBlock.valueHexView).toString('hex')}`;
}

function findSigner({ pkijs }: Pkcs7Library, si: SignerInfo, carried: readonly Certificate[]): Certificate | null {
  if (si.sid instanceof pkijs.IssuerAndSerialNumber) {
    const sid = si.sid;
    return carried.find((c) => c.issuer.isEqual(sid.issuer) && c.serialNumber.isEqual(sid.serialNumber)) ?? null;
  }
  // subjectKeyIdentifier: compare with the certificates' SKI extension.
  const ski = Buffer.from((si.sid as { valueBlock: { valueHexView: Uint8Array } }).valueBlock.valueHexView);
  return (
    carried.find((c) => {
      const ext = c.extensions?.find((e) => e.extnID === '2.5.29.14');
      const v = ext?.parsedValue as { valueBlock?: { valueHexView?: Uint8Array } } | undefined;
      return v?.valueBlock?.valueHexView !== undefined && Buffer.from(v.valueBlock.valueHexView).equals(ski);
    }) ?? null
  );
}

/**
 * Walk issuer links from `cert` until a trusted certificate (compared byte for byte) is reached.
 * Returns the anchor's subject and file, or why no chain reaches one.
 */
async function chainToAnchor(
  lib: Pkcs7Library,
  cert: Certificate,
  carried: readonly Certificate[],
  trust: TrustStore,
): Promise<{ anchor: string } | { problem: string }> {
  let cur = cert;
  const pool = [...carried, ...trust.anchors.map((a) => a.cert)];
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    const anchor = trust.anchors.find((a) => sameCertificate(a.cert, cur));
    if (anchor) return { anchor: `${anchor.subject} (${anchor.name})` };
    let next: Certificate | null = null;
    for (const candidate of pool) {
      if (!candidate.subject.isEqual(cur.issuer) || sameCertificate(candidate, cur) || !mayIssue(candidate)) continue;
      let ok = false;
      try {
        ok = await cur.verify(candidate, lib.engine);
      } catch {
        ok = false;
      }
      if (ok) {
        next = candidate;
        break;
      }
    }
    if (!next) {
      return {
        problem: `the chain from ${subjectText(cert)} ends at ${subjectText(cur)}, which is not trusted and whose issuer (${nameText(cur.issuer)}) is neither carried nor trusted`,
      };
    }
    cur = next;
  }
  return { problem: `no trusted certificate within ${MAX_CHAIN} links of ${subjectText(cert)}` };
}

/**
 * An issuer must be a CA: basicConstraints cA, and keyCertSign when keyUsage is present. An X.509 v1
 * certificate has no extensions at all; OpenSSL accepts it as a CA, and so does this.
 */
function mayIssue(cert: Certificate): boolean {
  if (cert.version === 0 && !cert.extensions) return true;
  const exts = cert.extensions ?? [];
  const bc = exts.find((e) => e.extnID === '2.5.29.19')?.parsedValue as { cA?: boolean } | undefined;
  if (!bc?.cA) return false;
  const ku = exts.find((e) => e.extnID === '2.5.29.15')?.parsedValue as { valueBlock?: { valueHexView?: Uint8Array } } | undefined;
  const bits = ku?.valueBlock?.valueHexView;
  if (bits && bits.length > 0) return ((bits[0] ?? 0) & 0x04) !== 0; // bit 5: keyCertSign
  return true;
}

function sameCertificate(a: Certificate, b: Certificate): boolean {
  return Buffer.from(a.tbsView).equals(Buffer.from(b.tbsView)) &&
    Buffer.from(a.signatureValue.valueBlock.valueHexView).equals(Buffer.from(b.signatureValue.valueBlock.valueHexView));
}

function certificateDer(c: Certificate): Buffer {
  return Buffer.from(c.toSchema().toBER(false));
}

const ATTRIBUTE_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

type Name = Certificate['subject'];

function nameText(n: Name): string {
  return n.typesAndValues
    .map((tv) => `${ATTRIBUTE_NAMES[tv.type] ?? tv.type}=${String((tv.value as { valueBlock: { value: unknown } }).valueBlock.value)}`)
    .join(', ');
}

function subjectText(c: Certificate): string {
  return nameText(c.subject);
}
