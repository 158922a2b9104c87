import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT } from '../src/errors/exit-codes.js';
import { FMP_CAPSULE_GUID } from '../src/image/capsule-layouts.js';
import { hashTree, json } from './helpers/cli.js';
import { readVar, simulateRebootAll } from './helpers/sysroot.js';
import { CAP, DEVICE_ERROR, SIGNED_FW, SYS_FW, TWO_ENTRIES, recordName, resultData, stateFile, uefiTest, world, writeResult, type World } from './helpers/uefi-world.js';

// Several capsules per reboot: one per ESRT entry, each staged, listed, judged and unstaged on its own.
// The machine has two entries: SYS_FW (entry0) and SIGNED_FW (entry1).

const A = 'unsigned-persist.cap'; // SYS_FW 0x20B
const A2 = 'unsigned-4k.cap'; // SYS_FW 0x20A
const B = 'signed-sha256-mc.cap'; // SIGNED_FW 0x310
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const fileOf = (w: World, guid: string) => join(w.root, 'boot/efi/EFI/UpdateCapsule', `fwup-${guid.toLowerCase()}.cap`);

type Plan = Array<{ kind: string; path?: string }>;
type StageOut = { details: { entry: string; deliveredTo: string; alsoStaged: Array<{ entry: string; deliveredTo: string }> }; plan: Plan };
async function stage(w: World, cap: string): Promise<StageOut> {
  const r = await w.run(['stage', CAP(cap), '--allow-unsigned', '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return json<StageOut>(r);
}

type Capsule = { entry: string; esrt: string[]; state: string; version: string; fileSha256: string; file: string; delivery: string; outcome: { state: string; entries: Array<{ state: string; statusName: string | null; firmwareResult?: { variable: string; statusName: string } | null }> } | null };
type Status = { capsules: Capsule[]; outcome: { state: string; entries: Array<{ esrt: string; state: string }> } | null; warnings: string[]; delivery: { osIndications: string | null } };
const status = async (w: World) => json<Status>(await w.run(['status', '--json']));

const twoEntries = () => world({ loader: 'none', esrt: TWO_ENTRIES });

uefiTest('uefi multi: a capsule for a second ESRT entry keeps the first; OsIndications is set once; restaging one entry replaces only it', async () => {
  const w = await twoEntries();
  try {
    const a = await stage(w, A);
    assert.equal(a.details.entry, SYS_FW);
    assert.deepEqual(a.details.alsoStaged, []);
    const b = await stage(w, B);
    assert.equal(b.details.entry, SIGNED_FW);
    assert.deepEqual(b.details.alsoStaged.map((x) => [x.entry, x.deliveredTo]), [[SYS_FW, fileOf(w, SYS_FW)]]);
    assert.deepEqual(await readFile(fileOf(w, SYS_FW)), await readFile(CAP(A)), 'the first capsule is still there, byte for byte');
    assert.deepEqual(await readFile(fileOf(w, SIGNED_FW)), await readFile(CAP(B)));
    assert.ok(a.plan.some((x) => x.path?.includes('OsIndications-')), 'the first stage sets OsIndications');
    assert.ok(!b.plan.some((x) => x.path?.includes('OsIndications-')), 'the second finds the bit set and leaves it');
    assert.deepEqual(await readVar(w.root, 'OsIndications'), { attributes: 0x7, value: 0x4n, length: 12 });
    assert.notEqual(await stateFile(w, recordName('request', SYS_FW)), null);
    assert.notEqual(await stateFile(w, recordName('request', SIGNED_FW)), null);

    const a2 = await stage(w, A2);
    assert.equal(a2.details.deliveredTo, fileOf(w, SYS_FW));
    assert.deepEqual(await readFile(fileOf(w, SYS_FW)), await readFile(CAP(A2)), 'entry0 now has the new capsule');
    assert.deepEqual(await readFile(fileOf(w, SIGNED_FW)), await readFile(CAP(B)), 'entry1 is untouched');
    assert.deepEqual((await readdir(join(w.root, 'boot/efi/EFI/UpdateCapsule'))).sort(), [`fwup-${SYS_FW.toLowerCase()}.cap`, `fwup-${SIGNED_FW.toLowerCase()}.cap`].sort());

    const st = await status(w);
    assert.deepEqual(
      st.capsules.map((c) => [c.entry, c.esrt, c.state, c.version, c.delivery, c.file, c.fileSha256]),
      [
        [SYS_FW, ['entry0'], 'staged', '0x0000020A', 'disk', fileOf(w, SYS_FW), sha(await readFile(CAP(A2)))],
        [SIGNED_FW, ['entry1'], 'staged', '0x00000310', 'disk', fileOf(w, SIGNED_FW), sha(await readFile(CAP(B)))],
      ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    );
    assert.equal(st.outcome?.state, 'awaiting-reboot');
    const text = await w.run(['status']);
    assert.match(text.stdout, /capsules\s+2 staged, 0 pending/);
    for (const guid of [SYS_FW, SIGNED_FW]) assert.match(text.stdout, new RegExp(`${guid}\\s+staged`));
  } finally {
    await w.cleanup();
  }
});

uefiTest('uefi multi: apply hands over every capsule; after the reboot each entry\'s outcome is reported (one success, one failure), history one line each', async () => {
  const w = await twoEntries();
  try {
    await stage(w, A);
    await stage(w, B);
    const ap = await w.run(['apply', '--json']);
    assert.equal(ap.code, 0, ap.stdout + ap.stderr);
    const report = json<{ report: { capsules: Array<{ entry: string; pending: string }> } }>(ap).report;
    assert.deepEqual(report.capsules.map((c) => c.entry).sort(), [SYS_FW, SIGNED_FW].sort());
    assert.equal(await stateFile(w, recordName('request', SYS_FW)), null);
    assert.notEqual(await stateFile(w, recordName('pending', SIGNED_FW)), null);
    let st = await status(w);
    assert.deepEqual(st.capsules.map((c) => [c.state, c.outcome?.state]), [['pending', 'awaiting-reboot'], ['pending', 'awaiting-reboot']]);

    // The firmware installs entry0's capsule and refuses entry1's (invalid-format), and says so in its result variables.
    await simulateRebootAll(w.root, [
      [0, { ...TWO_ENTRIES[0]!, fwVersion: 0x20b, lastAttemptVersion: 0x20b, lastAttemptStatus: 0 }],
      [1, { ...TWO_ENTRIES[1]!, lastAttemptVersion: 0x310, lastAttemptStatus: 4 }],
    ], 'boot-2');
    await writeResult(w, 0, resultData({ guid: FMP_CAPSULE_GUID, status: 0n, payloadTypeId: SYS_FW }), false);
    await writeResult(w, 1, resultData({ guid: FMP_CAPSULE_GUID, status: DEVICE_ERROR, payloadTypeId: SIGNED_FW }));
    st = await status(w);
    const by = (g: string) => st.capsules.find((c) => c.entry === g)!;
    assert.equal(by(SYS_FW).outcome!.state, 'success');
    assert.deepEqual([by(SYS_FW).outcome!.entries[0]!.firmwareResult!.variable, by(SYS_FW).outcome!.entries[0]!.firmwareResult!.statusName], ['Capsule0000', 'Success']);
    assert.equal(by(SIGNED_FW).outcome!.state, 'failed');
    assert.equal(by(SIGNED_FW).outcome!.entries[0]!.statusName, 'invalid-format');
    assert.deepEqual([by(SIGNED_FW).outcome!.entries[0]!.firmwareResult!.variable, by(SIGNED_FW).outcome!.entries[0]!.firmwareResult!.statusName], ['Capsule0001', 'DeviceError']);
    assert.equal(st.outcome!.state, 'failed', 'a failure anywhere is the overall verdict');
    assert.deepEqual(st.outcome!.entries.map((e) => [e.esrt, e.state]), [['entry0', 'success'], ['entry1', 'failed']]);
    assert.ok(st.warnings.some((x) => x.includes(`last capsule for ${SIGNED_FW} failed`)), st.warnings.join('\n'));
    assert.ok(!st.warnings.some((x) => x.includes(`for ${SYS_FW} failed`)));
    const text = (await w.run(['status'])).stdout;
    assert.match(text, /outcome\s+failed/);
    assert.match(text, /entry0\s+success/);
    assert.match(text, /entry1\s+failed \[invalid-format\]/);

    type H = { entries: Array<{ action: string; statusName: string; toVersion: number }> };
    const h = json<H>(await w.run(['history', '--json']));
    assert.deepEqual(h.entries.map((e) => [e.action, e.statusName, e.toVersion]).sort(), [
      ['apply', 'delivered', 0x20b], ['apply', 'delivered', 0x310], ['pending', 'failed', 0x310], ['pending', 'success', 0x20b],
    ].sort());
    // A new stage for entry0 archives entry0's attempt alone; entry1's stays pending with its outcome.
    await stage(w, 'unsigned-vendor-code.cap');
    const h2 = json<H>(await w.run(['history', '--json']));
    assert.deepEqual(h2.entries.filter((e) => e.action !== 'apply').map((e) => [e.action, e.statusName, e.toVersion]), [['superseded', 'success', 0x20b], ['pending', 'failed', 0x310]]);
  } finally {
    await w.cleanup();
  }
});

uefiTest('uefi multi: unstage --component removes that entry\'s capsule alone; the last one puts OsIndications back; unstage removes them all', async () => {
  for (const osIndications of [null, { attributes: 0x7, value: 0x41n }]) {
    const w = await world({ loader: 'none', esrt: TWO_ENTRIES, osIndications });
    try {
      const pristine = await hashTree(w.root);
      await stage(w, A);
      await stage(w, A2); // a replace in between: OsIndications' original value survives it
      await stage(w, B);
      const flagged = await readVar(w.root, 'OsIndications');
      assert.equal(flagged!.value, osIndications ? 0x45n : 0x4n);

      let before = await w.snapshot();
      const bad = await w.run(['unstage', '--component', 'not-a-guid']);
      assert.equal(bad.code, EXIT.USAGE, bad.stderr);
      const none = await w.run(['unstage', '--component', '11111111-2222-3333-4444-555555555555', '--json']);
      assert.equal(none.code, EXIT.NOTHING_TO_DO);
      assert.match(json<{ error: { message: string; hint: string } }>(none).error.hint, new RegExp(`capsules are staged for: .*${SIGNED_FW}`));
      assert.equal(await w.snapshot(), before, 'a refused unstage changes nothing');

      const u = await w.run(['unstage', '--component', SIGNED_FW.toLowerCase()]);
      assert.equal(u.code, 0, u.stderr);
      await assert.rejects(readFile(fileOf(w, SIGNED_FW)), /ENOENT/);
      assert.deepEqual(await readFile(fileOf(w, SYS_FW)), await readFile(CAP(A2)), 'the other entry\'s capsule stays');
      assert.deepEqual(await readVar(w.root, 'OsIndications'), flagged, 'a capsule is still staged: the bit stays');
      assert.deepEqual((await status(w)).capsules.map((c) => c.entry), [SYS_FW]);
      assert.equal((await w.run(['unstage', '--component', SIGNED_FW])).code, EXIT.NOTHING_TO_DO);

      assert.equal((await w.run(['unstage', '--component', SYS_FW])).code, 0);
      assert.equal(await hashTree(w.root), pristine, 'the last unstage leaves the sysroot as fwup found it');

      await stage(w, A);
      await stage(w, B);
      before = await w.snapshot();
      const dry = await w.run(['unstage', '--dry-run', '--json']);
      assert.equal(dry.code, 0);
      assert.equal(await w.snapshot(), before, '--dry-run changes nothing');
      const plan = json<{ plan: Plan }>(dry).plan.map((x) => `${x.kind} ${x.path?.split('/').pop()}`);
      for (const f of [`fwup-${SYS_FW.toLowerCase()}.cap`, `fwup-${SIGNED_FW.toLowerCase()}.cap`, recordName('request', SYS_FW), recordName('request', SIGNED_FW)]) assert.ok(plan.includes(`remove ${f}`), `${f} in ${plan.join(', ')}`);
      assert.equal((await w.run(['unstage'])).code, 0);
      assert.equal(await hashTree(w.root), pristine, 'unstage without --component removes every capsule');
      assert.deepEqual((await status(w)).capsules, []);
    } finally {
      await w.cleanup();
    }
  }
});

uefiTest('uefi multi: with capsules staged, a refused stage (an unknown entry, an entry another capsule updates, the same capsule again) changes nothing', async () => {
  const ADDED = '0777B0AD-7BA9-4122-BA99-C7669D5A1587';
  const w = await world({ loader: 'none', esrt: [...TWO_ENTRIES, { fwClass: ADDED, fwVersion: 0x40 }] });
  try {
    await stage(w, A);
    await stage(w, B);
    const before = await w.snapshot();
    const unknown = await w.run(['stage', CAP('unsigned-persist-reset.cap'), '--allow-unsigned', '--json']);
    assert.equal(unknown.code, EXIT.POLICY);
    // 2payload-mixed.cap updates ADDED and SYS_FW: SYS_FW already has its capsule.
    const clash = await w.run(['stage', CAP('2payload-mixed.cap'), '--allow-unsigned', '--json']);
    assert.equal(clash.code, EXIT.BUSY, clash.stdout);
    const e = json<{ error: { code: string; message: string; hint: string } }>(clash).error;
    assert.equal(e.code, 'TARGET_BUSY');
    assert.match(e.message, new RegExp(`the capsule staged for ${SYS_FW} also updates ${SYS_FW}: one capsule per ESRT entry`));
    assert.match(e.hint, new RegExp(`--component ${SYS_FW}`));
    assert.equal((await w.run(['stage', CAP(B), '--allow-unsigned'])).code, EXIT.NOTHING_TO_DO, 'the same capsule again is nothing to do');
    assert.equal(await w.snapshot(), before, 'nothing changed: both capsules, OsIndications and the records are as they were');
    assert.deepEqual(await readFile(fileOf(w, SYS_FW)), await readFile(CAP(A)));
    assert.deepEqual(await readFile(fileOf(w, SIGNED_FW)), await readFile(CAP(B)));
  } finally {
    await w.cleanup();
  }
});
