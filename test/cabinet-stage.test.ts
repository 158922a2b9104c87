import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fwup, hashTree, json, tempDir } from './helpers/cli.js';
import type { InspectJson, StageJson } from './helpers/cabinet-json.js';
import { OWN_CERTS, ownPath } from './helpers/capsule-fixtures.js';
import { gcab } from './helpers/cab-craft.js';
import { statusJson } from './helpers/machine.js';
import { GCAB, JCAT_TOOL, needs } from './helpers/requirements.js';
import { SIGNED_FW, world } from './helpers/uefi-world.js';
import { EXIT } from '../src/errors/exit-codes.js';
import { REJECTIONS } from './helpers/cab-rejections.js';

/**
 * LVFS cabinets made by the real tools (gcab, jcat-tool) around fwup's signed capsule fixture
 * (signed-sha256-mc.cap: image type SIGNED_FW, FwVersion 0x310), inspected and staged on both an
 * emulated machine and the uefi target; every rule that binds the metadata to the payload refused
 * with the target unchanged.
 */

const CAPSULE = ownPath('signed-sha256-mc.cap');
const FW_VERSION = 0x310;
const sha = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');

interface MetaSpec { version?: string; versionFormat?: string | null; provides?: string[]; checksumOf?: Buffer | null; extra?: string }
function metainfo(payload: Buffer, m: MetaSpec = {}): string {
  const sums = m.checksumOf === null ? '' : `<checksum type="sha256" filename="firmware.cap" target="content">${sha('sha256', m.checksumOf ?? payload)}</checksum>`;
  const format = m.versionFormat === null ? '' : `<custom><value key="LVFS::VersionFormat">${m.versionFormat ?? 'hex'}</value></custom>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
${m.extra ?? ''}<component type="firmware">
  <id>com.example.fwup.test.firmware</id>
  <name>Test System Firmware</name>
  <summary>Firmware for the fwup test machine</summary>
  <developer_name>fwup tests</developer_name>
  <provides>${(m.provides ?? [SIGNED_FW.toLowerCase()]).map((g) => `<firmware type="flashed">${g}</firmware>`).join('')}</provides>
  <releases><release version="${m.version ?? '0x00000310'}" urgency="high" date="2026-11-30">${sums}</release></releases>
  <requires><id compare="ge" version="1.9.0">org.freedesktop.fwupd</id></requires>
  ${format}
</component>
`;
}

type Signing = 'none' | 'checksum' | 'trusted' | 'untrusted';
/** A cabinet made by gcab of the given payload, metainfo and (made by jcat-tool over `signedPayload`) jcat. */
async function cabinet(dir: string, name: string, o: { payload?: Buffer; meta?: string; signing?: Signing; signedPayload?: Buffer; compress?: boolean } = {}): Promise<string> {
  const payload = o.payload ?? (await readFile(CAPSULE));
  const work = join(dir, `${name}.d`);
  await mkdir(work, { recursive: true });
  await writeFile(join(work, 'firmware.cap'), o.signedPayload ?? payload);
  await writeFile(join(work, 'firmware.metainfo.xml'), o.meta ?? metainfo(payload));
  const files = ['firmware.cap', 'firmware.metainfo.xml'];
  const signing = o.signing ?? 'trusted';
  if (signing !== 'none') {
    const jcat = (args: string[]) => execFileSync('jcat-tool', args, { cwd: work, stdio: 'pipe' });
    for (const f of ['firmware.cap', 'firmware.metainfo.xml']) {
      jcat(['self-sign', '--kind', 'sha256', 'firmware.jcat', f]);
      if (signing === 'trusted') jcat(['sign', 'firmware.jcat', f, OWN_CERTS.root.replace('test-root', 'test-intermediate'), OWN_CERTS.root.replace('test-root.crt', 'test-intermediate.key')]);
      if (signing === 'untrusted') jcat(['sign', 'firmware.jcat', f, OWN_CERTS.untrustedRoot, OWN_CERTS.untrustedRoot.replace('.crt', '.key')]);
    }
    files.push('firmware.jcat');
  }
  await writeFile(join(work, 'firmware.cap'), payload); // the payload the cabinet carries (may differ from the one signed)
  const out = join(dir, `${name}.cab`);
  gcab(['-c', ...(o.compress ? ['-z'] : []), out, ...files], work);
  return out;
}

async function emuMachine(dir: string, name: string): Promise<string> {
  const m = join(dir, name);
  const r = await fwup(['machine', 'init', m, '--cpus', '2', '--flash-size', '2M', '--trust-cert', OWN_CERTS.root, '--image-type-guid', SIGNED_FW], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  return `emu:${m}`;
}

function tools(t: TestContext): boolean {
  return needs(t, GCAB()) && needs(t, JCAT_TOOL());
}

test('cabinet: inspect --json of gcab cabinets (stored and MSZIP) with a jcat-tool catalog reports the cabinet, the metainfo, the jcat verdicts and the capsule inside', async (t) => {
  if (!tools(t)) return;
  const { dir, cleanup } = await tempDir();
  try {
    const payload = await readFile(CAPSULE);
    for (const compress of [false, true]) {
      const cab = await cabinet(dir, compress ? 'z' : 'c', { compress });
      const r = await fwup(['inspect', cab, '--json', '--cert', OWN_CERTS.root], { cwd: dir });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const j = json<InspectJson>(r);
      assert.equal(j.format, 'cabinet');
      assert.equal(j.fileSha256, sha('sha256', await readFile(cab)));
      assert.equal(j.versionNumber, FW_VERSION);
      const c = j.cabinet!;
      assert.deepEqual(c.files.map((f) => [f.name, f.role, f.size]), [
        ['firmware.cap', 'payload', payload.length],
        ['firmware.metainfo.xml', 'metainfo', Buffer.byteLength(metainfo(payload))],
        ['firmware.jcat', 'jcat', (await readFile(join(dir, `${compress ? 'z' : 'c'}.d`, 'firmware.jcat'))).length],
      ]);
      assert.equal(c.folders[0]?.compression, compress ? 'mszip' : 'none');
      assert.equal(c.metainfo.id, 'com.example.fwup.test.firmware');
      assert.equal(c.metainfo.name, 'Test System Firmware');
      assert.deepEqual(c.metainfo.provides, [SIGNED_FW.toLowerCase()]);
      assert.equal(c.metainfo.versionFormat, 'hex');
      assert.equal(c.metainfo.releases[0]?.version, '0x00000310');
      assert.equal(c.metainfo.releases[0]?.urgency, 'high');
      assert.deepEqual(c.metainfo.releases[0]?.checksums.map((x) => [x.type, x.target, x.filename, x.value]), [['sha256', 'content', 'firmware.cap', sha('sha256', payload)]]);
      assert.deepEqual(c.payload, { file: 'firmware.cap', size: payload.length, sha256: sha('sha256', payload), chosenBy: 'metainfo checksum filename' });
      assert.equal(c.signature.status, 'valid', JSON.stringify(c.signature));
      assert.equal(c.signature.file, 'firmware.cap');
      assert.deepEqual(c.checks.map((x) => [x.rule, x.verdict]), [['metainfo-checksum', 'ok'], ['jcat-checksum', 'ok'], ['version', 'ok'], ['guid', 'ok']]);
      assert.deepEqual(c.jcat?.items.map((i) => i.id).sort(), ['firmware.cap', 'firmware.metainfo.xml']);
      assert.equal(c.inner.format, 'capsule');
      assert.equal(c.inner.capsule?.payloads[0]?.signature.status, 'valid');
      assert.equal(c.inner.capsule?.payloads[0]?.updateImageTypeId.toUpperCase(), SIGNED_FW);
      const text = await fwup(['inspect', cab, '--cert', OWN_CERTS.root], { cwd: dir, env: { NO_COLOR: '1' } });
      assert.equal(text.code, 0);
      assert.match(text.stdout, /format\s+LVFS cabinet/);
      assert.match(text.stdout, /rule version\s+ok/);
      assert.match(text.stdout, /jcat signature\s+valid/);
    }
  } finally {
    await cleanup();
  }
});

test('cabinet: stage on an emulated machine installs the capsule inside; apply --warm brings its version', async (t) => {
  if (!tools(t)) return;
  const { dir, cleanup } = await tempDir();
  try {
    const target = await emuMachine(dir, 'm');
    const cab = await cabinet(dir, 'ok', { compress: true });
    const env = { XDG_STATE_HOME: join(dir, 'state') };
    let r = await fwup(['stage', cab, '--target', target, '--json'], { cwd: dir, env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const st = json<StageJson>(r);
    assert.equal(st.image.format, 'cabinet');
    assert.equal(st.image.cabinet?.signature.status, 'valid');
    r = await fwup(['apply', '--warm', '--target', target, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal((await statusJson(dir, target)).firmware.versionNumber, FW_VERSION);
    // The payload was spooled under the state directory (which now exists) and removed afterwards.
    assert.deepEqual(await readdir(join(dir, 'state', 'fwup', 'tmp')), [], 'the payload spool is removed');
  } finally {
    await cleanup();
  }
});

test('cabinet: stage --target uefi writes the capsule inside the cabinet, byte for byte', async (t) => {
  if (!tools(t)) return;
  const w = await world({ loader: 'none' });
  try {
    const cab = await cabinet(w.dir, 'ok');
    const r = await w.run(['stage', cab, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(json<StageJson>(r).details.delivery, 'disk');
    assert.equal(json<StageJson>(r).image.format, 'cabinet');
    const onDisk = join(w.root, 'boot/efi/EFI/UpdateCapsule', `fwup-${SIGNED_FW.toLowerCase()}.cap`);
    assert.deepEqual(await readFile(onDisk), await readFile(CAPSULE), "the capsule on the ESP is the cabinet's payload");
  } finally {
    await w.cleanup();
  }
});

test('cabinet: every rule that binds the metadata to the payload is refused by stage, with its rule, the machine unchanged', async (t) => {
  if (!tools(t)) return;
  const { dir, cleanup } = await tempDir();
  try {
    const payload = await readFile(CAPSULE);
    const other = await readFile(ownPath('signed-64k.cap'));
    const cases: Array<{ what: string; cab: () => Promise<string>; code: string; exit: number; message: RegExp }> = [
      { what: 'metainfo version is not the capsule version', cab: () => cabinet(dir, 'ver', { meta: metainfo(payload, { version: '0x00000311' }) }), code: 'CAB_MISMATCH', exit: EXIT.INVALID_IMAGE, message: /rule version: the release says 0x00000311 \(hex\), the capsule's FMP payload header says 0x00000310/ },
      { what: 'triplet version mismatch', cab: () => cabinet(dir, 'ver3', { meta: metainfo(payload, { version: '0.0.785', versionFormat: 'triplet' }) }), code: 'CAB_MISMATCH', exit: EXIT.INVALID_IMAGE, message: /rule version/ },
      { what: 'metainfo GUID is not the capsule image type', cab: () => cabinet(dir, 'guid', { meta: metainfo(payload, { provides: ['6a1a7b26-53d9-4c6c-9e76-3e2c8c1f0f4a'] }) }), code: 'CAB_MISMATCH', exit: EXIT.INVALID_IMAGE, message: /rule guid: the capsule updates image type 969dfdb3/i },
      { what: 'metainfo checksum is not the payload', cab: () => cabinet(dir, 'msum', { meta: metainfo(payload, { checksumOf: other }) }), code: 'CAB_MISMATCH', exit: EXIT.INVALID_IMAGE, message: /rule metainfo-checksum/ },
      { what: 'jcat checksum is not the payload', cab: () => cabinet(dir, 'jsum', { meta: metainfo(payload, { checksumOf: null }), signing: 'checksum', signedPayload: other }), code: 'CAB_MISMATCH', exit: EXIT.INVALID_IMAGE, message: /rule jcat-checksum/ },
      { what: 'metainfo with an external entity', cab: () => cabinet(dir, 'xxe', { meta: metainfo(payload, { extra: '<!DOCTYPE component [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n' }), signing: 'none' }), code: 'METAINFO_INVALID', exit: EXIT.INVALID_IMAGE, message: /DOCTYPE|entit/i },
      { what: 'untrusted jcat signer', cab: () => cabinet(dir, 'untrusted', { signing: 'untrusted' }), code: 'IMAGE_SIGNATURE_UNKNOWN_KEY', exit: EXIT.SIGNATURE, message: /jcat is signed by .*not trusted/ },
    ];
    for (const c of cases) {
      const target = await emuMachine(dir, `m-${c.what.replace(/\W+/g, '-')}`);
      const machineDir = target.slice('emu:'.length);
      const cab = await c.cab();
      const before = await hashTree(machineDir);
      const r = await fwup(['stage', cab, '--target', target, '--json'], { cwd: dir });
      assert.equal(r.code, c.exit, `${c.what}: ${r.stdout}${r.stderr}`);
      const e = json<StageJson>(r).error!;
      assert.equal(e.code, c.code, c.what);
      assert.match(e.message, c.message, c.what);
      assert.ok(e.hint, c.what);
      assert.equal(await hashTree(machineDir), before, `${c.what}: the machine is unchanged`);
    }
  } finally {
    await cleanup();
  }
});

test('cabinet: a PKCS#7 signature in the jcat that does not match the payload is refused; an untrusted signer passes with --allow-unsigned', async (t) => {
  if (!tools(t)) return;
  const { dir, cleanup } = await tempDir();
  try {
    const payload = await readFile(CAPSULE);
    const tampered = Buffer.from(payload);
    tampered[tampered.length - 1]! ^= 0x01; // the capsule's own PKCS#7 covers it too, but the jcat is checked first
    const work = join(dir, 'bad.d');
    await mkdir(work);
    await writeFile(join(work, 'firmware.cap'), payload);
    execFileSync('jcat-tool', ['sign', 'firmware.jcat', 'firmware.cap', OWN_CERTS.intermediate, OWN_CERTS.intermediate.replace('.crt', '.key')], { cwd: work, stdio: 'pipe' });
    await writeFile(join(work, 'firmware.cap'), tampered);
    await writeFile(join(work, 'firmware.metainfo.xml'), metainfo(tampered));
    gcab(['-c', join(dir, 'bad.cab'), 'firmware.cap', 'firmware.metainfo.xml', 'firmware.jcat'], work);
    const target = await emuMachine(dir, 'm');
    const machineDir = target.slice('emu:'.length);
    const before = await hashTree(machineDir);
    let r = await fwup(['stage', join(dir, 'bad.cab'), '--target', target, '--json'], { cwd: dir });
    assert.equal(r.code, EXIT.SIGNATURE, r.stdout);
    assert.equal(json<StageJson>(r).error?.code, 'JCAT_SIGNATURE_INVALID');
    assert.equal(await hashTree(machineDir), before);
    r = await fwup(['inspect', join(dir, 'bad.cab'), '--json', '--cert', OWN_CERTS.root], { cwd: dir });
    assert.equal(json<InspectJson>(r).error?.code, 'JCAT_SIGNATURE_INVALID');

    const untrusted = await cabinet(dir, 'untrusted', { signing: 'untrusted' });
    r = await fwup(['stage', untrusted, '--target', target, '--json', '--allow-unsigned'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(json<StageJson>(r).image.cabinet?.signature.status, 'unknown-key');
  } finally {
    await cleanup();
  }
});

test('cabinet: every cabinet the reader refuses (truncated, checksum and size lies, zip bombs, ../ names, duplicates, …) is refused by stage, the machine unchanged', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const target = await emuMachine(dir, 'm');
    const machineDir = target.slice('emu:'.length);
    const before = await hashTree(machineDir);
    const cases = REJECTIONS.filter((r) => !r.limits);
    assert.ok(cases.some((c) => /zip bomb/.test(c.what)) && cases.some((c) => /\.\.\//.test(c.what)) && cases.some((c) => /duplicate/i.test(c.what)));
    for (const c of cases) {
      const path = join(dir, 'bad.cab');
      await writeFile(path, c.cab());
      const r = await fwup(['stage', path, '--target', target, '--json'], { cwd: dir });
      const e = json<StageJson>(r).error;
      // Not 'MSCF' at all (a ZIP file, a bad signature): not a cabinet, so no format takes it.
      const expected = c.cab().subarray(0, 4).toString('latin1') === 'MSCF' ? c.code : 'IMAGE_UNKNOWN_FORMAT';
      assert.equal(e?.code, expected, `${c.what}: ${r.stdout}`);
      if (expected === c.code) assert.match(e!.message, c.message, c.what);
      assert.notEqual(r.code, 0, c.what);
    }
    assert.equal(await hashTree(machineDir), before, 'the machine is unchanged');
  } finally {
    await cleanup();
  }
});
