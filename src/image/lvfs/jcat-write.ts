import { gzipSync } from 'node:zlib';

/**
 * A firmware.jcat as libjcat writes it: gzipped JSON, one item per file, blobs of kind 1 (SHA-256,
 * hex text) and 3 (PKCS#7, PEM text), flagged UTF-8. Read back by parseJcat before it is packed.
 */

export const JCAT_KIND = { sha256: 1, gpg: 2, pkcs7: 3, sha1: 4 } as const;
const FLAG_UTF8 = 1;

export interface JcatBlobSpec {
  kind: number;
  data: string;
}

export function buildJcat(items: ReadonlyArray<{ id: string; blobs: readonly JcatBlobSpec[] }>, timestamp: Date): Buffer {
  const seconds = Math.floor(timestamp.getTime() / 1000);
  const doc = {
    JcatVersionMajor: 0,
    JcatVersionMinor: 1,
    Items: items.map((i) => ({ Id: i.id, Blobs: i.blobs.map((b) => ({ Kind: b.kind, Flags: FLAG_UTF8, Timestamp: seconds, Data: b.data })) })),
  };
  // mtime 0 in the gzip header (node writes none): the same inputs give the same bytes.
  return gzipSync(Buffer.from(JSON.stringify(doc)));
}

/** A DER PKCS#7 signature as the PEM text libjcat stores. */
export function pkcs7Pem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN PKCS7-----\n${b64}-----END PKCS7-----\n`;
}
