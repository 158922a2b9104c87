import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { loadPkcs7Library } from '../../../image/pkcs7-library.js';

const pem = (label: string, der: ArrayBuffer | Buffer) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der as ArrayBuffer).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END ${label}-----\n`;

/**
 * A self-signed ECDSA P-256 certificate for the BMC's host name or address (subjectAltName and CN),
 * valid for a year, made in-process with pkijs (no openssl needed): what a BMC ships before an
 * operator installs a real one. Clients trust it with --ca (the certificate file is public).
 */
export async function selfSignedCertificate(host: string, now: Date): Promise<{ certPem: string; keyPem: string }> {
  const { pkijs, asn1js, engine } = await loadPkcs7Library();
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ valueHex: Uint8Array.from([0x01, ...randomBytes(15)]).buffer });
  const name = new pkijs.RelativeDistinguishedNames({
    typesAndValues: [new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: host }) })],
  });
  cert.subject = name;
  cert.issuer = name;
  cert.notBefore.value = new Date(now.getTime() - 3600_000);
  cert.notAfter.value = new Date(now.getTime() + 365 * 86400_000);
  const ip = isIP(host);
  const altName = ip
    ? new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: ipBytes(host, ip).buffer }) })
    : new pkijs.GeneralName({ type: 2, value: host });
  cert.extensions = [
    new pkijs.Extension({ extnID: '2.5.29.17', critical: false, extnValue: new pkijs.GeneralNames({ names: [altName] }).toSchema().toBER(false) }),
    new pkijs.Extension({ extnID: '2.5.29.19', critical: true, extnValue: new pkijs.BasicConstraints({ cA: false }).toSchema().toBER(false) }),
    // digitalSignature (bit 0): the key signs TLS handshakes only.
    new pkijs.Extension({ extnID: '2.5.29.15', critical: true, extnValue: new asn1js.BitString({ valueHex: Uint8Array.from([0x80]).buffer, unusedBits: 7 }).toBER(false) }),
    new pkijs.Extension({ extnID: '2.5.29.37', critical: false, extnValue: new pkijs.ExtKeyUsage({ keyPurposes: ['1.3.6.1.5.5.7.3.1'] }).toSchema().toBER(false) }),
  ];
  await cert.subjectPublicKeyInfo.importKey(keys.publicKey as unknown as Parameters<typeof cert.sign>[0], engine);
  await cert.sign(keys.privateKey as unknown as Parameters<typeof cert.sign>[0], 'SHA-256', engine);
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  // Through a KeyObject so the PEM is the PKCS#8 every TLS stack reads.
  const keyPem = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }).toString();
  return { certPem: pem('CERTIFICATE', cert.toSchema(true).toBER(false)), keyPem };
}

function ipBytes(host: string, family: number): Uint8Array {
  if (family === 4) return Uint8Array.from(host.split('.').map(Number));
  // IPv6: expand "::" and write eight 16-bit groups.
  const [head, tail] = host.includes('::') ? host.split('::') : [host, ''];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t].map((g) => parseInt(g || '0', 16));
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}
