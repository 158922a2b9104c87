/**
 * PEM blocks ("-----BEGIN LABEL----- base64 -----END LABEL-----") out of a text that may hold several,
 * in order, e.g. edk2's TestCert.pem, which holds a certificate and its private key.
 */
export interface PemBlock {
  label: string;
  der: Buffer;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(PEM_RE)) {
    const body = m[2]!.replace(/\s+/g, '');
    // Encapsulated headers (RFC 1421 "Proc-Type: ...") mark encrypted keys, which are not supported here.
    if (body.includes(':')) continue;
    out.push({ label: m[1]!, der: Buffer.from(body, 'base64') });
  }
  return out;
}

/** True when the bytes look like PEM text rather than DER (DER starts with a SEQUENCE tag, 0x30). */
export function looksLikePem(bytes: Buffer): boolean {
  return bytes.subarray(0, 4096).toString('latin1').includes('-----BEGIN ');
}
