import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPolicy, type PolicyFacts } from '../src/image/policy.js';
import type { ImageReport } from '../src/image/report.js';

const facts: PolicyFacts = {
  platform: 'p',
  activeVersionNumber: 10,
  lowestSupportedVersion: 8,
  securityVersion: 2,
  hasTrustedKeys: true,
  development: false,
  capacity: { image: 1000, slot: 1000 },
};

const image: ImageReport = {
  format: 'fwup', version: '11', versionNumber: 11, lowestSupportedVersion: 0, securityVersion: 2, platform: 'p', flags: [],
  headerSize: 144, payloadOffset: 144, payloadSize: 100, totalSize: 244, sha256: '00', crc32: 0, buildTime: null, description: null,
  checks: { headerCrc: 'ok', payloadCrc: 'ok', sha256: 'ok' },
  signature: { present: true, valid: true, keyId: 'k', status: 'valid', algorithm: 'ed25519' },
  ok: true,
};
const none = { allowOlder: false, allowUnsigned: false, allowReinstall: false };

const code = (r: Partial<ImageReport>, f: Partial<PolicyFacts> = {}, o: Partial<typeof none> = {}) =>
  checkPolicy({ ...image, ...r }, { ...facts, ...f }, { ...none, ...o })?.code ?? 'ok';

test('policy: each rule, in order, and what each option relaxes', () => {
  assert.equal(code({}), 'ok');
  assert.equal(code({ checks: { headerCrc: 'ok', payloadCrc: 'mismatch', sha256: 'mismatch' } }), 'IMAGE_PAYLOAD_CRC');
  assert.equal(code({ totalSize: 1001 }), 'POLICY_TOO_LARGE');
  assert.equal(code({ platform: 'q' }), 'POLICY_PLATFORM');
  assert.equal(code({ platform: null }), 'ok', 'a raw image names no platform');
  const unsigned = { signature: { present: false, valid: null, keyId: null, status: 'unsigned' as const, algorithm: null } };
  assert.equal(code(unsigned), 'IMAGE_UNSIGNED');
  assert.equal(code(unsigned, {}, { allowUnsigned: true }), 'IMAGE_UNSIGNED', 'not a development machine');
  assert.equal(code(unsigned, { development: true }), 'IMAGE_UNSIGNED', 'needs the flag too');
  assert.equal(code(unsigned, { development: true }, { allowUnsigned: true }), 'ok');
  const notVerified = { signature: { present: true, valid: null, keyId: 'k', status: 'not-verified' as const, algorithm: 'ed25519' } };
  assert.equal(code(notVerified), 'IMAGE_SIGNATURE_UNKNOWN_KEY');
  assert.equal(code(notVerified, { hasTrustedKeys: false, development: true }), 'ok', 'a keyless machine cannot verify');
  assert.equal(code({ securityVersion: 1 }), 'POLICY_SECURITY_VERSION');
  assert.equal(code({ securityVersion: 1, versionNumber: 5 }, {}, { allowOlder: true }), 'POLICY_SECURITY_VERSION');
  assert.equal(code({ versionNumber: 9 }), 'POLICY_DOWNGRADE');
  assert.equal(code({ versionNumber: 7 }), 'POLICY_DOWNGRADE');
  assert.equal(code({ versionNumber: 7 }, {}, { allowOlder: true }), 'ok');
  assert.equal(code({ versionNumber: 10 }), 'NOTHING_TO_DO');
  assert.equal(code({ versionNumber: 10 }, {}, { allowReinstall: true }), 'ok');
});
