// The expected fields of a capsule fixture, derived from its description (test/helpers/capsule-fixture-spec.ts)
// by layout arithmetic alone (UEFI 2.10 §23.3 and edk2 GenerateCapsule's packing), never by fwup's
// parser: make-capsule-fixtures.mjs then checks fwup's parser against these, so the manifest is an
// independent statement of what a parser must find. Field names and conventions as in the edk2 corpus.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';

const FLAG_BITS = { PersistAcrossReset: 0x0001_0000, PopulateSystemTable: 0x0002_0000, InitiateReset: 0x0004_0000 };
const CAPSULE_HEADER = 32; // GenerateCapsule writes the 28-byte EFI_CAPSULE_HEADER then 4 zero bytes
const IMAGE_HEADER_V3 = 48;
const AUTH_HEADER = 32; // MonotonicCount (8) + WIN_CERTIFICATE_UEFI_GUID up to CertData (24)
const MSS1_HEADER = 16;
export const FMP_CAPSULE_GUID = '6DCBD5ED-E82D-4C44-BDA1-7194199AD92A';
export const PKCS7_GUID = '4AAFD29D-68DF-49EE-8AA9-347D375665A7';

export const hex64 = (v) => `0x${BigInt(v).toString(16).toUpperCase().padStart(16, '0')}`;
export const sha256 = (b) => createHash('sha256').update(b).digest('hex');

/**
 * `inputs` holds the bytes that went in: drivers[i], payloads[k] = { payload, dependency, vendorCode,
 * certData (null when unsigned) }. Returns the manifest entry without file/size/sha256.
 */
export function expectedCapsule(spec, inputs) {
  const n = spec.drivers.length + spec.payloads.length;
  const flags = (spec.flags.reduce((v, f) => v | FLAG_BITS[f], 0) | spec.oemFlags) >>> 0;
  const itemOffsets = [];
  let offset = 8 + 8 * n;
  const embeddedDrivers = spec.drivers.map((d, i) => {
    const bytes = inputs.drivers[i];
    const e = { itemOffset: hex64(offset), fileOffset: CAPSULE_HEADER + offset, length: bytes.length, sha256: sha256(bytes), prngLabel: d.label, firstTwoBytes: 'MZ' };
    itemOffsets.push(hex64(offset));
    offset += bytes.length;
    return e;
  });
  const payloads = spec.payloads.map((p, k) => {
    const { payload, dependency, vendorCode, certData } = inputs.payloads[k];
    const signed = certData !== null;
    const imageHeader = CAPSULE_HEADER + offset;
    const image = imageHeader + IMAGE_HEADER_V3;
    const fileOffsets = { imageHeader, image };
    let at = image;
    if (signed) {
      Object.assign(fileOffsets, { auth: image, certData: image + AUTH_HEADER, signedContentStart: image + AUTH_HEADER + certData.length });
      at = fileOffsets.signedContentStart;
    }
    if (dependency) {
      fileOffsets.dependency = at;
      at += dependency.length;
    }
    fileOffsets.fmpPayloadHeader = at;
    fileOffsets.payload = at + MSS1_HEADER;
    fileOffsets.end = fileOffsets.payload + payload.length;
    if (vendorCode) fileOffsets.vendorCode = fileOffsets.end;
    const updateImageSize = fileOffsets.end - image;
    itemOffsets.push(hex64(offset));
    offset += IMAGE_HEADER_V3 + updateImageSize + (vendorCode?.length ?? 0);
    return {
      imageHeaderVersion: 3,
      updateImageTypeId: p.guid,
      updateImageIndex: p.updateImageIndex ?? 1,
      updateImageSize,
      updateVendorCodeSize: vendorCode?.length ?? 0,
      hardwareInstance: hex64(p.hardwareInstance ?? 0n),
      imageCapsuleSupport: hex64((signed ? 1 : 0) | (dependency ? 2 : 0)),
      authenticated: signed,
      monotonicCount: signed ? hex64(p.monotonicCount ?? 0n) : null,
      auth: signed
        ? { dwLength: 24 + certData.length, wRevision: 0x0200, wCertificateType: 0x0ef1, certType: PKCS7_GUID, certDataLength: certData.length, certDataSha256: sha256(certData), digestAlgorithm: 'sha256' }
        : null,
      dependency: dependency ? { size: dependency.length, expression: p.dependency.expression } : null,
      fmpPayloadHeader: { signature: 'MSS1', headerSize: MSS1_HEADER, fwVersion: p.fwVersion, lowestSupportedVersion: p.lsv },
      payloadLength: payload.length,
      payloadSha256: sha256(payload),
      payloadPrngLabel: p.label,
      vendorCodeSha256: vendorCode ? sha256(vendorCode) : null,
      fileOffsets,
      signer: signed ? SIGNER_FILES[p.signer] : null,
      signatureVerify: signed ? 'ok' : null,
    };
  });
  const capsuleImageSize = CAPSULE_HEADER + offset;
  return {
    description: spec.description,
    byteReproducible: true,
    capsuleGuid: FMP_CAPSULE_GUID,
    headerSize: CAPSULE_HEADER,
    flags,
    flagNames: Object.keys(FLAG_BITS).filter((f) => (flags & FLAG_BITS[f]) !== 0),
    oemFlags: flags & 0xffff,
    capsuleImageSize,
    fmpVersion: 1,
    embeddedDriverCount: spec.drivers.length,
    payloadItemCount: spec.payloads.length,
    itemOffsets,
    embeddedDrivers,
    payloads,
  };
}

export const SIGNER_FILES = { test: 'certs/test-signer.crt', 'test-no-intermediate': 'certs/test-signer.crt', untrusted: 'certs/untrusted-signer.crt' };

/** A Num of the spec against an expected capsule model (see capsule-fixture-spec.ts). */
export function resolveNum(v, model) {
  if (typeof v === 'number' || typeof v === 'bigint') return v;
  const [head, field] = v.ref.split('.');
  let base;
  if (head === 'size') base = model.capsuleImageSize;
  else if (head === 'fmpSize') base = model.capsuleImageSize - model.headerSize;
  else if (/^item\d+$/.test(head)) base = Number(BigInt(model.itemOffsets[Number(head.slice(4))]));
  else if (/^p\d+$/.test(head)) {
    const p = model.payloads[Number(head.slice(1))];
    base = field === 'updateImageSize' ? p.updateImageSize : field === 'certDataLength' ? p.auth.certDataLength : p.fileOffsets[field];
  }
  if (typeof base !== 'number') throw new Error(`unknown reference ${JSON.stringify(v)}`);
  return base + (v.delta ?? 0);
}

/** `{ref}` / `{ref+n}` in an expected message, replaced by the number. */
export function resolveMessage(message, model) {
  return message.replace(/\{([a-zA-Z0-9.]+)([+-]\d+)?\}/g, (_, r, d) => String(resolveNum({ ref: r, delta: d ? Number(d) : 0 }, model)));
}

/** Apply the patch ops to a copy of `bytes`; returns the bytes and the ops with every number resolved. */
export function applyPatch(bytes, ops, model) {
  let b = Buffer.from(bytes);
  const done = [];
  for (const op of ops) {
    if (op.op === 'truncate') {
      const length = Number(resolveNum(op.length, model));
      done.push({ op: 'truncate', what: op.what, oldLength: b.length, newLength: length });
      b = b.subarray(0, length);
    } else if (op.op === 'fix-capsule-size') {
      done.push({ op: 'u32', what: op.what, at: 24, old: b.readUInt32LE(24), new: b.length });
      b.writeUInt32LE(b.length, 24);
    } else if (op.op === 'xor') {
      const at = Number(resolveNum(op.at, model));
      done.push({ op: 'xor', what: op.what, at, mask: op.mask, old: b[at], new: b[at] ^ op.mask });
      b[at] ^= op.mask;
    } else {
      const at = Number(resolveNum(op.at, model));
      const value = resolveNum(op.value, model);
      const rw = { u8: ['readUInt8', 'writeUInt8'], u16: ['readUInt16LE', 'writeUInt16LE'], u32: ['readUInt32LE', 'writeUInt32LE'], u64: ['readBigUInt64LE', 'writeBigUInt64LE'] }[op.op];
      const old = b[rw[0]](at);
      if (op.op === 'u64') b.writeBigUInt64LE(BigInt(value), at);
      else b[rw[1]](Number(value), at);
      const show = (x) => (op.op === 'u64' ? hex64(x) : x);
      done.push({ op: op.op, what: op.what, at, old: show(old), new: show(value) });
    }
  }
  return { bytes: b, patch: done };
}

/** fwup's capsule report in the manifest's conventions (bigints as "0x%016X"), for comparison. */
export function reportInManifestTerms(capsule) {
  const norm = (v) => (typeof v === 'bigint' ? hex64(v) : Array.isArray(v) ? v.map(norm) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)])) : v);
  return norm(capsule);
}
