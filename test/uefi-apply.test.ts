import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, chown, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT } from '../src/errors/exit-codes.js';
import { recordDigest } from '../src/targets/state-records.js';
import { fwup, json } from './helpers/cli.js';
import { fakeExec } from './helpers/fake-exec.js';
import { runInProcess } from './helpers/in-process.js';
import { simulateReboot } from './helpers/sysroot.js';
import { CAP, ESRT, RECORDER, SYS_FW, recordName, stateFile, uefiTest, world } from './helpers/uefi-world.js';

uefiTest('uefi: apply --warm writes warm to /sys/kernel/reboot/mode, then runs the reboot command, leaving a pending record', async () => {
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
    const pending = JSON.parse((await stateFile(w, recordName('pending')))!) as { record: { bootIdAtApply: string; reboot: { mode: string } }; sha256: string };
    assert.equal(pending.sha256, recordDigest(pending.record));
    assert.equal(pending.record.bootIdAtApply, 'boot-1');
    assert.equal(await stateFile(w, recordName('request')), null);
    // Applied already: nothing staged any more.
    const again = await w.run(['apply', '--warm'], reboot);
    assert.equal(again.code, EXIT.NOT_FOUND);
    assert.match(again.stderr, /waits for the reboot/);
  } finally {
    await w.cleanup();
  }
});

uefiTest('uefi: apply --warm --no-reboot and apply without --warm leave the reboot alone', async () => {
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
      assert.notEqual(await stateFile(w, recordName('pending')), null);
    } finally {
      await w.cleanup();
    }
  }
});

uefiTest('uefi: the system reboot command is systemctl reboot under systemd, else reboot (exec injected, never run)', async () => {
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

uefiTest('uefi: status after the reboot reports success, or the ESRT status by name', async () => {
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

uefiTest('uefi: a reboot between stage and apply means the firmware already had the capsule: apply refuses, status tells', async () => {
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

uefiTest('uefi: --dry-run lists every write and command, and changes nothing', async () => {
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
    assert.ok(plan.plan[0]!.path!.endsWith(`/${recordName('intent')}`), plan.plan[0]!.path);
    assert.ok(plan.plan[3]!.path!.endsWith(`/${recordName('request')}`), plan.plan[3]!.path);
    assert.ok(plan.plan[4]!.path!.endsWith(`/${recordName('intent')}`), plan.plan[4]!.path);
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
    assert.ok(ap.some((x) => x.kind === 'write' && x.path!.endsWith(recordName('pending'))));
    assert.equal(await w.snapshot(), staged);
  } finally {
    await w.cleanup();
  }
});

uefiTest('uefi: without root the loader is refused with the path named; --sudo plans sudo -n dd (run as a non-root user)', async () => {
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
    assert.match(JSON.stringify(plan[0]), /intent-[0-9A-F-]+\.json/);
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

uefiTest('uefi: unstage of a loader delivery is refused (the firmware holds it); rollback is not a uefi operation', async () => {
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

uefiTest('uefi: a new stage after an attempt archives the attempt\'s outcome in the history', async () => {
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
