import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT } from '../src/errors/exit-codes.js';
import { recordDigest } from '../src/targets/state-records.js';
import { REPO_ROOT, SHARED_FIXTURES, fwup, hashTree, json, tempDir, type RunResult } from './helpers/cli.js';
import { fakeExec } from './helpers/fake-exec.js';
import { runInProcess } from './helpers/in-process.js';
import { makeSysroot, readVar, simulateReboot, type EsrtFixture, type SysrootOptions } from './helpers/sysroot.js';

const CAPS = join(SHARED_FIXTURES, 'edk2-capsules');
const CAP = (n: string) => join(CAPS, n);
const RECORDER = join(REPO_ROOT, 'dist', 'test', 'helpers', 'record-argv.js');

// The fixtures' payload GUIDs and versions (from their manifest.json).
const SYS_FW = '050B1160-7519-4C47-A2DE-1C97EA5F5406'; // unsigned-4k 0x20A, unsigned-persist 0x20B
const DEV_FW = 'B9013687-CD7C-4981-AFD7-255F0F32FE17'; // unsigned-persist-reset 0x30001 (InitiateReset)
const SIGNED_FW = '969DFDB3-EEDA-47C5-899E-698081F8189F'; // signed-sha256-mc 0x310, lsv 0x300

const ESRT: EsrtFixture[] = [
  { fwClass: SYS_FW, fwVersion: 0x200, lowestSupportedFwVersion: 0x100 },
  { fwClass: DEV_FW, fwType: 2, fwVersion: 0x30000, lowestSupportedFwVersion: 0x20000 },
  { fwClass: SIGNED_FW, fwVersion: 0x300, lowestSupportedFwVersion: 0x300 },
];

if (!existsSync(CAPS)) throw new Error(`the shared capsule fixtures are missing: ${CAPS} (CI lays ../shared beside the clone)`);

interface World {
  dir: string;
  root: string;
  env: Record<string, string>;
  cleanup: () => Promise<void>;
  run: (args: string[], extraEnv?: Record<string, string>) => Promise<RunResult>;
  /** Hash of the sysroot and of fwup's state directory together. */
  snapshot: () => Promise<string>;
}

async function world(o: Partial<SysrootOptions> = {}): Promise<World> {
  const { dir, cleanup } = await tempDir('fwup-uefi-');
  const root = await makeSysroot(join(dir, 'root'), { esrt: ESRT, loader: 'file', osIndicationsSupported: 0x4n | 0x1n, ...o });
  await mkdir(join(dir, 'state'));
  const env = { XDG_STATE_HOME: join(dir, 'state') };
  return {
    dir,
    root,
    env,
    cleanup,
    run: (args, extraEnv = {}) => fwup([...args, '--target', 'uefi', '--sysroot', root], { cwd: dir, env: { ...env, ...extraEnv } }),
    snapshot: async () => `${await hashTree(root)}/${await hashTree(join(dir, 'state'))}`,
  };
}

function stateFile(w: World, name: string): Promise<string | null> {
  return readdir(join(w.dir, 'state', 'fwup', 'uefi')).then(
    (d) => readFile(join(w.dir, 'state', 'fwup', 'uefi', d[0]!, name), 'utf8').catch(() => null),
    () => null,
  );
}

test('uefi: stage through the capsule loader writes the whole capsule to it and keeps a self-checked request', async () => {
  const w = await world();
  try {
    const r = await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = json<{ details: { delivery: string; deliveredTo: string } }>(r);
    assert.equal(out.details.delivery, 'loader');
    assert.deepEqual(await readFile(join(w.root, 'dev/efi_capsule_loader')), await readFile(CAP('unsigned-4k.cap')));
    // Nothing else in the sysroot moved: no capsule on the ESP, no OsIndications.
    assert.equal(await readVar(w.root, 'OsIndications'), null);
    assert.deepEqual(await readdir(join(w.root, 'boot/efi/EFI')), ['BOOT']);
    const req = JSON.parse((await stateFile(w, 'request.json'))!) as { record: { delivery: string; entries: Array<{ fwClass: string; targetVersion: number; fwVersionBefore: number }> }; sha256: string };
    assert.equal(req.sha256, recordDigest(req.record));
    assert.equal(req.record.delivery, 'loader');
    assert.deepEqual(req.record.entries.map((e) => [e.fwClass, e.targetVersion, e.fwVersionBefore]), [[SYS_FW, 0x20a, 0x200]]);
    // The same capsule again is nothing to do.
    const again = await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned']);
    assert.equal(again.code, EXIT.NOTHING_TO_DO, again.stderr);
  } finally {
    await w.cleanup();
  }
});

test('uefi: a capsule loader that is a FIFO receives exactly the capsule bytes', async () => {
  const w = await world({ loader: 'fifo' });
  try {
    const chunks: Buffer[] = [];
    const reader = new Promise<Buffer>((done, fail) => {
      createReadStream(join(w.root, 'dev/efi_capsule_loader'))
        .on('data', (c) => chunks.push(c as Buffer))
        .on('end', () => done(Buffer.concat(chunks)))
        .on('error', fail);
    });
    const r = await w.run(['stage', CAP('signed-sha256-mc.cap')]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await reader, await readFile(CAP('signed-sha256-mc.cap')));
  } finally {
    await w.cleanup();
  }
});

test('uefi: capsule on disk copies the capsule to \\EFI\\UpdateCapsule and sets OsIndications bit 0x4 (created NV|BS|RT)', async () => {
  const w = await world({ loader: 'none' });
  try {
    const r = await w.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(json<{ details: { delivery: string } }>(r).details.delivery, 'disk');
    const onDisk = join(w.root, 'boot/efi/EFI/UpdateCapsule', `fwup-${SYS_FW.toLowerCase()}.cap`);
    assert.deepEqual(await readFile(onDisk), await readFile(CAP('unsigned-persist.cap')));
    assert.deepEqual(await readVar(w.root, 'OsIndications'), { attributes: 0x7, value: 0x4n, length: 12 });
  } finally {
    await w.cleanup();
  }
});

test('uefi: capsule on disk keeps the other OsIndications bits and attributes; unstage puts back exactly what was there', async () => {
  const w = await world({ loader: 'none', osIndications: { attributes: 0x7, value: 0x41n } });
  try {
    const before = await w.snapshot();
    const r = await w.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readVar(w.root, 'OsIndications'), { attributes: 0x7, value: 0x45n, length: 12 });
    const u = await w.run(['unstage']);
    assert.equal(u.code, 0, u.stderr);
    assert.deepEqual(await readVar(w.root, 'OsIndications'), { attributes: 0x7, value: 0x41n, length: 12 });
    assert.equal(await hashTree(w.root), before.split('/')[0]);
  } finally {
    await w.cleanup();
  }
});

test('uefi: unstage of a capsule on disk removes the capsule and the OsIndications fwup created', async () => {
  const w = await world({ loader: 'none' });
  try {
    const before = await hashTree(w.root);
    assert.equal((await w.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned'])).code, 0);
    assert.notEqual(await hashTree(w.root), before);
    const u = await w.run(['unstage']);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(await hashTree(w.root), before);
    assert.equal((await w.run(['unstage'])).code, EXIT.NOTHING_TO_DO);
  } finally {
    await w.cleanup();
  }
});

test('uefi: --capsule-delivery forces the path; --esp names the ESP', async () => {
  const w = await world({ esp: '/efi' });
  try {
    const r = await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--capsule-delivery', 'disk', '--esp', '/efi', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(json<{ details: { delivery: string; deliveredTo: string } }>(r).details.deliveredTo, join(w.root, 'efi/EFI/UpdateCapsule', `fwup-${SYS_FW.toLowerCase()}.cap`));
    assert.deepEqual(await readFile(join(w.root, 'dev/efi_capsule_loader')), Buffer.alloc(0), 'the loader was not used');
  } finally {
    await w.cleanup();
  }
  const n = await world({ loader: 'none' });
  try {
    const before = await n.snapshot();
    const r = await n.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--capsule-delivery', 'loader']);
    assert.equal(r.code, EXIT.TARGET, r.stderr);
    assert.match(r.stderr, /efi_capsule_loader does not exist/);
    assert.equal(await n.snapshot(), before);
  } finally {
    await n.cleanup();
  }
});

test('uefi: InitiateReset capsules are refused for the loader up front, and go on disk when the firmware takes that', async () => {
  const cap = CAP('unsigned-persist-reset.cap');
  const w = await world();
  try {
    const before = await w.snapshot();
    const forced = await w.run(['stage', cap, '--allow-unsigned', '--capsule-delivery', 'loader', '--json']);
    assert.equal(forced.code, EXIT.FAILURE);
    const err = json<{ error: { code: string; message: string; hint: string } }>(forced).error;
    assert.equal(err.code, 'CAPSULE_REJECTED');
    assert.match(err.message, /refuses capsules with InitiateReset and OEM flags 0x00A5/);
    assert.match(err.hint, /--capsule-delivery disk/);
    assert.equal(await w.snapshot(), before);
    const auto = await w.run(['stage', cap, '--allow-unsigned', '--json']);
    assert.equal(auto.code, 0, auto.stderr + auto.stdout);
    const d = json<{ details: { delivery: string; why: string } }>(auto).details;
    assert.equal(d.delivery, 'disk');
    assert.match(d.why, /InitiateReset/);
  } finally {
    await w.cleanup();
  }
  const noDisk = await world({ osIndicationsSupported: 0x1n });
  try {
    const before = await noDisk.snapshot();
    const r = await noDisk.run(['stage', cap, '--allow-unsigned']);
    assert.equal(r.code, EXIT.FAILURE);
    assert.match(r.stderr, /InitiateReset/);
    assert.equal(await noDisk.snapshot(), before);
  } finally {
    await noDisk.cleanup();
  }
});

test('uefi: every refusal leaves the sysroot and the state directory byte-identical', async () => {
  const w = await world({ loader: 'none', osIndicationsSupported: null });
  const v = await world();
  const noEsrt = await world({ esrt: null });
  try {
    const cases: Array<{ what: string; w: World; args: string[]; code: number; err: string; msg: RegExp }> = [
      { what: 'no way to deliver', w, args: [CAP('unsigned-4k.cap'), '--allow-unsigned'], code: EXIT.TARGET, err: 'TARGET_UNSUPPORTED', msg: /no way to hand the capsule/ },
      { what: 'no ESRT', w: noEsrt, args: [CAP('unsigned-4k.cap'), '--allow-unsigned'], code: EXIT.TARGET, err: 'TARGET_UNSUPPORTED', msg: /no ESRT/ },
      { what: 'no ESRT entry', w: v, args: [CAP('signed-64k.cap')], code: EXIT.POLICY, err: 'POLICY_PLATFORM', msg: /0777B0AD-7BA9-4122-BA99-C7669D5A1587, which this system does not have/ },
      { what: 'unsigned', w: v, args: [CAP('unsigned-4k.cap')], code: EXIT.SIGNATURE, err: 'IMAGE_UNSIGNED', msg: /not signed/ },
      { what: 'not a capsule', w: v, args: [join(REPO_ROOT, 'fixtures/images/fw-2.0.0-signed.fwup')], code: EXIT.TARGET, err: 'TARGET_UNSUPPORTED', msg: /takes UEFI capsules/ },
      { what: 'bad capsule flag combination', w: v, args: [CAP('invalid/initiate-reset-without-persist.cap'), '--allow-unsigned'], code: EXIT.INVALID_IMAGE, err: 'CAPSULE_INVALID', msg: /InitiateReset requires PersistAcrossReset/ },
      { what: 'truncated capsule', w: v, args: [CAP('invalid/trunc-in-image-header.cap'), '--allow-unsigned'], code: EXIT.INVALID_IMAGE, err: 'CAPSULE_INVALID', msg: /invalid capsule/ },
      { what: 'bad MSS1', w: v, args: [CAP('invalid/mss1-signature-altered.cap'), '--allow-unsigned'], code: EXIT.INVALID_IMAGE, err: 'CAPSULE_INVALID', msg: /MSS1/ },
      { what: 'bad capsule option', w: v, args: [CAP('unsigned-4k.cap'), '--allow-unsigned', '--capsule-delivery', 'usb'], code: EXIT.USAGE, err: 'USAGE', msg: /choose auto, loader or disk/ },
    ];
    for (const c of cases) {
      const before = await c.w.snapshot();
      const r = await c.w.run(['stage', ...c.args, '--json']);
      assert.equal(r.code, c.code, `${c.what}: ${r.stdout}${r.stderr}`);
      const e = json<{ error: { code: string; message: string } }>(r).error;
      assert.equal(e.code, c.err, c.what);
      assert.match(e.message, c.msg, c.what);
      assert.equal(await c.w.snapshot(), before, `${c.what}: nothing changed`);
    }
  } finally {
    await w.cleanup();
    await v.cleanup();
    await noEsrt.cleanup();
  }
});

test('uefi: versions are checked against the ESRT entry; --allow-older and --allow-reinstall relax them', async () => {
  const older = await world({ esrt: [{ fwClass: SYS_FW, fwVersion: 0x20b, lowestSupportedFwVersion: 0x100 }] });
  const lowest = await world({ esrt: [{ fwClass: SYS_FW, fwVersion: 0x100, lowestSupportedFwVersion: 0x300 }] });
  const same = await world({ esrt: [{ fwClass: SYS_FW, fwVersion: 0x20a, lowestSupportedFwVersion: 0x100 }] });
  try {
    const cases: Array<[World, number, RegExp]> = [
      [older, EXIT.POLICY, /older than the installed 0x0000020B/],
      [lowest, EXIT.POLICY, /below entry0's lowest supported version 0x00000300/],
      [same, EXIT.NOTHING_TO_DO, /already installed/],
    ];
    for (const [w, code, msg] of cases) {
      const before = await w.snapshot();
      const r = await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned']);
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, msg);
      assert.equal(await w.snapshot(), before);
    }
    assert.equal((await older.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--allow-older'])).code, 0);
    assert.equal((await lowest.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--allow-older'])).code, 0);
    assert.equal((await same.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--allow-reinstall'])).code, 0);
  } finally {
    await older.cleanup();
    await lowest.cleanup();
    await same.cleanup();
  }
});

test('uefi: a broken signature is not fwup\'s to judge here: the structure is checked, the firmware verifies', async () => {
  const w = await world();
  try {
    const r = await w.run(['stage', CAP('invalid/signed-payload-byte-flipped.cap'), '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(json<{ image: { signature: { status: string } } }>(r).image.signature.status, 'not-verified');
  } finally {
    await w.cleanup();
  }
});

test('uefi: the kernel\'s errors from the loader are mapped (ENOSPC from a loader that is /dev/full)', async () => {
  const w = await world({ loader: 'full' });
  try {
    const r = await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--json']);
    assert.equal(r.code, EXIT.FAILURE, r.stdout);
    const e = json<{ error: { code: string; message: string; details: { errno: string } } }>(r).error;
    assert.equal(e.code, 'CAPSULE_REJECTED');
    assert.equal(e.details.errno, 'ENOSPC');
    assert.match(e.message, /larger than the firmware accepts/);
    assert.equal(await stateFile(w, 'request.json'), null, 'no request recorded for a refused capsule');
  } finally {
    await w.cleanup();
  }
});

test('uefi: apply --warm writes warm to /sys/kernel/reboot/mode, then runs the reboot command, leaving a pending record', async () => {
  const w = await world();
  try {
    assert.equal((await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned'])).code, 0);
    const log = join(w.dir, 'reboots.jsonl');
    const modeFile = join(w.root, 'sys/kernel/reboot/mode');
    const reboot = { FWUP_REBOOT_COMMAND: JSON.stringify([process.execPath, RECORDER, log, 'now', '--snapshot', modeFile]) };
    const r = await w.run(['apply', '--warm', '--json'], reboot);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const calls = (await readFile(log, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { args: string[]; snapshot: Record<string, string> });
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.args, ['now']);
    assert.equal(calls[0]!.snapshot[modeFile], 'warm\n', 'the mode was written before the reboot command ran');
    const out = json<{ report: { reboot: { mode: string; command: string[] } } }>(r);
    assert.equal(out.report.reboot.mode, 'warm');
    assert.deepEqual(out.report.reboot.command, JSON.parse(reboot.FWUP_REBOOT_COMMAND));
    const pending = JSON.parse((await stateFile(w, 'pending.json'))!) as { record: { bootIdAtApply: string; reboot: { mode: string } }; sha256: string };
    assert.equal(pending.sha256, recordDigest(pending.record));
    assert.equal(pending.record.bootIdAtApply, 'boot-1');
    assert.equal(await stateFile(w, 'request.json'), null);
    // Applied already: nothing staged any more.
    const again = await w.run(['apply', '--warm'], reboot);
    assert.equal(again.code, EXIT.NOT_FOUND);
    assert.match(again.stderr, /waits for the reboot/);
  } finally {
    await w.cleanup();
  }
});

test('uefi: apply --warm --no-reboot and apply without --warm leave the reboot alone', async () => {
  for (const args of [['--warm', '--no-reboot'], []]) {
    const w = await world();
    try {
      assert.equal((await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned'])).code, 0);
      const log = join(w.dir, 'reboots.jsonl');
      const r = await w.run(['apply', ...args], { FWUP_REBOOT_COMMAND: JSON.stringify([process.execPath, RECORDER, log]) });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /reboot to let the firmware install the capsule/);
      assert.equal(existsSync(log), false, 'the reboot command did not run');
      assert.equal(await readFile(join(w.root, 'sys/kernel/reboot/mode'), 'utf8'), 'cold\n');
      assert.notEqual(await stateFile(w, 'pending.json'), null);
    } finally {
      await w.cleanup();
    }
  }
});

test('uefi: the system reboot command is systemctl reboot under systemd, else reboot (exec injected, never run)', async () => {
  for (const systemd of [true, false]) {
    const w = await world({ systemd });
    try {
      const stage = await runInProcess(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--target', 'uefi', '--sysroot', w.root], w.dir, w.env);
      assert.equal(stage.code, 0, stage.stderr);
      const fake = fakeExec();
      const r = await runInProcess(['apply', '--warm', '--target', 'uefi', '--sysroot', w.root], w.dir, w.env, { exec: fake.exec, uid: 0 });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(fake.calls, [systemd ? ['systemctl', 'reboot'] : ['reboot']]);
      assert.equal(await readFile(join(w.root, 'sys/kernel/reboot/mode'), 'utf8'), 'warm\n');
    } finally {
      await w.cleanup();
    }
  }
});

test('uefi: status after the reboot reports success, or the ESRT status by name', async () => {
  const w = await world();
  try {
    assert.equal((await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned'])).code, 0);
    assert.equal((await w.run(['apply', '--warm', '--no-reboot'])).code, 0);
    type Status = { outcome: { state: string; rebooted: string; entries: Array<{ state: string; statusName: string | null; lastAttemptStatus: number }> } };
    const status = async () => json<Status>(await w.run(['status', '--json']));
    let st = await status();
    assert.equal(st.outcome.state, 'awaiting-reboot');
    assert.equal(st.outcome.rebooted, 'no');
    // Rebooted, but the firmware did nothing with the capsule.
    await simulateReboot(w.root, 0, ESRT[0]!, 'boot-2');
    st = await status();
    assert.equal(st.outcome.state, 'not-attempted');
    const names = ['success', 'unsuccessful', 'insufficient-resources', 'incorrect-version', 'invalid-format', 'auth-error', 'pwr-evt-ac', 'pwr-evt-batt'];
    for (const [code, name] of names.entries()) {
      await simulateReboot(w.root, 0, { ...ESRT[0]!, fwVersion: code === 0 ? 0x20a : 0x200, lastAttemptVersion: 0x20a, lastAttemptStatus: code }, `boot-${code + 3}`);
      st = await status();
      assert.equal(st.outcome.state, code === 0 ? 'success' : 'failed', name);
      assert.equal(st.outcome.entries[0]!.statusName, name);
      assert.equal(st.outcome.entries[0]!.lastAttemptStatus, code);
      const text = await w.run(['status']);
      assert.match(text.stdout, new RegExp(`outcome\\s+${code === 0 ? 'success' : 'failed'}`));
      assert.match(text.stdout, new RegExp(`\\[${name}\\]`));
    }
    const h = json<{ entries: Array<{ action: string; statusName: string }> }>(await w.run(['history', '--json']));
    assert.deepEqual(h.entries.map((e) => [e.action, e.statusName]), [['apply', 'delivered'], ['pending', 'failed']]);
  } finally {
    await w.cleanup();
  }
});

test('uefi: a reboot between stage and apply means the firmware already had the capsule: apply refuses, status tells', async () => {
  const w = await world();
  try {
    assert.equal((await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned'])).code, 0);
    await simulateReboot(w.root, 0, { ...ESRT[0]!, fwVersion: 0x20a, lastAttemptVersion: 0x20a, lastAttemptStatus: 0 }, 'boot-2');
    const before = await w.snapshot();
    const r = await w.run(['apply', '--warm'], { FWUP_REBOOT_COMMAND: 'false' });
    assert.equal(r.code, EXIT.TARGET, r.stderr);
    assert.match(r.stderr, /rebooted since the capsule was staged/);
    assert.equal(await w.snapshot(), before);
    const st = json<{ outcome: { state: string } }>(await w.run(['status', '--json']));
    assert.equal(st.outcome.state, 'success');
  } finally {
    await w.cleanup();
  }
});

test('uefi: --dry-run lists every write and command, and changes nothing', async () => {
  const w = await world({ loader: 'none' });
  try {
    const before = await w.snapshot();
    const r = await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--dry-run', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const plan = json<{ dryRun: boolean; plan: Array<{ kind: string; path?: string; bytes?: number }> }>(r);
    assert.equal(plan.dryRun, true);
    assert.deepEqual(
      plan.plan.map((a) => [a.kind, a.path?.replace(w.dir, '')]),
      [
        ['write', plan.plan[0]!.path!.replace(w.dir, '')],
        ['write', `/root/boot/efi/EFI/UpdateCapsule/fwup-${SYS_FW.toLowerCase()}.cap`],
        ['write', `/root/sys/firmware/efi/efivars/OsIndications-8be4df61-93ca-11d2-aa0d-00e098032b8c`],
        ['write', plan.plan[3]!.path!.replace(w.dir, '')],
        ['remove', plan.plan[4]!.path!.replace(w.dir, '')],
      ],
    );
    // The intent is recorded before the first write and removed once the request says delivered.
    assert.match(plan.plan[0]!.path!, /intent\.json$/);
    assert.match(plan.plan[3]!.path!, /request\.json$/);
    assert.match(plan.plan[4]!.path!, /intent\.json$/);
    assert.equal(await w.snapshot(), before);
    const text = await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--dry-run']);
    assert.match(text.stdout, /dry run: nothing was changed/);
    assert.equal(await w.snapshot(), before);

    assert.equal((await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned'])).code, 0);
    const staged = await w.snapshot();
    const a = await w.run(['apply', '--warm', '--dry-run', '--json'], { FWUP_REBOOT_COMMAND: 'echo would-reboot' });
    assert.equal(a.code, 0, a.stderr + a.stdout);
    const ap = json<{ plan: Array<{ kind: string; path?: string; argv?: string[] }> }>(a).plan;
    assert.deepEqual(ap.filter((x) => x.kind === 'exec').map((x) => x.argv), [['echo', 'would-reboot']]);
    assert.ok(ap.some((x) => x.kind === 'write' && x.path === join(w.root, 'sys/kernel/reboot/mode')));
    assert.ok(ap.some((x) => x.kind === 'write' && x.path!.endsWith('pending.json')));
    assert.equal(await w.snapshot(), staged);
  } finally {
    await w.cleanup();
  }
});

test('uefi: without root the loader is refused with the path named; --sudo plans sudo -n dd (run as a non-root user)', async () => {
  const w = await world();
  try {
    const loader = join(w.root, 'dev/efi_capsule_loader');
    await chmod(loader, 0o400);
    await chmod(w.dir, 0o755);
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    if (asUser.uid !== undefined) await chown(join(w.dir, 'state'), asUser.uid, asUser.gid);
    const before = await w.snapshot();
    const args = ['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--target', 'uefi', '--sysroot', w.root];
    const r = await fwup([...args, '--json'], { cwd: w.dir, env: w.env, ...asUser });
    assert.equal(r.code, EXIT.PERMISSION, r.stdout + r.stderr);
    const e = json<{ error: { code: string; message: string; hint: string } }>(r).error;
    assert.equal(e.code, 'PERMISSION_DENIED');
    assert.match(e.message, new RegExp(`writing ${loader.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(the kernel capsule loader\\) needs root`));
    assert.match(e.hint, /--sudo/);
    const d = await fwup([...args, '--sudo', '--dry-run', '--json'], { cwd: w.dir, env: w.env, ...asUser });
    assert.equal(d.code, 0, d.stdout + d.stderr);
    const plan = json<{ plan: Array<{ kind: string; argv?: string[] }> }>(d).plan;
    assert.match(JSON.stringify(plan[0]), /intent\.json/);
    assert.deepEqual(plan[1], {
      kind: 'exec',
      argv: ['sudo', '-n', 'dd', `of=${loader}`, 'bs=4208', 'count=1', 'iflag=fullblock', 'conv=notrunc', 'status=none'],
      purpose: 'the whole capsule to the kernel, which hands it to the firmware',
    });
    assert.equal(await w.snapshot(), before);
  } finally {
    await w.cleanup();
  }
});

test('uefi: unstage of a loader delivery is refused (the firmware holds it); rollback is not a uefi operation', async () => {
  const w = await world();
  try {
    assert.equal((await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned'])).code, 0);
    const before = await w.snapshot();
    const u = await w.run(['unstage']);
    assert.equal(u.code, EXIT.TARGET);
    assert.match(u.stderr, /cannot be withdrawn/);
    const rb = await w.run(['rollback']);
    assert.equal(rb.code, EXIT.TARGET);
    assert.match(rb.stderr, /older capsule/);
    assert.equal(await w.snapshot(), before);
  } finally {
    await w.cleanup();
  }
});

test('uefi: a new stage after an attempt archives the attempt\'s outcome in the history', async () => {
  const w = await world();
  try {
    assert.equal((await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned'])).code, 0);
    assert.equal((await w.run(['apply'])).code, 0);
    await simulateReboot(w.root, 0, { ...ESRT[0]!, fwVersion: 0x20a, lastAttemptVersion: 0x20a, lastAttemptStatus: 0 }, 'boot-9');
    await writeFile(join(w.root, 'dev/efi_capsule_loader'), '');
    const r = await w.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned']);
    assert.equal(r.code, 0, r.stderr);
    const h = json<{ entries: Array<{ action: string; statusName: string; toVersion: number }> }>(await w.run(['history', '--json']));
    assert.deepEqual(h.entries.map((e) => [e.action, e.statusName, e.toVersion]), [['apply', 'delivered', 0x20a], ['superseded', 'success', 0x20a]]);
  } finally {
    await w.cleanup();
  }
});
