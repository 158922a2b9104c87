import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { json } from './helpers/cli.js';
import { EFIVARS, GLOBAL } from './helpers/sysroot.js';
import { CAP, setDmi as dmi, world, type World } from './helpers/uefi-world.js';
import { QUIRKS, quirksFor } from '../src/targets/uefi/quirks.js';

// Vendor quirks from the data table (src/targets/uefi/uefi-quirks.json), keyed by the sysroot's DMI
// strings, and a read-only efivarfs.

type Staged = { details: { deliveredTo: string; quirks: string[]; osIndicationsSkipped: string | null } };
const stage = async (w: World, cap = 'unsigned-4k.cap') => {
  const r = await w.run(['stage', CAP(cap), '--allow-unsigned', '--capsule-delivery', 'disk', '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return json<Staged>(r).details;
};

test('uefi quirks: the table matches on DMI strings (every given key, case-insensitive); no match, no quirk', () => {
  assert.deepEqual(quirksFor({ sysVendor: 'LENOVO', productName: '20XY', biosVendor: 'INSYDE Corp.' }).map((q) => q.name), ['Insyde H2O firmware']);
  assert.deepEqual(quirksFor({ sysVendor: 'Dell Inc.', productName: 'XPS', biosVendor: 'Dell Inc.' }), []);
  assert.deepEqual(quirksFor({ sysVendor: null, productName: null, biosVendor: null }), []);
  const table = [{ name: 'both', match: { sysVendor: '^ACME$', productName: 'Board 7' }, capsuleFileName: 'insyde' as const, source: 'test' }];
  assert.equal(quirksFor({ sysVendor: 'acme', productName: 'Board 7 rev B', biosVendor: null }, table).length, 1);
  assert.equal(quirksFor({ sysVendor: 'acme', productName: 'Board 8', biosVendor: null }, table).length, 0, 'every given key must match');
  for (const q of QUIRKS) assert.ok(q.name && q.source && Object.keys(q.match).length > 0, `table entry ${q.name} is complete`);
});

test('uefi quirks: on Insyde firmware the capsule is EFI/UpdateCapsule/CapsuleUpdateFile####.bin (the lowest free index, its own name reused)', async () => {
  const w = await world({ loader: 'none' });
  try {
    await dmi(w, { sys_vendor: 'LENOVO', product_name: '82XY', bios_vendor: 'Insyde Corp.' });
    const dir = join(w.root, 'boot/efi/EFI/UpdateCapsule');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'CapsuleUpdateFile0000.bin'), 'another tool\'s capsule');
    let d = await stage(w);
    assert.deepEqual(d.quirks, ['Insyde H2O firmware']);
    assert.equal(d.deliveredTo, join(dir, 'CapsuleUpdateFile0001.bin'), 'index 0000 is taken by someone else');
    assert.deepEqual(await readFile(d.deliveredTo), await readFile(CAP('unsigned-4k.cap')));
    d = await stage(w, 'unsigned-persist.cap');
    assert.equal(d.deliveredTo, join(dir, 'CapsuleUpdateFile0001.bin'), 'a new stage for the same entry takes the name of the capsule it replaces');
    assert.deepEqual((await readdir(dir)).sort(), ['CapsuleUpdateFile0000.bin', 'CapsuleUpdateFile0001.bin']);
    assert.equal(await readFile(join(dir, 'CapsuleUpdateFile0000.bin'), 'utf8'), 'another tool\'s capsule', 'the other capsule is left alone');
  } finally {
    await w.cleanup();
  }
  const plain = await world({ loader: 'none' });
  try {
    await dmi(plain, { sys_vendor: 'Dell Inc.', bios_vendor: 'Dell Inc.' });
    const d = await stage(plain);
    assert.deepEqual(d.quirks, []);
    assert.match(d.deliveredTo, /EFI\/UpdateCapsule\/fwup-[0-9a-f-]{36}\.cap$/);
  } finally {
    await plain.cleanup();
  }
});

test('uefi: a read-only efivarfs: the capsule is written, OsIndications is left alone, and stage says so', async () => {
  const w = await world({ loader: 'none', osIndications: { attributes: 0x7, value: 0x10n } });
  try {
    await mkdir(join(w.root, 'proc/self'), { recursive: true });
    await writeFile(join(w.root, 'proc/self/mounts'), 'sysfs /sys sysfs rw,nosuid 0 0\nefivarfs /sys/firmware/efi/efivars efivarfs ro,nosuid,nodev,noexec,relatime 0 0\n');
    const osInd = join(w.root, EFIVARS, `OsIndications-${GLOBAL}`);
    const before = await readFile(osInd);
    const d = await stage(w);
    assert.match(d.osIndicationsSkipped!, /efivarfs is mounted read-only: OsIndications was not set/);
    assert.deepEqual(await readFile(d.deliveredTo), await readFile(CAP('unsigned-4k.cap')));
    assert.deepEqual(await readFile(osInd), before, 'OsIndications untouched');
    const r = await w.run(['unstage']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readFile(osInd), before);
    const text = await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--capsule-delivery', 'disk']);
    assert.equal(text.code, 0);
    assert.match(text.stderr, /warning: efivarfs is mounted read-only/);
  } finally {
    await w.cleanup();
  }
});
