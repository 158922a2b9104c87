import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fwup, hashTree, json, tempDir } from './helpers/cli.js';
import type { FetchJson, InspectJson, PackJson, StageJson } from './helpers/cabinet-json.js';
import { OWN_CERTS, ownPath } from './helpers/capsule-fixtures.js';
import { gcab } from './helpers/cab-craft.js';
import { serveBytes, startServer } from './helpers/http-server.js';
import { FWUPDTOOL, GCAB, JCAT_TOOL, needs } from './helpers/requirements.js';
import { SIGNED_FW, world } from './helpers/uefi-world.js';
import { EXIT } from '../src/errors/exit-codes.js';

/** `fwup pack --format cab`, read back by gcab, jcat-tool, fwupdtool and fwup; and fwupdtool build-cabinet's cabinets read by fwup. */

const CAPSULE = ownPath('signed-sha256-mc.cap');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const SIGN = ['--signer-cert', OWN_CERTS.signer, '--signer-key', OWN_CERTS.signerKey, '--other-cert', OWN_CERTS.intermediate];

test('pack --format cab: a signed cabinet that gcab lists and extracts, jcat-tool reads, fwupdtool parses, and fwup verifies', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    for (const compress of [false, true]) {
      const out = join(dir, compress ? 'z.cab' : 'c.cab');
      const r = await fwup(['pack', CAPSULE, '-o', out, '--format', 'cab', '--id', 'com.example.fwup.test', '--name', 'Test Firmware', ...SIGN, ...(compress ? ['--compress'] : []), '--json'], { cwd: dir });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const p = json<PackJson>(r);
      const cab = await readFile(out);
      assert.equal(p.fileSha256, sha256(cab));
      assert.equal(p.version, '784', 'a capsule version in the default number format');
      assert.deepEqual(p.provides, [SIGNED_FW.toLowerCase()]);
      assert.deepEqual(p.files.map((f) => f.name), ['signed-sha256-mc.cap', 'firmware.metainfo.xml', 'firmware.jcat']);

      const i = await fwup(['inspect', out, '--json', '--cert', OWN_CERTS.root], { cwd: dir });
      assert.equal(i.code, 0, i.stdout);
      const c = json<InspectJson>(i).cabinet!;
      assert.equal(c.signature.status, 'valid');
      assert.equal(c.folders[0]?.compression, compress ? 'mszip' : 'none');
      assert.deepEqual(c.checks.map((x) => x.verdict), ['ok', 'ok', 'ok', 'ok']);

      if (needs(t, GCAB())) {
        assert.deepEqual(gcab(['-t', out], dir).trim().split('\n'), ['signed-sha256-mc.cap', 'firmware.metainfo.xml', 'firmware.jcat']);
        const x = join(dir, `x-${compress}`);
        await mkdir(x);
        gcab(['-x', out], x);
        assert.deepEqual(await readFile(join(x, 'signed-sha256-mc.cap')), await readFile(CAPSULE));
        for (const f of p.files) assert.equal(sha256(await readFile(join(x, f.name))), f.sha256, f.name);
        if (needs(t, JCAT_TOOL())) {
          const info = execFileSync('jcat-tool', ['info', join(x, 'firmware.jcat')], { encoding: 'utf8' });
          assert.match(info, /ID:\s+signed-sha256-mc\.cap/);
          assert.match(info, /ID:\s+firmware\.metainfo\.xml/);
          assert.equal((info.match(/Kind:\s+pkcs7/g) ?? []).length, 2);
          assert.equal((info.match(/Kind:\s+sha256/g) ?? []).length, 2);
        }
      }
      if (needs(t, FWUPDTOOL())) {
        const d = spawnSync('fwupdtool', ['get-details', out], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
        assert.match(d.stdout, new RegExp(`GUID:\\s+${SIGNED_FW.toLowerCase()}`), d.stdout + d.stderr);
        assert.match(d.stdout, /New version:\s+784/);
        assert.match(d.stdout, new RegExp(`Checksum:\\s+${sha256(cab)}`));
      }
    }
  } finally {
    await cleanup();
  }
});

test('pack --format cab refuses what stage would refuse, and writes nothing', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const cases: Array<[string, string[], number, string]> = [
      ['a version the capsule does not carry', ['--version', '0x311', '--version-format', 'hex'], EXIT.INVALID_IMAGE, 'CAB_MISMATCH'],
      ['a GUID the capsule does not update', ['--guid', '6a1a7b26-53d9-4c6c-9e76-3e2c8c1f0f4a'], EXIT.INVALID_IMAGE, 'CAB_MISMATCH'],
      ['no component id', [], EXIT.USAGE, 'USAGE'],
      ['an unknown version format', ['--version-format', 'intel-me9'], EXIT.USAGE, 'USAGE'],
      ['a signer key that is not the certificate\'s', ['--signer-cert', OWN_CERTS.signer, '--signer-key', OWN_CERTS.untrustedSignerKey], EXIT.USAGE, 'KEY_INVALID'],
    ];
    for (const [what, args, exit, code] of cases) {
      const before = await hashTree(dir);
      const id = what === 'no component id' ? [] : ['--id', 'com.example.x'];
      const r = await fwup(['pack', CAPSULE, '-o', join(dir, 'out.cab'), '--format', 'cab', ...id, ...args, '--json'], { cwd: dir });
      assert.equal(json<PackJson>(r).error?.code, code, `${what}: ${r.stdout}`);
      assert.equal(r.code, exit, what);
      assert.equal(await hashTree(dir), before, `${what}: nothing written`);
    }
  } finally {
    await cleanup();
  }
});

test('cabinets made by fwupdtool build-cabinet are read: the payload found by name, the version and GUID checked against the capsule', async (t) => {
  if (!needs(t, FWUPDTOOL())) return;
  const { dir, cleanup } = await tempDir();
  try {
    await writeFile(join(dir, 'firmware.bin'), await readFile(CAPSULE));
    await writeFile(join(dir, 'firmware.metainfo.xml'), `<?xml version="1.0" encoding="UTF-8"?>
<component type="firmware">
  <id>com.example.fwupd.built</id>
  <name>Built by fwupdtool</name>
  <summary>Test firmware</summary>
  <provides><firmware type="flashed">${SIGNED_FW.toLowerCase()}</firmware></provides>
  <releases><release version="0.0.784" date="2026-11-30"/></releases>
  <custom><value key="LVFS::VersionFormat">triplet</value></custom>
</component>
`);
    const r0 = spawnSync('fwupdtool', ['build-cabinet', join(dir, 'fwupd.cab'), 'firmware.bin', 'firmware.metainfo.xml'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r0.status, 0, r0.stderr);
    const r = await fwup(['inspect', join(dir, 'fwupd.cab'), '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout);
    const c = json<InspectJson>(r).cabinet!;
    assert.equal(c.payload.file, 'firmware.bin');
    assert.equal(c.payload.chosenBy, 'firmware.bin');
    assert.equal(c.metainfo.id, 'com.example.fwupd.built');
    assert.deepEqual(c.checks.map((x) => [x.rule, x.verdict]), [['metainfo-checksum', 'n/a'], ['jcat-checksum', c.jcat ? 'ok' : 'n/a'], ['version', 'ok'], ['guid', 'ok']]);
    assert.deepEqual((await readdir(dir)).sort(), ['firmware.bin', 'firmware.metainfo.xml', 'fwupd.cab']);

    // And staged on the uefi target: the capsule on the ESP is the one fwupdtool packed.
    const w = await world({ loader: 'none' });
    try {
      const s = await w.run(['stage', join(dir, 'fwupd.cab'), '--json']);
      assert.equal(s.code, 0, s.stdout + s.stderr);
      assert.deepEqual(await readFile(join(w.root, 'boot/efi/EFI/UpdateCapsule', `fwup-${SIGNED_FW.toLowerCase()}.cap`)), await readFile(CAPSULE));
    } finally {
      await w.cleanup();
    }
  } finally {
    await cleanup();
  }
});

test('cabinet over http: fetch verifies a cabinet and writes it; stage URL installs its payload; a cabinet whose payload was swapped is not written', async (t) => {
  if (!needs(t, GCAB())) return;
  const { dir, cleanup } = await tempDir();
  const server = await startServer();
  try {
    const cab = join(dir, 'fw.cab');
    let r = await fwup(['pack', CAPSULE, '-o', cab, '--format', 'cab', '--id', 'com.example.fetch', ...SIGN], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const bytes = await readFile(cab);
    server.routes.set('/fw.cab', serveBytes(bytes));
    const env = { XDG_CACHE_HOME: join(dir, 'cache'), XDG_STATE_HOME: join(dir, 'state') };
    r = await fwup(['fetch', server.url('/fw.cab'), '-o', join(dir, 'got.cab'), '--json'], { cwd: dir, env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(json<FetchJson>(r).image.format, 'cabinet');
    assert.deepEqual(await readFile(join(dir, 'got.cab')), bytes);

    // The same cabinet with a different capsule in it (the metainfo and jcat describe the old one).
    const swapped = join(dir, 'swapped');
    await mkdir(swapped);
    gcab(['-x', cab], swapped);
    await writeFile(join(swapped, 'signed-sha256-mc.cap'), await readFile(ownPath('signed-64k.cap')));
    gcab(['-c', join(dir, 'swapped.cab'), 'signed-sha256-mc.cap', 'firmware.metainfo.xml', 'firmware.jcat'], swapped);
    server.routes.set('/swapped.cab', serveBytes(await readFile(join(dir, 'swapped.cab'))));
    r = await fwup(['fetch', server.url('/swapped.cab'), '-o', join(dir, 'bad.cab'), '--json'], { cwd: dir, env });
    assert.equal(json<FetchJson>(r).error?.code, 'CAB_MISMATCH', r.stdout);
    assert.ok(!(await readdir(dir)).includes('bad.cab'), 'nothing written');

    const m = join(dir, 'm');
    r = await fwup(['machine', 'init', m, '--cpus', '1', '--flash-size', '1M', '--trust-cert', OWN_CERTS.root, '--image-type-guid', SIGNED_FW], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    r = await fwup(['stage', server.url('/fw.cab'), '--target', `emu:${m}`, '--json'], { cwd: dir, env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(json<StageJson>(r).image.cabinet?.payload.sha256, sha256(await readFile(CAPSULE)));
  } finally {
    await server.close();
    await cleanup();
  }
});
