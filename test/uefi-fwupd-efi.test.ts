import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, readdir, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashTree, json } from './helpers/cli.js';
import { EFIVARS, simulateReboot, writeVar } from './helpers/sysroot.js';
import { CAP, ESRT, SYS_FW } from './helpers/uefi-world.js';
import { ESP_PART, FWUPDATE_GUID, HELPER_IN_SYSROOT, PART_UUID, efiVar, fallbackWorld, readVarFile } from './helpers/fwupd-efi-world.js';
import { FWUPD_EFI, FWUPD_EFI_HELPER, needs } from './helpers/requirements.js';
import { EXIT } from '../src/errors/exit-codes.js';
import { espPartition } from '../src/targets/uefi/esp-partition.js';
import { decodeUpdateInfo, encodeLoadOption, encodeUpdateInfo, espFileDevicePath, filePathOf, loadOptionDescription } from '../src/targets/uefi/fwupd-efi-layouts.js';

// The fwupd-efi fallback: firmware without capsule-on-disk and without the kernel's loader gets the
// capsule through fwupd's own UEFI helper (Debian's fwupd-amd64-signed), started once by BootNext.

const INFO = `fwupd-${SYS_FW.toLowerCase()}-0`;
const CAPSULE_ON_ESP = `boot/efi/EFI/debian/fw/fwupd-${SYS_FW.toLowerCase()}.cap`;
type Err = { error: { code: string; message: string; hint: string } };
type Staged = { details: { delivery: string; why: string; deliveredTo: string } };

test('fwupd-efi layouts: the update-info header, the ESP device path and the load option, against hand-computed bytes', () => {
  const dp = espFileDevicePath({ number: 1, start: 2048n, size: 0x100000n, partUuid: '00112233-4455-6677-8899-aabbccddeeff' }, 'EFI/x/a.cap');
  const hex = [
    '04012a00', '01000000', '0008000000000000', '0000100000000000', '33221100554477668899aabbccddeeff', '02', '02', // hard drive, 42 bytes
    '04041e00', Buffer.from('\\EFI\\x\\a.cap\0', 'utf16le').toString('hex'), // file path: 4 + 26 bytes
    '7fff0400', // end of the whole path
  ].join('');
  assert.equal(dp.toString('hex'), hex);
  const info = encodeUpdateInfo('050b1160-7519-4c47-a2de-1c97ea5f5406', 0x58010, dp);
  assert.equal(info.subarray(0, 52).toString('hex'), [
    '07000000', '60110b05' + '1975' + '474c' + 'a2de1c97ea5f5406', '10800500', '0000000000000000', '00'.repeat(16), '01000000',
  ].join(''));
  assert.ok(info.subarray(52).equals(dp));
  const d = decodeUpdateInfo(info);
  assert.deepEqual([d.version, d.guid, d.capsuleFlags, d.status, d.timeAttempted, d.capsulePath], [7, '050B1160-7519-4C47-A2DE-1C97EA5F5406', 0x58010, 1, null, '\\EFI\\x\\a.cap']);
  const opt = encodeLoadOption('Linux Firmware Updater', dp);
  assert.equal(opt.subarray(0, 6).toString('hex'), `01000000${dp.length.toString(16).padStart(2, '0')}00`);
  assert.equal(loadOptionDescription(opt), 'Linux Firmware Updater');
  assert.equal(filePathOf(opt.subarray(6 + 46)), '\\EFI\\x\\a.cap');
  assert.throws(() => filePathOf(Buffer.from('04041000', 'hex')), /runs past the end/);
});

test('fwupd-efi: with neither capsule-on-disk nor the loader, auto stages through fwupd\'s helper: capsule, helper, update-info, Boot0001, BootNext; unstage puts the tree back', async (t) => {
  if (!needs(t, FWUPD_EFI())) return;
  const w = await fallbackWorld({ helper: true });
  try {
    const before = await hashTree(w.root);
    const bootOrder = await readVarFile(w.root, 'BootOrder');
    const r = await w.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const d = json<Staged>(r).details;
    assert.equal(d.delivery, 'fwupd-efi');
    assert.match(d.why, /fwupd's UEFI helper/);
    assert.equal(d.deliveredTo, join(w.root, CAPSULE_ON_ESP));
    assert.deepEqual(await readFile(join(w.root, CAPSULE_ON_ESP)), await readFile(CAP('unsigned-persist.cap')));
    assert.deepEqual(await readFile(join(w.root, 'boot/efi/EFI/debian/fwupdx64.efi')), await readFile(FWUPD_EFI_HELPER), 'the helper Debian ships, copied to EFI/<os>/');
    const info = (await readVarFile(w.root, INFO, FWUPDATE_GUID))!;
    assert.equal(info.readUInt32LE(0), 7, 'NV|BS|RT');
    const u = decodeUpdateInfo(info.subarray(4));
    assert.deepEqual([u.version, u.guid, u.status, u.capsulePath], [7, SYS_FW, 1, `\\EFI\\debian\\fw\\fwupd-${SYS_FW.toLowerCase()}.cap`]);
    assert.equal(u.capsuleFlags, 0x8010 | 0x50000, 'the ESRT entry\'s flags, with the two reset flags fwupd adds when it has neither');
    const hd = info.subarray(4 + 52);
    assert.deepEqual([hd.readUInt32LE(4), hd.readBigUInt64LE(8), hd.readBigUInt64LE(16)], [ESP_PART.number, BigInt(ESP_PART.startSectors), BigInt(ESP_PART.sizeSectors)]);
    assert.equal(hd.subarray(24, 40).toString('hex'), '3c2b1a6f5e4d604f8a7b9c0d1e2f3a4b', `the GPT GUID from udev (${PART_UUID}), in EFI byte order`);
    const boot = (await readVarFile(w.root, 'Boot0001'))!;
    assert.equal(loadOptionDescription(boot.subarray(4)), 'Linux Firmware Updater');
    assert.equal(filePathOf(boot.subarray(4 + 6 + 46)), '\\EFI\\debian\\fwupdx64.efi');
    assert.equal((await readVarFile(w.root, 'BootNext'))!.toString('hex'), '070000000100', 'BootNext = 0x0001');
    assert.deepEqual(await readVarFile(w.root, 'BootOrder'), bootOrder, 'BootOrder is left alone');
    const status = json<{ staged: { delivery: string }; delivery: { fwupdEfiHelper: string | null } }>(await w.run(['status', '--json']));
    assert.equal(status.staged.delivery, 'fwupd-efi');
    assert.equal(status.delivery.fwupdEfiHelper, join(w.root, HELPER_IN_SYSROOT));
    const u2 = await w.run(['unstage', '--json']);
    assert.equal(u2.code, 0, u2.stdout + u2.stderr);
    assert.equal(await hashTree(w.root), before, 'every file and variable the stage wrote is gone');
    assert.deepEqual(await readdir(join(w.root, 'boot/efi/EFI')), ['BOOT'], 'and the directories it made');
  } finally {
    await w.cleanup();
  }
});

test('fwupd-efi: the helper not installed: auto exits 10 naming fwupd-amd64-signed, --capsule-delivery fwupd-efi says HELPER_NOT_FOUND; nothing written', async () => {
  const w = await fallbackWorld({ helper: false });
  try {
    const before = await w.snapshot();
    const auto = await w.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned', '--json']);
    assert.equal(auto.code, EXIT.TARGET, auto.stdout + auto.stderr);
    const a = json<Err>(auto).error;
    assert.equal(a.code, 'TARGET_UNSUPPORTED');
    assert.match(a.message, /no way to hand the capsule.*fwupd's UEFI helper is not installed \(no .*usr\/libexec\/fwupd\/efi\/fwupdx64\.efi\.signed\)/);
    assert.match(a.hint, /apt-get install fwupd-amd64-signed/);
    const forced = await w.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned', '--capsule-delivery', 'fwupd-efi', '--json']);
    assert.equal(forced.code, EXIT.NOT_FOUND, forced.stdout + forced.stderr);
    const f = json<Err>(forced).error;
    assert.equal(f.code, 'HELPER_NOT_FOUND');
    assert.match(f.message, /fwupdx64\.efi\.signed/);
    assert.match(f.hint, /fwupd-amd64-signed.*nothing was written/);
    assert.equal(await w.snapshot(), before, 'the tree and the state are byte-identical');
  } finally {
    await w.cleanup();
  }
});

test('fwupd-efi: refused with nothing written: Secure Boot on (shim is not handled), an MBR ESP, an ESP that is not a mount point', async (t) => {
  if (!needs(t, FWUPD_EFI())) return;
  const cases = [
    { o: { helper: true, secureBoot: true }, msg: /Secure Boot is on.*shim/ },
    { o: { helper: true, scheme: 'dos' as const }, msg: /dos partition table: fwup writes boot entries for GPT disks only/ },
    { o: { helper: true }, unmount: true, msg: /\/boot\/efi is not a mount point/ },
  ];
  for (const c of cases) {
    const w = await fallbackWorld(c.o);
    try {
      if (c.unmount) await writeFile(join(w.root, 'proc/self/mountinfo'), '26 1 8:2 / / rw - ext4 /dev/sda2 rw\n');
      const before = await w.snapshot();
      const r = await w.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned', '--json']);
      assert.equal(r.code, EXIT.TARGET, r.stdout + r.stderr);
      assert.match(json<Err>(r).error.message, c.msg);
      assert.equal(await w.snapshot(), before, `${String(c.msg)}: nothing written`);
    } finally {
      await w.cleanup();
    }
  }
});

test('fwupd-efi: an existing "Linux Firmware Updater" entry is reused and rewritten; unstage puts its old bytes back; --dry-run writes nothing', async (t) => {
  if (!needs(t, FWUPD_EFI())) return;
  const w = await fallbackWorld({ helper: true });
  try {
    const stale = Buffer.concat([Buffer.from([7, 0, 0, 0]), encodeLoadOption('Linux Firmware Updater', espFileDevicePath({ number: 9, start: 1n, size: 2n, partUuid: PART_UUID }, 'EFI/old/fwupdx64.efi'))]);
    await writeFile(efiVar(w.root, 'Boot0003'), stale);
    const before = await w.snapshot();
    const dry = await w.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned', '--dry-run', '--json']);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.equal(await w.snapshot(), before, '--dry-run changes nothing');
    const r = await w.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal((await readVarFile(w.root, 'BootNext'))!.toString('hex'), '070000000300', 'BootNext names fwupd\'s entry, reused');
    assert.equal(await readVarFile(w.root, 'Boot0001'), null, 'no second entry');
    assert.equal(filePathOf((await readVarFile(w.root, 'Boot0003'))!.subarray(4 + 6 + 46)), '\\EFI\\debian\\fwupdx64.efi', 'rewritten to start the helper just copied');
    assert.equal((await w.run(['unstage'])).code, 0);
    assert.deepEqual(await readVarFile(w.root, 'Boot0003'), stale, 'the entry as it was');
    assert.equal(await hashTree(w.root), before.split('/')[0]);
  } finally {
    await w.cleanup();
  }
});

test('fwupd-efi: after the reboot status reads the helper\'s report beside the ESRT, and history keeps it; apply refuses once BootNext is gone', async (t) => {
  if (!needs(t, FWUPD_EFI())) return;
  const w = await fallbackWorld({ helper: true });
  try {
    assert.equal((await w.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned'])).code, 0);
    const next = await readFile(efiVar(w.root, 'BootNext'));
    await rm(efiVar(w.root, 'BootNext'));
    const refused = await w.run(['apply', '--warm', '--no-reboot', '--json']);
    assert.equal(refused.code, EXIT.TARGET, refused.stdout + refused.stderr);
    assert.match(json<Err>(refused).error.message, /BootNext .* is gone/);
    await writeFile(efiVar(w.root, 'BootNext'), next);
    assert.equal((await w.run(['apply', '--warm', '--no-reboot'])).code, 0);
    // The boot: the firmware takes BootNext (and deletes it), the helper stamps its variable "attempted".
    const infoPath = efiVar(w.root, INFO, FWUPDATE_GUID);
    const info = await readFile(infoPath);
    info.writeUInt16LE(2026, 4 + 32); info.writeUInt8(12, 4 + 34); info.writeUInt8(2, 4 + 35); info.writeUInt8(10, 4 + 36);
    info.writeUInt32LE(2, 4 + 48);
    await writeFile(infoPath, info);
    await rm(efiVar(w.root, 'BootNext'));
    await simulateReboot(w.root, 0, { ...ESRT[0]!, fwVersion: 0x20b, lastAttemptVersion: 0x20b, lastAttemptStatus: 0 }, 'boot-2');
    type Helper = { state: string; timeAttempted: string | null };
    const s = json<{ outcome: { state: string; helper: Helper }; warnings: string[] }>(await w.run(['status', '--json']));
    assert.equal(s.outcome.state, 'success');
    assert.deepEqual([s.outcome.helper.state, s.outcome.helper.timeAttempted], ['attempted', '2026-12-02T10:00:00']);
    const h = json<{ entries: Array<{ action: string; attempt?: { delivery: string; helper?: Helper | null } }> }>(await w.run(['history', '--json'])).entries;
    assert.deepEqual(h.map((e) => [e.action, e.attempt?.delivery, e.attempt?.helper?.state ?? null]), [['apply', 'fwupd-efi', null], ['pending', 'fwupd-efi', 'attempted']]);
  } finally {
    await w.cleanup();
  }
});

test('fwupd-efi: when the helper did not run (the variable still asks for an attempt) status says why the ESRT shows nothing', async (t) => {
  if (!needs(t, FWUPD_EFI())) return;
  const w = await fallbackWorld({ helper: true });
  try {
    assert.equal((await w.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned'])).code, 0);
    assert.equal((await w.run(['apply', '--warm', '--no-reboot'])).code, 0);
    await simulateReboot(w.root, 0, ESRT[0]!, 'boot-2');
    const s = json<{ outcome: { state: string; helper: { state: string } }; warnings: string[] }>(await w.run(['status', '--json']));
    assert.equal(s.outcome.state, 'not-attempted');
    assert.equal(s.outcome.helper.state, 'attempt-update');
    assert.ok(s.warnings.some((m) => /fwupd's helper did not run/.test(m)), s.warnings.join('\n'));
    // Unstage after the attempt removes the fallback's files and variables too.
    assert.equal((await w.run(['unstage'])).code, 0);
    assert.equal(await readVarFile(w.root, INFO, FWUPDATE_GUID), null);
    assert.equal(await readVarFile(w.root, 'Boot0001'), null);
    assert.deepEqual((await readdir(join(w.root, EFIVARS))).filter((n) => n.startsWith('Boot')).sort(), ['Boot0000-8be4df61-93ca-11d2-aa0d-00e098032b8c', 'BootOrder-8be4df61-93ca-11d2-aa0d-00e098032b8c']);
    assert.equal(await readFile(join(w.root, HELPER_IN_SYSROOT)).then(() => true), true, 'the installed helper itself stays');
  } finally {
    await w.cleanup();
  }
});

test('fwupd-efi: a helper fwupd already put on the ESP is used and left there; a second stage while one is staged is refused (TARGET_BUSY), nothing written', async (t) => {
  if (!needs(t, FWUPD_EFI())) return;
  const w = await fallbackWorld({ helper: true });
  try {
    await mkdir(join(w.root, 'boot/efi/EFI/debian'), { recursive: true });
    await copyFile(FWUPD_EFI_HELPER, join(w.root, 'boot/efi/EFI/debian/fwupdx64.efi'));
    const pristine = await hashTree(w.root);
    const r = await w.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(!json<{ plan: Array<{ path?: string }> }>(r).plan.some((a) => a.path?.endsWith('fwupdx64.efi')), 'the identical helper is not rewritten');
    // Even once the firmware takes capsules from disk (a firmware update), the staged fallback is in the way.
    await writeVar(w.root, 'OsIndicationsSupported', 0x6, 0x5n);
    const staged = await w.snapshot();
    for (const delivery of [[], ['--capsule-delivery', 'disk']]) {
      const again = await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', ...delivery, '--json']);
      assert.equal(again.code, EXIT.BUSY, again.stdout + again.stderr);
      assert.match(json<Err>(again).error.hint, /unstage it first/);
      assert.equal(await w.snapshot(), staged, 'nothing written');
    }
    await writeVar(w.root, 'OsIndicationsSupported', 0x6, 0x1n);
    assert.equal((await w.run(['unstage'])).code, 0);
    assert.equal(await hashTree(w.root), pristine, 'fwupd\'s helper stays where it was, the rest is gone');
  } finally {
    await w.cleanup();
  }
});

test('fwupd-efi: the ESP\'s partition from the sysroot: sysfs sectors in the disk\'s logical blocks, the GUID from udev or else by-partuuid', async () => {
  const w = await fallbackWorld({ helper: false });
  try {
    const esp = join(w.root, 'boot/efi');
    assert.deepEqual(await espPartition(w.root, esp), { number: 1, start: 2048n, size: 1048576n, partUuid: PART_UUID, device: 'sda1', logicalBlockSize: 512 });
    const disk = join(await realpath(join(w.root, 'sys/dev/block/8:1')), '..');
    await writeFile(join(disk, 'queue/logical_block_size'), '4096\n');
    await rm(join(w.root, 'run/udev/data/b8:1'));
    await mkdir(join(w.root, 'dev/disk/by-partuuid'), { recursive: true });
    await symlink('../../sda1', join(w.root, 'dev/disk/by-partuuid', PART_UUID.toUpperCase()));
    assert.deepEqual(await espPartition(w.root, esp), { number: 1, start: 256n, size: 131072n, partUuid: PART_UUID, device: 'sda1', logicalBlockSize: 4096 });
    await rm(join(w.root, 'dev/disk/by-partuuid', PART_UUID.toUpperCase()));
    await assert.rejects(espPartition(w.root, esp), /cannot find the GPT partition GUID of the ESP \(sda1\)/);
  } finally {
    await w.cleanup();
  }
});
