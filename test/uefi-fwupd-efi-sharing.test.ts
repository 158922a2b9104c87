import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { hashTree, json } from './helpers/cli.js';
import { EFIVARS, simulateRebootAll, writeVar } from './helpers/sysroot.js';
import { CAP, SIGNED_FW, SYS_FW, TWO_ENTRIES, type World } from './helpers/uefi-world.js';
import { FWUPDATE_GUID, fallbackWorld, helperRan, readVarFile } from './helpers/fwupd-efi-world.js';
import { FWUPD_EFI, needs } from './helpers/requirements.js';
import { EXIT } from '../src/errors/exit-codes.js';
import { fwupdEfiSharing } from '../src/targets/uefi/fwupd-efi-sharing.js';
import type { Delivery } from '../src/targets/uefi/capsule-delivery.js';
import type { RecordSet } from '../src/targets/uefi/uefi-records.js';
import type { UefiPending, UefiRequest } from '../src/targets/uefi/uefi-results.js';

// The fwupd-efi fallback takes the next boot alone (docs/targets.md, fwupd-efi-sharing.ts): with two
// ESRT entries, which stages may share the machine with it, and which are refused with nothing written.

const A = 'unsigned-persist.cap'; // SYS_FW 0x20B
const A2 = 'unsigned-4k.cap'; // SYS_FW 0x20A
const B = 'signed-sha256-mc.cap'; // SIGNED_FW 0x310
type Err = { error: { code: string; message: string; hint: string } };
const INFO_A = `fwupd-${SYS_FW.toLowerCase()}-0`;

type Rec = { key: string; delivery: Delivery; waits?: boolean };
function recordSet(o: { intents?: Rec[]; requests?: Rec[]; pendings?: Rec[] }): RecordSet {
  const keyed = (r: Rec) => ({ key: r.key, name: `x-${r.key}.json`, record: { delivery: r.delivery, bootIdAtApply: r.waits === false ? 'done' : 'waits' } as unknown as UefiPending });
  return { intents: (o.intents ?? []).map(keyed), requests: (o.requests ?? []).map(keyed), pendings: (o.pendings ?? []).map(keyed) };
}
const waits = async (p: UefiPending | UefiRequest) => (p as UefiPending).bootIdAtApply === 'waits';

test('fwupd-efi sharing: the decision table over every record kind, delivery and entry', async () => {
  const a = (delivery: Delivery, w?: boolean): Rec => ({ key: 'A', delivery, ...(w === undefined ? {} : { waits: w }) });
  const b = (delivery: Delivery, w?: boolean): Rec => ({ key: 'B', delivery, ...(w === undefined ? {} : { waits: w }) });
  // [records, the stage (entry, delivery), the entry named in the refusal or null when allowed]
  const cases: Array<[Parameters<typeof recordSet>[0], string, Delivery, string | null]> = [
    [{}, 'A', 'fwupd-efi', null],
    [{ intents: [a('fwupd-efi')] }, 'B', 'disk', 'A'],
    [{ intents: [a('fwupd-efi')] }, 'A', 'fwupd-efi', 'A'],
    [{ requests: [a('fwupd-efi')] }, 'B', 'loader', 'A'],
    [{ requests: [a('fwupd-efi')] }, 'A', 'disk', 'A'],
    [{ requests: [a('fwupd-efi')] }, 'A', 'fwupd-efi', 'A'],
    [{ pendings: [a('fwupd-efi', true)] }, 'B', 'disk', 'A'],
    [{ pendings: [a('fwupd-efi', true)] }, 'A', 'fwupd-efi', 'A'],
    [{ pendings: [a('fwupd-efi', false)] }, 'B', 'disk', null],
    [{ pendings: [a('fwupd-efi', false)] }, 'B', 'loader', null],
    [{ pendings: [a('fwupd-efi', false)] }, 'B', 'fwupd-efi', 'A'],
    [{ pendings: [a('fwupd-efi', false)] }, 'A', 'fwupd-efi', null],
    [{ pendings: [a('fwupd-efi', false)] }, 'A', 'disk', 'A'],
    [{ requests: [b('disk')] }, 'A', 'fwupd-efi', 'B'],
    [{ requests: [b('disk')] }, 'A', 'disk', null],
    [{ intents: [b('disk')] }, 'A', 'fwupd-efi', 'B'],
    [{ requests: [a('disk')] }, 'A', 'fwupd-efi', 'A'],
    [{ pendings: [b('loader', true)] }, 'A', 'fwupd-efi', 'B'],
    [{ pendings: [b('loader', false)] }, 'A', 'fwupd-efi', null],
    [{ pendings: [a('disk', true)] }, 'A', 'fwupd-efi', 'A'],
    [{ pendings: [a('disk', false)] }, 'A', 'fwupd-efi', null],
  ];
  for (const [records, key, delivery, refusedBy] of cases) {
    const e = await fwupdEfiSharing(recordSet(records), key, delivery, waits);
    const what = `${JSON.stringify(records)}, stage ${key} by ${delivery}`;
    if (refusedBy === null) {
      assert.equal(e, null, `${what}: allowed`);
    } else {
      assert.equal(e?.code, 'TARGET_BUSY', `${what}: refused`);
      assert.equal((e?.details as { entry: string }).entry, refusedBy, `${what}: names ${refusedBy}`);
      assert.match(e!.hint!, new RegExp(`unstage.*--component ${refusedBy}.*nothing was written`), what);
    }
  }
});

const twoEntryFallback = () => fallbackWorld({ helper: true, sysroot: { esrt: TWO_ENTRIES } });
const diskSupport = (w: World, on: boolean) => writeVar(w.root, 'OsIndicationsSupported', 0x6, on ? 0x5n : 0x1n);

async function refused(w: World, args: string[], entry: string): Promise<void> {
  const before = await w.snapshot();
  const r = await w.run(['stage', ...args, '--allow-unsigned', '--json']);
  assert.equal(r.code, EXIT.BUSY, r.stdout + r.stderr);
  const e = json<Err>(r).error;
  assert.equal(e.code, 'TARGET_BUSY');
  assert.match(e.message, new RegExp(`capsule for ${entry}`));
  assert.match(e.hint, new RegExp(`--component ${entry}.*nothing was written`));
  assert.equal(await w.snapshot(), before, `${args.join(' ')}: nothing written`);
}

/** The boot: fwupd's helper runs, and the ESRT entry then reads `fwVersion`. */
async function helperBoot(w: World, entry: number, fwVersion: number, bootId: string): Promise<void> {
  await helperRan(w.root, SYS_FW, 9);
  await simulateRebootAll(w.root, [[entry, { ...TWO_ENTRIES[entry]!, fwVersion, lastAttemptVersion: fwVersion, lastAttemptStatus: 0 }]], bootId);
}

test('fwupd-efi sharing, two entries: a fallback capsule keeps the boot to itself until its reboot; after it another entry goes on disk, not through the helper; unstage --component undoes the fallback alone', async (t) => {
  if (!needs(t, FWUPD_EFI())) return;
  const w = await twoEntryFallback();
  try {
    const efivarsBefore = (await readdir(join(w.root, EFIVARS))).sort();
    const a = await w.run(['stage', CAP(A), '--allow-unsigned', '--json']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.equal(json<{ details: { delivery: string; entry: string } }>(a).details.delivery, 'fwupd-efi');
    // Staged: the other entry neither through the helper (auto) nor on disk, once the firmware takes capsules from disk.
    await refused(w, [CAP(B)], SYS_FW);
    await diskSupport(w, true);
    await refused(w, [CAP(B), '--capsule-delivery', 'disk'], SYS_FW);
    // Applied, awaiting the reboot: still the helper's boot.
    assert.equal((await w.run(['apply', '--warm', '--no-reboot'])).code, 0);
    await refused(w, [CAP(B), '--capsule-delivery', 'disk'], SYS_FW);
    // After the reboot the other entry may go on disk, but not through the helper (A's record holds its boot entry).
    await helperBoot(w, 0, 0x20b, 'boot-2');
    await refused(w, [CAP(B), '--capsule-delivery', 'fwupd-efi'], SYS_FW);
    const b = await w.run(['stage', CAP(B), '--allow-unsigned', '--capsule-delivery', 'disk', '--json']);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    const bFile = join(w.root, 'boot/efi/EFI/UpdateCapsule', `fwup-${SIGNED_FW.toLowerCase()}.cap`);
    assert.deepEqual(await readFile(bFile), await readFile(CAP(B)));
    const st = json<{ capsules: Array<{ entry: string; state: string; delivery: string; outcome: { helper?: { state: string } } | null }>; outcome: { helper?: { state: string } } }>(await w.run(['status', '--json']));
    assert.deepEqual(st.capsules.map((c) => [c.entry, c.state, c.delivery, c.outcome?.helper?.state ?? null]), [[SYS_FW, 'pending', 'fwupd-efi', 'attempted'], [SIGNED_FW, 'staged', 'disk', null]]);
    assert.equal(st.outcome.helper?.state, 'attempted', 'the helper\'s report beside the combined outcome');
    const text = await w.run(['status']);
    assert.match(text.stdout, /fwupd's helper\s+attempted at 2026-12-02T09:00:00/);
    // Unstage the fallback's entry: its variables, boot entry and files go; B's capsule and OsIndications stay.
    const u = await w.run(['unstage', '--component', SYS_FW.toLowerCase(), '--json']);
    assert.equal(u.code, 0, u.stdout + u.stderr);
    assert.equal(await readVarFile(w.root, INFO_A, FWUPDATE_GUID), null);
    assert.equal(await readVarFile(w.root, 'Boot0001'), null);
    assert.deepEqual((await readdir(join(w.root, 'boot/efi/EFI'))).sort(), ['BOOT', 'UpdateCapsule'], 'the fallback\'s directory is gone');
    assert.deepEqual(await readFile(bFile), await readFile(CAP(B)), 'B\'s capsule is untouched');
    assert.deepEqual((await readdir(join(w.root, EFIVARS))).sort(), [...efivarsBefore, `OsIndications-8be4df61-93ca-11d2-aa0d-00e098032b8c`].sort(), 'only B\'s OsIndications is new');
    // Now the helper is free again, but B waits for the boot on disk.
    await diskSupport(w, false);
    await refused(w, [CAP(A2), '--allow-older', '--capsule-delivery', 'fwupd-efi'], SIGNED_FW);
  } finally {
    await w.cleanup();
  }
});

test('fwupd-efi sharing: a capsule of another entry staged on disk keeps the helper out; nothing written', async (t) => {
  if (!needs(t, FWUPD_EFI())) return;
  const w = await twoEntryFallback();
  try {
    await diskSupport(w, true);
    const b = await w.run(['stage', CAP(B), '--allow-unsigned', '--json']);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    await refused(w, [CAP(A), '--capsule-delivery', 'fwupd-efi'], SIGNED_FW);
  } finally {
    await w.cleanup();
  }
});

test('fwupd-efi sharing: after its reboot the fallback\'s entry is staged again through the helper; history keeps the helper\'s report as it was; unstage restores what fwup found', async (t) => {
  if (!needs(t, FWUPD_EFI())) return;
  const w = await twoEntryFallback();
  try {
    const espBefore = await hashTree(join(w.root, 'boot/efi'));
    const efivarsBefore = (await readdir(join(w.root, EFIVARS))).sort();
    assert.equal((await w.run(['stage', CAP(A), '--allow-unsigned'])).code, 0);
    assert.equal((await w.run(['apply', '--warm', '--no-reboot'])).code, 0);
    // The helper ran, the firmware refused the capsule: the entry is still at 0x200, so 0x20A is an update.
    await helperBoot(w, 0, 0x200, 'boot-2');
    await diskSupport(w, true);
    await refused(w, [CAP(A2), '--capsule-delivery', 'disk'], SYS_FW);
    await diskSupport(w, false);
    const again = await w.run(['stage', CAP(A2), '--allow-unsigned', '--json']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal(json<{ details: { delivery: string } }>(again).details.delivery, 'fwupd-efi');
    const info = (await readVarFile(w.root, INFO_A, FWUPDATE_GUID))!;
    assert.equal(info.readUInt32LE(4 + 48), 1, 'the update-info variable asks for an attempt again');
    assert.equal((await readVarFile(w.root, 'BootNext'))!.toString('hex'), '070000000100', 'BootNext again, the same entry');
    type H = { entries: Array<{ action: string; attempt?: { helper?: { state: string; timeAttempted: string | null } | null } }> };
    const superseded = json<H>(await w.run(['history', '--json'])).entries.find((e) => e.action === 'superseded');
    assert.deepEqual([superseded?.attempt?.helper?.state, superseded?.attempt?.helper?.timeAttempted], ['attempted', '2026-12-02T09:00:00'], 'the replaced attempt\'s report, read before the stage rewrote it');
    assert.equal((await w.run(['unstage'])).code, 0);
    assert.equal(await hashTree(join(w.root, 'boot/efi')), espBefore, 'the ESP as fwup found it');
    assert.deepEqual((await readdir(join(w.root, EFIVARS))).sort(), efivarsBefore, 'the variables as fwup found them');
  } finally {
    await w.cleanup();
  }
});
