import { createHash, createPrivateKey, createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { FwupError } from '../errors/fwup-error.js';
import type { CapsuleSigner } from './capsule-build.js';
import { loadPkcs7Library, toArrayBuffer } from './pkcs7-library.js';

/**
 * Sign capsule payloads with PKCS#7 the way GenerateCapsule's `openssl smime -sign -binary -outform DER
 * -md sha256 -signer CERT -certfile OTHER` does: a detached SignedData (ContentInfo-wrapped), SHA-256,
 * signed attributes contentType, signingTime and messageDigest, carrying the signer certificate and the
 * other certificates (the intermediate CA), one SignerInfo identified by issuer and serial number.
 */

const OID = {
  data: '1.2.840.113549.1.7.1',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
} as const;

export interface Pkcs7SignerInput {
  /** DER of the signer's certificate. */
  certificate: Buffer;
  privateKey: KeyObject;
  /** DER certificates carried beside the signer's, so a verifier can build the chain. */
  otherCertificates: readonly Buffer[];
  /** The signingTime attribute (openssl puts the current time there; tests pass a fixed one). */
  signingTime: Date;
}

/** A private key from PEM (PKCS#8, PKCS#1 or SEC1) text, which may also hold certificates. */
export function parseSignerPrivateKey(pem: Buffer, name: string): KeyObject {
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch (e) {
    const encrypted = /ENCRYPTED/.test(pem.toString('latin1'));
    throw new FwupError('KEY_INVALID', `${name} holds no usable private key${encrypted ? ' (it is encrypted)' : ''}`, {
      hint: encrypted
        ? 'decrypt it first, e.g. openssl pkey -in KEY -out KEY.plain.pem'
        : 'give the signer key with --signer-key, or a --signer-cert file holding both (like edk2 TestCert.pem)',
      cause: e,
    });
  }
}

type WebCryptoAlgorithm = Parameters<typeof webcrypto.subtle.importKey>[2];

function webCryptoAlgorithm(key: KeyObject, name: string): WebCryptoAlgorithm {
  if (key.asymmetricKeyType === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  if (key.asymmetricKeyType === 'ec') {
    const curve = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' }[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (curve) return { name: 'ECDSA', namedCurve: curve };
  }
  throw new FwupError('KEY_INVALID', `${name} is a ${key.asymmetricKeyType ?? 'unknown'} key; capsules are signed with RSA or ECDSA (P-256, P-384, P-521)`);
}

export async function createPkcs7Signer(input: Pkcs7SignerInput, name: string): Promise<CapsuleSigner> {
  const { pkijs, asn1js, engine } = await loadPkcs7Library();
  let cert: InstanceType<typeof pkijs.Certificate>;
  try {
    cert = pkijs.Certificate.fromBER(toArrayBuffer(input.certificate));
  } catch {
    throw new FwupError('KEY_INVALID', `${name} is not an X.509 certificate`);
  }
  const others = input.otherCertificates.map((der, i) => {
    try {
      return pkijs.Certificate.fromBER(toArrayBuffer(der));
    } catch {
      throw new FwupError('KEY_INVALID', `other certificate ${i + 1} is not an X.509 certificate`);
    }
  });
  const certKey = Buffer.from(cert.subjectPublicKeyInfo.toSchema().toBER(false));
  const ownKey = createPublicKey(input.privateKey).export({ type: 'spki', format: 'der' });
  if (!certKey.equals(ownKey)) {
    throw new FwupError('KEY_INVALID', `the private key does not belong to the signer certificate ${name}`, {
      hint: 'give the key that was certified, or the certificate of this key',
    });
  }
  const pkcs8 = input.privateKey.export({ type: 'pkcs8', format: 'der' });
  const cryptoKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, webCryptoAlgorithm(input.privateKey, name), false, ['sign']);

  return {
    async sign(content: Buffer): Promise<Buffer> {
      const digest = createHash('sha256').update(content).digest();
      // DER orders a SET OF by encoding; these three sort as listed (their SEQUENCE lengths grow).
      const attributes = [
        new pkijs.Attribute({ type: OID.contentType, values: [new asn1js.ObjectIdentifier({ value: OID.data })] }),
        new pkijs.Attribute({ type: OID.signingTime, values: [new asn1js.UTCTime({ valueDate: input.signingTime })] }),
        new pkijs.Attribute({ type: OID.messageDigest, values: [new asn1js.OctetString({ valueHex: toArrayBuffer(digest) })] }),
      ];
      const signed = new pkijs.SignedData({
        version: 1,
        encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: OID.data }),
        signerInfos: [
          new pkijs.SignerInfo({
            version: 1,
            sid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
            signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes }),
          }),
        ],
        certificates: [cert, ...others],
      });
      await signed.sign(cryptoKey as unknown as Parameters<typeof signed.sign>[0], 0, 'SHA-256', toArrayBuffer(content), engine);
      const info = new pkijs.ContentInfo({ contentType: pkijs.ContentInfo.SIGNED_DATA, content: signed.toSchema(true) });
      return Buffer.from(info.toSchema().toBER(false));
    },
  };
}
