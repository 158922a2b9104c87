import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, readdir, rename, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT } from '../src/errors/exit-codes.js';
import { readRecord, writeRecord } from '../src/targets/state-records.js';
import { espSpaceNeeded } from '../src/targets/uefi/uefi-stage.js';
import type { UefiRequest } from '../src/targets/uefi/uefi-results.js';
import { hashTree, json } from './helpers/cli.js';
import { readVar, simulateReboot } from './helpers/sysroot.js';
import { CAP, SIGNED_FW, SYS_FW, TWO_ENTRIES, recordName, setDmi, uefiTest, world, type World } from './helpers/uefi-world.js';
import { TMPFS_MOUNT, needs } from './helpers/requirements.js';

// The records of several capsules: the previous single-record layout still read, Insyde's numbered
// names kept distinct, and the ESP space check counting the capsules already staged.

const A = 'unsigned-persist.cap'; // SYS_FW 0x20B
const A2 = 'unsigned-4k.cap'; // SYS_FW 0x20A
const B = 'signed-sha256-mc.cap'; // SIGNED_FW 0x310

async function stateDir(w: World): Promise<string> {
  const base = join(w.dir, 'state', 'fwup', 'uefi');
  return join(base, (await readdir(base))[0]!);
}
const records = async (w: World) => (await readdir(await stateDir(w))).filter((n) => n.endsWith('.json')).sort();
async function stage(w: World, cap: string, extra: string[] = []): Promise<{ deliveredTo: string }> {
  const r = await w.run(['stage', CAP(cap), '--allow-unsigned', '--json', ...extra]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return json<{ details: { deliveredTo: string } }>(r).details;
}
type Status = { capsules: Array<{ entry: string; state: string; version: string; outcome: { state: string } | null }>; warnings: string[] };
const status = async (w: World) => json<Status>(await w.run(['status', '--json']));

/** Turn an entry's record into the one the previous fwup wrote: the same record, under the single name. */
async function toLegacy(w: World, kind: 'request' | 'pending', guid = SYS_FW): Promise<void> {
  const dir = await stateDir(w);
  await rename(join(dir, recordName(kind, guid)), join(dir, `${kind}.json`));
}

uefiTest('uefi multi: a request.json staged by the previous fwup is read as its entry\'s, kept beside a new entry\'s, and replaced by the next stage for it', async () => {
  const w = await world({ loader: 'none', esrt: TWO_ENTRIES });
  try {
    await stage(w, A);
    await toLegacy(w, 'request');
    assert.deepEqual(await records(w), ['request.json']);
    assert.deepEqual((await status(w)).capsules.map((c) => [c.entry, c.state, c.version]), [[SYS_FW, 'staged', '0x0000020B']]);
    await stage(w, B);
    assert.deepEqual(await records(w), [recordName('request', SIGNED_FW), 'request.json'].sort(), 'the old record is still its entry\'s');
    assert.deepEqual((await status(w)).capsules.map((c) => c.entry).sort(), [SIGNED_FW, SYS_FW].sort());
    await stage(w, A2);
    assert.deepEqual(await records(w), [recordName('request', SIGNED_FW), recordName('request', SYS_FW)].sort(), 'the restage moved it to the new layout');
    const ap = await w.run(['apply']);
    assert.equal(ap.code, 0, ap.stderr);
    assert.deepEqual(await records(w), [recordName('pending', SIGNED_FW), recordName('pending', SYS_FW)].sort());
  } finally {
    await w.cleanup();
  }
});

uefiTest('uefi multi: a pending.json of the previous fwup is judged after the reboot, archived by the next stage, and unstage removes it', async () => {
  const w = await world({ loader: 'none', esrt: TWO_ENTRIES });
  try {
    await stage(w, A);
    assert.equal((await w.run(['apply'])).code, 0);
    await toLegacy(w, 'pending');
    await simulateReboot(w.root, 0, { ...TWO_ENTRIES[0]!, fwVersion: 0x20b, lastAttemptVersion: 0x20b, lastAttemptStatus: 0 }, 'boot-2');
    assert.deepEqual((await status(w)).capsules.map((c) => [c.entry, c.state, c.outcome?.state]), [[SYS_FW, 'pending', 'success']]);
    type H = { entries: Array<{ action: string; statusName: string }> };
    assert.deepEqual(json<H>(await w.run(['history', '--json'])).entries.map((e) => [e.action, e.statusName]), [['apply', 'delivered'], ['pending', 'success']]);
    await stage(w, B);
    assert.ok((await records(w)).includes('pending.json'), 'another entry\'s stage leaves it');
    await stage(w, 'unsigned-vendor-code.cap'); // SYS_FW 0x20D, newer than the installed 0x20B
    assert.deepEqual(await records(w), [recordName('request', SIGNED_FW), recordName('request', SYS_FW)].sort());
    assert.deepEqual(json<H>(await w.run(['history', '--json'])).entries.map((e) => [e.action, e.statusName]), [['apply', 'delivered'], ['superseded', 'success']]);
  } finally {
    await w.cleanup();
  }
  const u = await world({ loader: 'none', esrt: TWO_ENTRIES });
  try {
    const pristine = await hashTree(u.root);
    await stage(u, A);
    assert.equal((await u.run(['apply'])).code, 0);
    await toLegacy(u, 'pending');
    assert.equal((await u.run(['unstage'])).code, 0);
    assert.deepEqual(await records(u), []);
    assert.equal(await hashTree(u.root), pristine);
  } finally {
    await u.cleanup();
  }
});

uefiTest('uefi multi: an intent.json the previous fwup left (a cut stage) is reported by status and undone by unstage', async () => {
  const w = await world({ loader: 'none', esrt: TWO_ENTRIES });
  try {
    const pristine = await hashTree(w.root);
    await stage(w, A);
    const dir = await stateDir(w);
    // A stage cut after its capsule and OsIndications: only the intent, under the old name.
    const req = (await readRecord<UefiRequest>(join(dir, recordName('request')), 'request'))!;
    await writeRecord(join(dir, 'intent.json'), { ...req, state: 'delivering' });
    await rename(join(dir, recordName('request')), join(dir, '.gone'));
    assert.ok((await status(w)).warnings.some((x) => /cut before the capsule was fully delivered/.test(x)));
    assert.equal((await w.run(['unstage'])).code, 0);
    assert.equal(await hashTree(w.root), pristine, 'the capsule and OsIndications are gone');
    assert.deepEqual(await records(w), []);
  } finally {
    await w.cleanup();
  }
});

uefiTest('uefi multi: on Insyde firmware each entry gets its own CapsuleUpdateFile number, kept when that entry is staged again', async () => {
  const w = await world({ loader: 'none', esrt: TWO_ENTRIES });
  try {
    await setDmi(w, { sys_vendor: 'LENOVO', bios_vendor: 'Insyde Corp.' });
    const dir = join(w.root, 'boot/efi/EFI/UpdateCapsule');
    assert.equal((await stage(w, A)).deliveredTo, join(dir, 'CapsuleUpdateFile0000.bin'));
    assert.equal((await stage(w, B)).deliveredTo, join(dir, 'CapsuleUpdateFile0001.bin'));
    assert.equal((await stage(w, A2)).deliveredTo, join(dir, 'CapsuleUpdateFile0000.bin'));
    assert.deepEqual(await readFile(join(dir, 'CapsuleUpdateFile0000.bin')), await readFile(CAP(A2)));
    assert.deepEqual(await readFile(join(dir, 'CapsuleUpdateFile0001.bin')), await readFile(CAP(B)));
    assert.equal((await w.run(['unstage', '--component', SYS_FW])).code, 0);
    assert.deepEqual(await readdir(dir), ['CapsuleUpdateFile0001.bin']);
    assert.equal((await stage(w, A)).deliveredTo, join(dir, 'CapsuleUpdateFile0000.bin'), 'the lowest free number again');
    assert.deepEqual(await readVar(w.root, 'OsIndications'), { attributes: 0x7, value: 0x4n, length: 12 });
  } finally {
    await w.cleanup();
  }
});

test('uefi multi: the ESP space check counts the capsules already staged (the firmware copies each of them)', async (t) => {
  if (!needs(t, TMPFS_MOUNT())) return;
  const w = await world({ loader: 'none', esrt: TWO_ENTRIES });
  const esp = join(w.root, 'boot/efi');
  let mounted = false;
  try {
    assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', esp]).status, 0);
    mounted = true;
    await mkdir(join(esp, 'EFI/BOOT'), { recursive: true });
    await stage(w, A);
    const [a, b] = [(await stat(CAP(A))).size, (await stat(CAP(B))).size];
    // Shrink the ESP so B alone would fit but B with the firmware's copy of A does not.
    const s = await statfs(esp);
    const used = (s.blocks - s.bavail) * s.bsize;
    const free = Math.ceil(espSpaceNeeded(b) / s.bsize) * s.bsize;
    assert.equal(spawnSync('mount', ['-o', `remount,size=${used + free}`, esp]).status, 0);
    const now = await statfs(esp);
    const left = now.bavail * now.bsize;
    if (!(left >= espSpaceNeeded(b) && left < espSpaceNeeded(b) + a)) return t.skip(`tmpfs granularity: ${left} free does not fall between ${espSpaceNeeded(b)} and ${espSpaceNeeded(b) + a}`);
    const before = await w.snapshot();
    const r = await w.run(['stage', CAP(B), '--allow-unsigned', '--json']);
    assert.equal(r.code, EXIT.TARGET, r.stdout);
    const e = json<{ error: { code: string; message: string; details: { need: number; alreadyStaged: number } } }>(r).error;
    assert.equal(e.code, 'TARGET_NO_SPACE');
    assert.deepEqual([e.details.need, e.details.alreadyStaged], [espSpaceNeeded(b) + a, a]);
    assert.match(e.message, new RegExp(`and ${a} for the firmware's copy of the 1 capsule already staged`));
    assert.equal(await w.snapshot(), before, 'nothing written');
    // Without A staged, B fits.
    assert.equal((await w.run(['unstage', '--component', SYS_FW])).code, 0);
    await stage(w, B);
  } finally {
    if (mounted) spawnSync('umount', [esp]);
    await w.cleanup();
  }
});
