import { checkCapsuleHeader, parseCapsule, signedContent } from '../capsule-format.js';
import { capsuleHeaderLayout } from '../capsule-layouts.js';
import { capsuleImageReport } from '../capsule-report.js';
import { loadTrustStore, verifyCapsuleSignature, type CapsuleSignatureVerdict } from '../capsule-verify.js';
import { readWhole } from '../byte-source.js';
import type { ImageFormat } from '../format.js';
import { payloadSlotHeader } from './raw.js';

const FMP_CAPSULE_GUID_BYTES = Buffer.from('edd5cb6d2de8444cbda17194199ad92a', 'hex');

/**
 * A UEFI FMP capsule. The 28-byte header is checked against the source size first (a damaged size
 * never makes us allocate or read gigabytes), then the capsule is read once into memory, parsed with
 * edk2's rules, and every signed payload's PKCS#7 signature is checked against the trusted
 * certificates. The firmware installs the first payload, after its FMP payload header.
 */
export const capsuleFormat: ImageFormat = {
  name: 'capsule',
  id: 2,
  description: 'UEFI FMP capsule',
  detect: (head) => head.length >= 16 && head.subarray(0, 16).equals(FMP_CAPSULE_GUID_BYTES),
  maxBytes: 256 << 20,

  async verify(src, opts) {
    const head = src.read(0, Math.min(src.size, capsuleHeaderLayout.size), Buffer.allocUnsafe(capsuleHeaderLayout.size));
    checkCapsuleHeader(Buffer.from(head), src.size);
    const { bytes, sha256: fileSha256 } = await readWhole(src, opts);
    const parsed = parseCapsule(bytes);
    const certs = opts.trust.certs;
    const store = certs && certs.length > 0 ? await loadTrustStore(certs) : null;
    const verdicts: Array<CapsuleSignatureVerdict | null> = [];
    for (const p of parsed.payloads) {
      const content = signedContent(bytes, p);
      verdicts.push(p.auth && content ? await verifyCapsuleSignature(p.auth.certData, content, store) : null);
    }
    return { format: capsuleFormat, report: capsuleImageReport(parsed, verdicts), fileSha256, fileSize: src.size };
  },

  slotHeader: (report, platform) => payloadSlotHeader(report, platform),
};
