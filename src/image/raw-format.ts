import type { PayloadDigest } from './fwup-format.js';
import type { ImageReport } from './report.js';

/** A raw `.bin` has no header: everything about it except its bytes comes from the command line. */
export interface RawMetadata {
  version: string;
  versionNumber: number;
  platform: string | null;
  lowestSupportedVersion: number;
  securityVersion: number;
}

export function rawReport(meta: RawMetadata, digest: PayloadDigest): ImageReport {
  return {
    format: 'raw',
    version: meta.version,
    versionNumber: meta.versionNumber,
    lowestSupportedVersion: meta.lowestSupportedVersion,
    securityVersion: meta.securityVersion,
    platform: meta.platform,
    flags: [],
    headerSize: 0,
    payloadOffset: 0,
    payloadSize: digest.length,
    totalSize: digest.length,
    sha256: digest.sha256,
    crc32: digest.crc32,
    buildTime: null,
    description: null,
    checks: { headerCrc: 'n/a', payloadCrc: 'n/a', sha256: 'n/a' },
    signature: { present: false, valid: null, keyId: null, status: 'unsigned', algorithm: null },
    ok: true,
  };
}
