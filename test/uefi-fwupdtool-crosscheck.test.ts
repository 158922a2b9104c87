import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { RunResult } from './helpers/cli.js';
import { EFIVARS, GLOBAL } from './helpers/sysroot.js';
import { CAP, SYS_FW, world, type World } from './helpers/uefi-world.js';
import { ESP_PART, FWUPDATE_GUID, PART_UUID, fallbackWorld } from './helpers/fwupd-efi-world.js';
import { FWUPDTOOL, FWUPD_EFI, needs } from './helpers/requirements.js';

/*
 * fwup and Debian's fwupdtool (fwupd 2.0.x, `--plugins uefi-capsule`) install the same capsule on two
 * copies of the same fake tree, and what they wrote is compared byte for byte. fwupd is pointed at the
 * tree through the variables it honours: FWUPD_SYSFSFWDIR (ESRT, efivars, fw_platform_size),
 * FWUPD_SYSFSDMIDIR (DMI), FWUPD_UEFI_ESP_PATH (the ESP, as its own tests do), FWUPD_EFIAPPDIR (the
 * helper), FWUPD_UEFI_TEST=1 (skips its check that efivarfs is mounted there); its state, cache and
 * config go to the test's temp dir. One difference is fwupd's, not a layout's: an ESP given by
 * FWUPD_UEFI_ESP_PATH has no partition behind it, so fwupd writes a hard-drive node of zeros
 * (partition 0, start 0, size 0, an all-zero GUID) where fwup writes the partition the sysroot mounts.
 * The comparison checks fwup's node names that partition, then puts fwupd's zeros in its place and
 * requires every byte to be the same.
 */

const FWUPDTOOL_TIMEOUT_MS = 120_000;
const DMI = { sys_vendor: 'Fwup Test', product_name: 'Fake Machine', bios_vendor: 'Fwup Test', bios_version: '1.0', board_vendor: 'Fwup Test', board_name: 'Board', chassis_type: '3' };

async function dmi(w: World): Promise<void> {
  const d = join(w.root, 'sys/class/dmi/id');
  await mkdir(d, { recursive: true });
  for (const [k, v] of Object.entries(DMI)) await writeFile(join(d, k), `${v}\n`);
}

function run(cmd: string, args: string[], cwd: string, env: Record<string, string>): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), FWUPDTOOL_TIMEOUT_MS);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** fwupd's environment for a tree: every path it reads or writes is the tree's or the test's. */
async function fwupdEnv(w: World): Promise<Record<string, string>> {
  const home = join(w.dir, 'fwupd');
  const d = { var: join(home, 'var'), state: join(home, 'var/lib/fwupd'), cache: join(home, 'cache'), run: join(home, 'run'), lock: join(home, 'lock'), home: join(home, 'home') };
  for (const p of Object.values(d)) await mkdir(p, { recursive: true });
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: d.home, LC_ALL: 'C.UTF-8',
    FWUPD_LOCALSTATEDIR: d.var, STATE_DIRECTORY: d.state, CACHE_DIRECTORY: d.cache, RUNTIME_DIRECTORY: d.run, FWUPD_RUNDIR: d.run, FWUPD_LOCKDIR: d.lock,
    FWUPD_SYSFSFWDIR: join(w.root, 'sys/firmware'), FWUPD_SYSFSDMIDIR: join(w.root, 'sys/class/dmi/id'),
    FWUPD_SYSFSFWATTRIBDIR: join(w.root, 'sys/class/firmware-attributes'), FWUPD_UEFI_ESP_PATH: join(w.root, 'boot/efi'),
    FWUPD_EFIAPPDIR: join(w.root, 'usr/libexec/fwupd/efi'), FWUPD_UEFI_TEST: '1',
  };
}

/** The capsule in an LVFS-style cabinet for the ESRT entry's GUID, made by fwupdtool build-cabinet. */
async function cabinet(dir: string, capsule: string, version: number): Promise<string> {
  const meta = `<?xml version="1.0" encoding="UTF-8"?>
<component type="firmware">
  <id>org.fwup.crosscheck</id>
  <name>Crosscheck</name>
  <summary>The capsule fwup stages, for fwupd</summary>
  <provides><firmware type="flashed">${SYS_FW.toLowerCase()}</firmware></provides>
  <metadata_license>CC0-1.0</metadata_license>
  <project_license>proprietary</project_license>
  <developer_name>fwup</developer_name>
  <custom><value key="LVFS::VersionFormat">number</value></custom>
  <releases><release urgency="high" version="${version}" date="2026-01-01"><checksum filename="firmware.bin" target="content"/><description><p>cross-check</p></description></release></releases>
</component>
`;
  await writeFile(join(dir, 'firmware.metainfo.xml'), meta);
  await writeFile(join(dir, 'firmware.bin'), await readFile(capsule));
  const r = await run('fwupdtool', ['build-cabinet', 'firmware.cab', 'firmware.bin', 'firmware.metainfo.xml'], dir, { PATH: process.env.PATH ?? '', HOME: dir, LC_ALL: 'C.UTF-8' });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return join(dir, 'firmware.cab');
}

async function fwupdInstall(w: World, capsule: string): Promise<void> {
  const cab = await cabinet(w.dir, capsule, 523);
  const r = await run('fwupdtool', ['--plugins', 'uefi-capsule', 'install', cab, '--force', '--no-reboot-check', '--no-safety-check'], w.dir, await fwupdEnv(w));
  assert.equal(r.code, 0, `fwupdtool install: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
}

/** Every file under `dir`, by path relative to it. */
async function files(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (d: string): Promise<void> => {
    for (const n of (await readdir(d)).sort()) {
      const p = join(d, n);
      const s = await stat(p);
      if (s.isDirectory()) await walk(p);
      else out.set(relative(dir, p), await readFile(p));
    }
  };
  await walk(dir);
  return out;
}

const twoWorlds = async (make: () => Promise<World>): Promise<[World, World]> => {
  const a = await make();
  const b = await make();
  await dmi(a);
  await dmi(b);
  return [a, b];
};

/** The host's os-release: fwupd names the ESP's OS directory after the host's, fwup after the sysroot's. */
const hostOsRelease = () => readFile('/etc/os-release', 'utf8').catch(() => 'ID=debian\n');

function needsAll(t: TestContext): boolean {
  return needs(t, FWUPDTOOL()) && needs(t, FWUPD_EFI());
}

test('fwupdtool cross-check, fwupd-efi fallback: the same capsule file, helper, update-info variable, Boot#### and BootNext, byte for byte', async (t) => {
  if (!needsAll(t)) return;
  const osRelease = await hostOsRelease();
  const [mine, theirs] = await twoWorlds(() => fallbackWorld({ helper: true, osRelease }));
  try {
    const r = await mine.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal((JSON.parse(r.stdout) as { details: { delivery: string } }).details.delivery, 'fwupd-efi');
    await fwupdInstall(theirs, CAP('unsigned-persist.cap'));

    // The ESP: the same files (capsule under EFI/<os>/fw/, the helper beside), the same bytes.
    const espA = await files(join(mine.root, 'boot/efi'));
    const espB = await files(join(theirs.root, 'boot/efi'));
    assert.deepEqual([...espA.keys()], [...espB.keys()], 'the same files on the ESP');
    for (const [k, v] of espB) assert.ok(espA.get(k)!.equals(v), `${k}: the same bytes`);
    assert.ok([...espA.keys()].some((k) => /^EFI\/[^/]+\/fw\/fwupd-050b1160-7519-4c47-a2de-1c97ea5f5406\.cap$/.test(k)), [...espA.keys()].join(', '));

    // The variables: the same names; the same bytes once fwupd's partition-less hard-drive node is accounted for.
    const varsA = await files(join(mine.root, EFIVARS));
    const varsB = await files(join(theirs.root, EFIVARS));
    assert.deepEqual([...varsA.keys()], [...varsB.keys()], 'the same variables');
    const info = `fwupd-${SYS_FW.toLowerCase()}-0-${FWUPDATE_GUID}`;
    assert.ok(varsB.has(info) && varsB.has(`Boot0001-${GLOBAL}`) && varsB.has(`BootNext-${GLOBAL}`), [...varsB.keys()].join(', '));
    for (const [k, theirsBytes] of varsB) {
      const ours = varsA.get(k)!;
      const hd = ours.indexOf(Buffer.from([0x04, 0x01, 0x2a, 0x00]));
      if (k === info || k === `Boot0001-${GLOBAL}`) {
        assert.ok(hd > 0, `${k} has a hard-drive node`);
        assert.equal(ours.readUInt32LE(hd + 4), ESP_PART.number, `${k}: the ESP's partition number`);
        assert.equal(ours.readBigUInt64LE(hd + 8), BigInt(ESP_PART.startSectors), `${k}: its first block`);
        assert.equal(ours.readBigUInt64LE(hd + 16), BigInt(ESP_PART.sizeSectors), `${k}: its size in blocks`);
        assert.equal(ours.subarray(hd + 24, hd + 40).toString('hex'), Buffer.from(guidBytes(PART_UUID)).toString('hex'), `${k}: its GPT GUID`);
        assert.ok(theirsBytes.subarray(hd + 4, hd + 40).equals(Buffer.alloc(36)), `${k}: fwupd's node is all zeros (no partition behind FWUPD_UEFI_ESP_PATH)`);
        const masked = Buffer.from(ours);
        masked.fill(0, hd + 4, hd + 40);
        assert.equal(masked.toString('hex'), theirsBytes.toString('hex'), `${k}: every other byte is fwupd's`);
      } else {
        assert.equal(ours.toString('hex'), theirsBytes.toString('hex'), `${k}: byte for byte`);
      }
    }
  } finally {
    await mine.cleanup();
    await theirs.cleanup();
  }
});

test('fwupdtool cross-check, capsule on disk: the same capsule bytes under EFI/UpdateCapsule, OsIndications 0x4 with attributes 0x7', async (t) => {
  if (!needs(t, FWUPDTOOL())) return;
  const [mine, theirs] = await twoWorlds(() => world({ loader: 'none' }));
  try {
    const r = await mine.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned', '--capsule-delivery', 'disk', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await fwupdInstall(theirs, CAP('unsigned-persist.cap'));
    const capsules = async (w: World) => [...(await files(join(w.root, 'boot/efi/EFI/UpdateCapsule'))).values()];
    const a = await capsules(mine);
    const b = await capsules(theirs);
    assert.equal(a.length, 1);
    assert.equal(b.length, 1, 'fwupd wrote one capsule under EFI/UpdateCapsule');
    assert.ok(a[0]!.equals(b[0]!), 'the same capsule bytes');
    assert.ok(a[0]!.equals(await readFile(CAP('unsigned-persist.cap'))));
    const osInd = async (w: World) => (await readFile(join(w.root, EFIVARS, `OsIndications-${GLOBAL}`))).toString('hex');
    assert.equal(await osInd(mine), await osInd(theirs), 'OsIndications: the same attributes and value');
    assert.equal(await osInd(mine), '070000000400000000000000');
  } finally {
    await mine.cleanup();
    await theirs.cleanup();
  }
});

/** An EFI GUID's bytes (the first three fields little-endian). */
function guidBytes(g: string): Buffer {
  const h = g.replace(/-/g, '');
  const b = Buffer.alloc(16);
  b.writeUInt32LE(parseInt(h.slice(0, 8), 16), 0);
  b.writeUInt16LE(parseInt(h.slice(8, 12), 16), 4);
  b.writeUInt16LE(parseInt(h.slice(12, 16), 16), 6);
  Buffer.from(h.slice(16), 'hex').copy(b, 8);
  return b;
}
