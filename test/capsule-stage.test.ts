import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fwup, json, tempDir, hashTree } from './helpers/cli.js';
import { loadOwnManifest, ownCapsule, ownPath, OWN_CERTS } from './helpers/capsule-fixtures.js';
import { statusJson, withFirmware, withPlatform } from './helpers/machine.js';
import { activeSlotHeader, setSecurityFloor } from './helpers/memory-platform.js';
import { plantImage } from './helpers/plant.js';
import { EXIT } from '../src/errors/exit-codes.js';
import { REQUEST_FLAGS } from '../src/storage/variables.js';
import { capsuleFormat } from '../src/image/formats/capsule.js';
import { createHash } from 'node:crypto';

/** fwup's own capsule fixtures (fixtures/capsules/) and their TEST ONLY root CA. */
const CAP = ownPath;
const ROOT = OWN_CERTS.root;
const SIGNED_GUID = '969DFDB3-EEDA-47C5-899E-698081F8189F'; // signed-sha256-mc.cap
const UNSIGNED_GUID = '050B1160-7519-4C47-A2DE-1C97EA5F5406'; // unsigned-4k.cap

async function machine(dir: string, guid: string, extra: string[] = []): Promise<string> {
  const r = await fwup(['machine', 'init', join(dir, 'm'), '--cpus', '2', '--flash-size', '2M', '--trust-cert', ROOT, '--image-type-guid', guid, ...extra], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  return `emu:${join(dir, 'm')}`;
}

test('capsule on the emulated machine: a signed capsule for its image type stages and applies warm; the slot holds its payload', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await machine(dir, SIGNED_GUID);
    let r = await fwup(['stage', CAP('signed-sha256-mc.cap'), '--target', t, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout);
    const st = json<{ image: { format: string; signature: { status: string } } }>(r);
    assert.equal(st.image.format, 'capsule');
    assert.equal(st.image.signature.status, 'valid');
    r = await fwup(['apply', '--warm', '--target', t, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout);
    const s = await statusJson(dir, t);
    assert.equal(s.firmware.versionNumber, 0x310);
    const expected = ownCapsule(loadOwnManifest(), 'signed-sha256-mc.cap').payloads[0]!.payloadSha256;
    withPlatform(join(dir, 'm'), (p) => {
      assert.equal(activeSlotHeader(p).payloadSha256, expected, 'the slot holds exactly the capsule payload, and verifies');
    });
  } finally {
    await cleanup();
  }
});

test('capsule on the emulated machine: wrong image type, unsigned, bad signature and a raised security version are refused; nothing changes', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const cases: Array<[string, string, string, number, string]> = [
      ['wrong image type', SIGNED_GUID, 'unsigned-4k.cap', EXIT.POLICY, 'POLICY_PLATFORM'],
      ['unsigned', UNSIGNED_GUID, 'unsigned-4k.cap', EXIT.SIGNATURE, 'IMAGE_UNSIGNED'],
      ['payload byte flipped', SIGNED_GUID, 'invalid/signed-payload-byte-flipped.cap', EXIT.SIGNATURE, 'IMAGE_SIGNATURE_INVALID'],
      ['structure broken', SIGNED_GUID, 'invalid/capsule-image-size-mismatch.cap', EXIT.INVALID_IMAGE, 'CAPSULE_INVALID'],
    ];
    for (const [what, guid, file, code, err] of cases) {
      const sub = join(dir, what.replace(/\W+/g, '-'));
      await fwup(['machine', 'init', join(sub, 'm'), '--cpus', '1', '--flash-size', '1M', '--trust-cert', ROOT, '--image-type-guid', guid], { cwd: dir });
      const before = await hashTree(sub);
      const r = await fwup(['stage', CAP(file), '--target', `emu:${join(sub, 'm')}`, '--json'], { cwd: dir });
      assert.equal(r.code, code, `${what}: ${r.stdout}`);
      assert.equal(json<{ error: { code: string } }>(r).error.code, err, what);
      assert.equal(await hashTree(sub), before, `${what}: unchanged`);
    }
    // A capsule carries no security version: a machine whose counter went above 0 refuses it.
    const t = await machine(dir, SIGNED_GUID);
    withFirmware(join(dir, 'm'), (v) => setSecurityFloor(v, 1));
    const r = await fwup(['stage', CAP('signed-sha256-mc.cap'), '--target', t, '--json'], { cwd: dir });
    assert.equal(r.code, EXIT.POLICY);
    assert.equal(json<{ error: { code: string } }>(r).error.code, 'POLICY_SECURITY_VERSION');
  } finally {
    await cleanup();
  }
});

test('capsule on the emulated machine: the firmware refuses a planted capsule whose signature fails (auth error), slots untouched', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await machine(dir, SIGNED_GUID);
    const bad = await readFile(CAP('invalid/signed-payload-byte-flipped.cap'));
    const slotB = () => withPlatform(join(dir, 'm'), (p) => createHash('sha256').update(p.flash.read(p.map.SLOT_B.offset, p.map.SLOT_B.size)).digest('hex'));
    const before = slotB();
    withPlatform(join(dir, 'm'), (p) => {
      const r = plantImage(p, bad, REQUEST_FLAGS.APPLY, capsuleFormat.id);
      p.services.setRequest({ ...r, versionNumber: 0x310, version: '0x00000310' });
    });
    const r = await fwup(['apply', '--cold', '--target', t, '--json'], { cwd: dir });
    assert.equal(r.code, EXIT.OUTCOME, r.stdout);
    assert.match(json<{ error: { message: string } }>(r).error.message, /does not verify/);
    assert.equal((await statusJson(dir, t)).lastAttempt.statusName, 'auth-error');
    assert.equal(slotB(), before);
  } finally {
    await cleanup();
  }
});
