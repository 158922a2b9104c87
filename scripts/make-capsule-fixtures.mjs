// Regenerate fixtures/capsules/: fwup's own UEFI FMP capsule fixtures, described in
// test/helpers/capsule-fixture-spec.ts. Run after `npm run build`:
//   node scripts/make-capsule-fixtures.mjs [--out DIR] [--certs DIR]
// - makes a TEST-ONLY CA with openssl (once: certificates and keys are committed, in certs/);
// - builds every valid capsule with fwup's builder and PKCS#7 signer (fixed signing time: RSA PKCS#1
//   v1.5 is deterministic, so every file is byte-reproducible from the same certificates);
// - derives the expected fields by layout arithmetic (capsule-fixture-model.mjs) and fails unless
//   fwup's parser reports exactly those, every invalid file is rejected with its expected error, and
//   `openssl smime -verify` accepts every signed payload and rejects every auth-invalid one;
// - writes the files and manifest.json. With --certs DIR the certificates are read from DIR (never made).
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildCapsule } from '../dist/src/image/capsule-build.js';
import { createPkcs7Signer } from '../dist/src/image/capsule-sign.js';
import { capsuleFormat } from '../dist/src/image/formats/capsule.js';
import { BufferSource } from '../dist/src/image/byte-source.js';
import { reportError } from '../dist/src/image/report.js';
import { loadPkcs7Library, toArrayBuffer } from '../dist/src/image/pkcs7-library.js';
import { fixturePayload } from '../dist/test/helpers/fixture-spec.js';
import { CERT_ORG, INVALID_CAPSULES, SIGNING_TIME, TEST_CERTS, VALID_CAPSULES } from '../dist/test/helpers/capsule-fixture-spec.js';
import { FMP_CAPSULE_GUID, applyPatch, expectedCapsule, reportInManifestTerms, resolveMessage, sha256 } from './capsule-fixture-model.mjs';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? resolve(args[i + 1]) : null;
};
const out = opt('--out') ?? new URL('../fixtures/capsules/', import.meta.url).pathname;
const certsDir = opt('--certs') ?? join(out, 'certs');
const work = mkdtempSync(join(tmpdir(), 'fwup-capsule-fixtures-'));
const problems = [];
const check = (ok, what) => {
  if (!ok) problems.push(what);
};

try {
  execFileSync('openssl', ['version'], { stdio: 'pipe' });
} catch {
  console.error('make-capsule-fixtures: openssl is needed (to make the test CA and to cross-check every signature): apt-get install openssl');
  process.exit(1);
}

// --- the test CA --------------------------------------------------------------------------------
const openssl = (...a) => execFileSync('openssl', a, { stdio: 'pipe' });
function makeCert(c) {
  const cnf = join(work, `${c.name}.cnf`);
  const ext = c.ca
    ? 'basicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign'
    : 'basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = codeSigning';
  writeFileSync(cnf, `[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nO = ${CERT_ORG}\nCN = ${c.cn}\n[ext]\n${ext}\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n`);
  const key = join(certsDir, `${c.name}.key`);
  const crt = join(certsDir, `${c.name}.crt`);
  const common = ['-days', '7300', '-sha256', '-set_serial', String(c.serial)];
  if (!c.issuer) {
    openssl('req', '-x509', '-config', cnf, '-extensions', 'ext', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, ...common);
  } else {
    const csr = join(work, `${c.name}.csr`);
    openssl('req', '-new', '-config', cnf, '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr);
    openssl('x509', '-req', '-in', csr, '-CA', join(certsDir, `${c.issuer}.crt`), '-CAkey', join(certsDir, `${c.issuer}.key`),
      '-extfile', cnf, '-extensions', 'ext', '-out', crt, ...common);
  }
  console.log(`made certs/${c.name}.crt and certs/${c.name}.key with openssl`);
}
mkdirSync(certsDir, { recursive: true });
for (const c of TEST_CERTS) {
  if (!existsSync(join(certsDir, `${c.name}.crt`))) {
    if (opt('--certs')) throw new Error(`${certsDir} has no ${c.name}.crt`);
    makeCert(c);
  }
}
const certs = Object.fromEntries(TEST_CERTS.map((c) => {
  const pem = readFileSync(join(certsDir, `${c.name}.crt`));
  return [c.name, { x509: new X509Certificate(pem), key: createPrivateKey(readFileSync(join(certsDir, `${c.name}.key`))) }];
}));

const CERTS_README = `# TEST ONLY certificates and keys

Made once by \`scripts/make-capsule-fixtures.mjs\` with openssl (RSA 2048, SHA-256, 20 years). The
**private keys are public** by being committed here: they sign fwup's test capsules and nothing else.
Never trust \`test-root.crt\` (or any certificate here) outside tests, never ship it as a trusted key.

- \`test-root\` (self-signed CA) -> \`test-intermediate\` (CA) -> \`test-signer\`: the chain of every signed fixture;
  CertData carries test-signer and test-intermediate, so test-root.crt is the only trust anchor needed.
- \`untrusted-root\` (self-signed CA) -> \`untrusted-signer\`: the "wrong certificate" fixtures.

Delete this folder and run the script to make a new CA: every signed fixture then changes.
`;

// --- signers ------------------------------------------------------------------------------------
const signingTime = new Date(SIGNING_TIME);
const signerOf = async (cert, others) =>
  createPkcs7Signer({ certificate: certs[cert].x509.raw, privateKey: certs[cert].key, otherCertificates: others.map((o) => certs[o].x509.raw), signingTime }, `${cert}.crt`);
const SIGNERS = {
  test: await signerOf('test-signer', ['test-intermediate']),
  'test-no-intermediate': await signerOf('test-signer', []),
  untrusted: await signerOf('untrusted-signer', []),
};
const { pkijs, asn1js } = await loadPkcs7Library();
const DATA_OID = '1.2.840.113549.1.7.1';
const reSigned = (der, change) => {
  const info = pkijs.ContentInfo.fromBER(toArrayBuffer(der));
  const sd = new pkijs.SignedData({ schema: info.content });
  change(sd);
  return Buffer.from(new pkijs.ContentInfo({ contentType: pkijs.ContentInfo.SIGNED_DATA, content: sd.toSchema(true) }).toSchema().toBER(false));
};
/** CertData made wrong on purpose, for the verifier's rejection paths. */
const TAMPERS = {
  'not-der': () => Buffer.concat([Buffer.from([0xa5]), fixturePayload({ label: 'fwup-capsule-fixture/not-der', size: 299 })]),
  'not-signed-data': (_der, content) =>
    Buffer.from(new pkijs.ContentInfo({ contentType: DATA_OID, content: new asn1js.OctetString({ valueHex: toArrayBuffer(content) }) }).toSchema().toBER(false)),
  'attached-content': (der, content) => reSigned(der, (sd) => {
    sd.encapContentInfo = new pkijs.EncapsulatedContentInfo({ eContentType: DATA_OID, eContent: new asn1js.OctetString({ valueHex: toArrayBuffer(content) }) });
  }),
  'no-signer-info': (der) => reSigned(der, (sd) => {
    sd.signerInfos = [];
  }),
};

// --- building -----------------------------------------------------------------------------------
async function build(spec) {
  const drivers = spec.drivers.map((d) => {
    const b = fixturePayload(d);
    b.write('MZ', 0, 'latin1');
    return b;
  });
  const inputs = { drivers, payloads: [] };
  const payloads = spec.payloads.map((p, k) => {
    const input = {
      payload: fixturePayload(p),
      dependency: p.dependency ? Buffer.from(p.dependency.hex, 'hex') : null,
      vendorCode: p.vendorCode ? fixturePayload(p.vendorCode) : null,
      certData: null,
    };
    inputs.payloads[k] = input;
    const signer = p.signer && {
      async sign(content) {
        const der = await SIGNERS[p.signer].sign(content);
        input.certData = p.tamper ? TAMPERS[p.tamper](der, content) : der;
        return input.certData;
      },
    };
    return {
      imageTypeId: p.guid, fwVersion: p.fwVersion, lowestSupportedVersion: p.lsv, updateImageIndex: p.updateImageIndex ?? 1,
      hardwareInstance: p.hardwareInstance ?? 0n, monotonicCount: p.monotonicCount ?? 0n, payload: input.payload,
      dependency: input.dependency, vendorCode: input.vendorCode, signer: signer || null,
    };
  });
  const bytes = await buildCapsule({ flags: spec.flags, oemFlags: spec.oemFlags, embeddedDrivers: drivers, payloads });
  const model = expectedCapsule(spec, inputs);
  check(bytes.length === model.capsuleImageSize, `${spec.file}: built ${bytes.length} bytes, the layout says ${model.capsuleImageSize}`);
  return { bytes, model };
}

const trust = { keys: null, certs: [{ name: 'test-root.crt', der: certs['test-root'].x509.raw }] };
const verify = (bytes) => capsuleFormat.verify(new BufferSource(bytes, 'fixture'), { trust });

/** fwup's report must hold exactly the fields the layout arithmetic expects. */
function compareReport(file, model, capsule) {
  const got = reportInManifestTerms(capsule);
  for (const k of ['capsuleGuid', 'headerSize', 'flags', 'flagNames', 'oemFlags', 'capsuleImageSize', 'fmpVersion', 'embeddedDriverCount', 'payloadItemCount', 'itemOffsets']) {
    check(JSON.stringify(got[k]) === JSON.stringify(model[k]), `${file}: ${k}: fwup ${JSON.stringify(got[k])}, expected ${JSON.stringify(model[k])}`);
  }
  model.embeddedDrivers.forEach((d, i) => {
    const g = got.embeddedDrivers[i] ?? {};
    for (const k of ['itemOffset', 'fileOffset', 'length', 'sha256']) check(g[k] === d[k], `${file}: driver ${i} ${k}: fwup ${g[k]}, expected ${d[k]}`);
  });
  check(got.payloads.length === model.payloads.length, `${file}: ${got.payloads.length} payloads`);
  model.payloads.forEach((m, k) => {
    const g = got.payloads[k] ?? {};
    for (const f of ['imageHeaderVersion', 'updateImageTypeId', 'updateImageIndex', 'updateImageSize', 'updateVendorCodeSize', 'hardwareInstance', 'imageCapsuleSupport',
      'authenticated', 'monotonicCount', 'auth', 'dependency', 'fmpPayloadHeader', 'payloadLength', 'payloadSha256', 'fileOffsets']) {
      const a = JSON.stringify(g[f], Object.keys(g[f] ?? {}).sort());
      const b = JSON.stringify(m[f], Object.keys(m[f] ?? {}).sort());
      check(a === b, `${file}: payload ${k} ${f}: fwup ${a}, expected ${b}`);
    }
    check(g.signature?.status === (m.authenticated ? 'valid' : 'unsigned'), `${file}: payload ${k}: fwup says ${g.signature?.status} (${g.signature?.reason})`);
  });
}

/** `openssl smime -verify` with edk2 Pkcs7Verify's flags over the signed bytes of one payload. */
function opensslVerify(bytes, o) {
  writeFileSync(join(work, 'CertData.der'), bytes.subarray(o.certData, o.signedContentStart));
  writeFileSync(join(work, 'signed.bin'), Buffer.concat([bytes.subarray(o.signedContentStart, o.end), bytes.subarray(o.auth, o.auth + 8)]));
  try {
    openssl('smime', '-verify', '-binary', '-inform', 'DER', '-in', join(work, 'CertData.der'), '-content', join(work, 'signed.bin'),
      '-CAfile', join(certsDir, 'test-root.crt'), '-purpose', 'any', '-partial_chain', '-no_check_time', '-out', '/dev/null');
    return 'ok';
  } catch {
    return 'failed';
  }
}

const files = new Map();
const valid = [];
const built = new Map();
for (const spec of VALID_CAPSULES) {
  const { bytes, model } = await build(spec);
  built.set(spec.file, { bytes, model });
  const v = await verify(bytes);
  compareReport(spec.file, model, v.report.capsule);
  model.payloads.forEach((p, k) => {
    if (p.authenticated) check(opensslVerify(bytes, p.fileOffsets) === 'ok', `${spec.file} payload ${k}: openssl does not verify it`);
  });
  files.set(spec.file, bytes);
  valid.push({ file: spec.file, size: bytes.length, sha256: sha256(bytes), ...model });
}

const invalid = [];
for (const inv of INVALID_CAPSULES) {
  const base = typeof inv.from === 'string' ? built.get(inv.from) : await build(inv.from);
  const { bytes, patch } = applyPatch(base.bytes, inv.patch, base.model);
  const message = resolveMessage(inv.message, base.model);
  let err;
  try {
    const v = await verify(bytes);
    err = reportError(v.report, 'fixture');
  } catch (e) {
    err = e;
  }
  check(err?.code === inv.error, `${inv.file}: fwup says ${err?.code ?? 'nothing'} (${err?.message}), expected ${inv.error}`);
  check(err && new RegExp(message).test(err.message), `${inv.file}: fwup's message ${JSON.stringify(err?.message)} does not match /${message}/`);
  const p0 = base.model.payloads[0];
  const entry = {
    file: `invalid/${inv.file}`, size: bytes.length, sha256: sha256(bytes), category: inv.category, reason: inv.reason,
    derivedFrom: typeof inv.from === 'string' ? inv.from : null,
    built: typeof inv.from === 'string' ? null : inv.from.description,
    patch, error: inv.error, message, ...(inv.cliError ? { cliError: inv.cliError } : {}),
    fileOffsets: inv.category === 'auth' ? p0.fileOffsets : null,
    signatureVerify: inv.category === 'auth' ? (inv.openssl?.verdict ?? 'failed') : null,
    ...(inv.openssl ? { opensslDivergence: inv.openssl.divergence } : {}),
  };
  if (inv.category === 'auth') {
    const said = opensslVerify(bytes, p0.fileOffsets);
    check(said === entry.signatureVerify, `${inv.file}: openssl says ${said}, the spec expects ${entry.signatureVerify}`);
  }
  files.set(entry.file, bytes);
  invalid.push(entry);
}

if (problems.length > 0) {
  console.error(`make-capsule-fixtures: ${problems.length} disagreement(s), nothing written:\n  ${problems.join('\n  ')}`);
  rmSync(work, { recursive: true, force: true });
  process.exit(1);
}

const certInfo = Object.fromEntries(TEST_CERTS.map((c) => {
  const x = certs[c.name].x509;
  return [`${c.name}.crt`, {
    file: `certs/${c.name}.crt`, key: `certs/${c.name}.key`, subject: x.subject.replace(/\n/g, ', '), issuer: x.issuer.replace(/\n/g, ', '), ca: c.ca,
    sha256Fingerprint: x.fingerprint256, keyId: createHash('sha256').update(x.raw).digest('hex').slice(0, 16),
  }];
}));
const manifest = {
  name: "fwup's own UEFI FMP capsule fixtures (TEST ONLY certificates)",
  manifestVersion: 1,
  generator: {
    script: 'scripts/make-capsule-fixtures.mjs (spec: test/helpers/capsule-fixture-spec.ts)',
    builder: 'fwup src/image/capsule-build.ts and capsule-sign.ts (what `fwup pack --format capsule` uses)',
    signingTime: SIGNING_TIME,
    certificates: 'made once with openssl req/x509 (RSA 2048, SHA-256); committed in certs/',
  },
  conventions: {
    u64: "every 64-bit field (itemOffsets, hardwareInstance, imageCapsuleSupport, monotonicCount) is '0x' + 16 upper-case hex digits",
    fileOffsets: 'absolute byte offsets from the start of the .cap file',
    expectedFields: 'derived from the spec by layout arithmetic (scripts/capsule-fixture-model.mjs), then checked against fwup and openssl',
    error: 'the FwupError code of capsuleFormat.verify (format) or of the report (auth); message is a regular expression',
  },
  fmpCapsuleGuid: FMP_CAPSULE_GUID,
  payloadPrng: 'first N bytes of SHA256(label || u32le(0)) || SHA256(label || u32le(1)) || ...; embedded drivers then start with MZ',
  trustAnchor: 'certs/test-root.crt',
  certs: certInfo,
  signatureVerifyCommand: 'openssl smime -verify -binary -inform DER -in <CertData.der> -content <signed.bin> -CAfile certs/test-root.crt -purpose any -partial_chain -no_check_time -out /dev/null',
  capsules: valid,
  invalid,
};

// Write: remove the capsules of an earlier run first, so a renamed fixture leaves nothing behind.
mkdirSync(join(out, 'invalid'), { recursive: true });
for (const d of [out, join(out, 'invalid')]) for (const f of readdirSync(d)) if (f.endsWith('.cap')) rmSync(join(d, f));
for (const [file, bytes] of files) writeFileSync(join(out, file), bytes);
if (!opt('--certs')) writeFileSync(join(certsDir, 'README.md'), CERTS_README);
writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v), 2)}\n`);
rmSync(work, { recursive: true, force: true });
const total = [...files.values()].reduce((n, b) => n + b.length, 0);
console.log(`wrote ${valid.length} valid and ${invalid.length} invalid capsules (${total} bytes) and manifest.json to ${out}; fwup and openssl agree on all`);
