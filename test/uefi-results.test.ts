import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { json } from './helpers/cli.js';
import { EFIVARS, simulateReboot } from './helpers/sysroot.js';
import { CAP, DEVICE_ERROR, ESRT, SYS_FW, resultData, world, writeResult } from './helpers/uefi-world.js';
import { EFI_CAPSULE_REPORT_GUID, efiStatusName, parseCapsuleResult } from '../src/targets/uefi/capsule-results.js';
import { FMP_CAPSULE_GUID } from '../src/image/capsule-layouts.js';

// The firmware's Capsule#### result variables, read with the ESRT after the reboot: both shown, and a
// disagreement between them is a failure.

test('capsule results: a Capsule#### variable parses to its fields; EFI_STATUS values by name', () => {
  const r = parseCapsuleResult('Capsule0002', resultData({ guid: FMP_CAPSULE_GUID, status: DEVICE_ERROR, payloadTypeId: SYS_FW, fileName: 'a.cap' }), true);
  assert.deepEqual(r, {
    variable: 'Capsule0002', capsuleGuid: FMP_CAPSULE_GUID, processed: '2026-12-02T07:30:05.000Z', status: '0x8000000000000007', statusName: 'DeviceError', ok: false,
    fmp: { payloadIndex: 0, updateImageIndex: 1, updateImageTypeId: SYS_FW, fileName: 'a.cap', target: '' }, last: true,
  });
  assert.equal(efiStatusName(0n), 'Success');
  assert.equal(efiStatusName((1n << 63n) | 27n), 'SecurityViolation');
  assert.throws(() => parseCapsuleResult('Capsule0000', Buffer.alloc(20), false), /EFI_CAPSULE_RESULT_VARIABLE_HEADER needs 48 bytes/);
  const lying = resultData({ guid: FMP_CAPSULE_GUID, status: 0n });
  lying.writeUInt32LE(4096, 0);
  assert.throws(() => parseCapsuleResult('Capsule0000', lying, false), /VariableTotalSize 4096 is more than/);
});

test('uefi: after the reboot the result variable is shown beside the ESRT; when they disagree the outcome is a failure', async () => {
  const w = await world();
  try {
    assert.equal((await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned'])).code, 0);
    assert.equal((await w.run(['apply', '--warm', '--no-reboot'])).code, 0);
    type Entry = { state: string; disagreement: string | null; firmwareResult: { variable: string; statusName: string; ok: boolean } | null };
    type Status = { outcome: { state: string; entries: Entry[] }; capsuleResults: Array<{ variable: string }>; warnings: string[] };
    const status = async () => json<Status>(await w.run(['status', '--json']));
    // Written before the reboot (an older capsule's): not ours, not attached.
    await writeResult(w, 0, resultData({ guid: FMP_CAPSULE_GUID, status: DEVICE_ERROR, payloadTypeId: SYS_FW }));
    let st = await status();
    assert.equal(st.outcome.state, 'awaiting-reboot');
    assert.equal(st.outcome.entries[0]!.firmwareResult ?? null, null);

    const success = { ...ESRT[0]!, fwVersion: 0x20a, lastAttemptVersion: 0x20a, lastAttemptStatus: 0 };
    await simulateReboot(w.root, 0, success, 'boot-2');
    await writeResult(w, 1, resultData({ guid: FMP_CAPSULE_GUID, status: 0n, payloadTypeId: SYS_FW }));
    st = await status();
    assert.equal(st.outcome.state, 'success');
    assert.deepEqual(st.outcome.entries[0]!.firmwareResult && [st.outcome.entries[0]!.firmwareResult.variable, st.outcome.entries[0]!.firmwareResult.statusName], ['Capsule0001', 'Success']);
    assert.equal(st.outcome.entries[0]!.disagreement, null);
    assert.deepEqual(st.capsuleResults.map((r) => r.variable), ['Capsule0001', 'Capsule0000'], 'CapsuleLast first');

    // The ESRT says success, the firmware's own record says DeviceError: a failure, both named.
    await writeResult(w, 2, resultData({ guid: FMP_CAPSULE_GUID, status: DEVICE_ERROR, payloadTypeId: SYS_FW }));
    st = await status();
    assert.equal(st.outcome.state, 'failed');
    assert.match(st.outcome.entries[0]!.disagreement!, /the ESRT says success, the firmware's Capsule0002 says DeviceError \(0x8000000000000007\)/);
    assert.ok(st.warnings.some((x) => /Capsule0002 says DeviceError/.test(x)));
    const text = await w.run(['status']);
    assert.match(text.stdout, /result\s+Capsule0002: DeviceError at 2026-12-02T07:30:05/);

    // The ESRT says it failed, the result says success: still a failure, with both shown.
    await simulateReboot(w.root, 0, { ...success, fwVersion: 0x200, lastAttemptStatus: 1 }, 'boot-3');
    await writeResult(w, 3, resultData({ guid: FMP_CAPSULE_GUID, status: 0n, payloadTypeId: SYS_FW }));
    st = await status();
    assert.equal(st.outcome.state, 'failed');
    assert.match(st.outcome.entries[0]!.disagreement!, /the ESRT says unsuccessful, the firmware's Capsule0003 says Success/);

    // A result for another image type is not this entry's; a damaged variable is a warning, not a crash.
    await writeResult(w, 4, resultData({ guid: FMP_CAPSULE_GUID, status: DEVICE_ERROR, payloadTypeId: '11111111-2222-3333-4444-555555555555' }));
    await writeFile(join(w.root, EFIVARS, `Capsule0005-${EFI_CAPSULE_REPORT_GUID}`), Buffer.from([7, 0, 0, 0, 1, 2, 3]));
    st = await status();
    assert.equal(st.outcome.entries[0]!.firmwareResult!.variable, 'Capsule0003', 'the newest result for SYS_FW');
    assert.ok(st.warnings.some((x) => /damaged capsule result variable: Capsule0005/.test(x)), st.warnings.join('\n'));
  } finally {
    await w.cleanup();
  }
});

test('uefi: history --json answers what was installed, how, and did it work (digest, ESRT entry, delivery, firmware result)', async () => {
  const w = await world({ loader: 'none' });
  try {
    const staged = json<{ image: { fileSha256: string; sha256: string } }>(await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--json']));
    assert.equal((await w.run(['apply', '--warm', '--no-reboot'])).code, 0);
    await simulateReboot(w.root, 0, { ...ESRT[0]!, fwVersion: 0x20a, lastAttemptVersion: 0x20a, lastAttemptStatus: 0 }, 'boot-2');
    await writeResult(w, 0, resultData({ guid: FMP_CAPSULE_GUID, status: 0n, payloadTypeId: SYS_FW }));
    type Attempt = { capsule: { fileSha256: string; payloadSha256: string }; entries: Array<{ fwClass: string }>; delivery: string; deliveredTo: string; firmware: Array<{ state: string; result: { variable: string; statusName: string } | null }> | null };
    const h = json<{ entries: Array<{ action: string; attempt?: Attempt }> }>(await w.run(['history', '--json'])).entries;
    assert.deepEqual(h.map((e) => e.action), ['apply', 'pending']);
    const applied = h[0]!.attempt!;
    assert.equal(applied.capsule.fileSha256, staged.image.fileSha256);
    assert.equal(applied.capsule.payloadSha256, staged.image.sha256);
    assert.deepEqual(applied.entries.map((e) => e.fwClass), [SYS_FW]);
    assert.equal(applied.delivery, 'disk');
    assert.match(applied.deliveredTo, /EFI\/UpdateCapsule\//);
    assert.equal(applied.firmware, null, 'at apply time the firmware has said nothing yet');
    assert.deepEqual(h[1]!.attempt!.firmware!.map((f) => [f.state, f.result?.variable, f.result?.statusName]), [['success', 'Capsule0000', 'Success']]);
    // Staging again archives the finished attempt with its outcome, result included.
    assert.equal((await w.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned'])).code, 0);
    const after = json<{ entries: Array<{ action: string; attempt?: Attempt }> }>(await w.run(['history', '--json'])).entries;
    const archived = after.find((e) => e.action === 'superseded')!;
    assert.deepEqual(archived.attempt!.firmware!.map((f) => [f.state, f.result?.statusName]), [['success', 'Success']]);
  } finally {
    await w.cleanup();
  }
});
