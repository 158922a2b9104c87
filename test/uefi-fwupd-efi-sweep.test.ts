import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { quietContext, type Context } from '../src/core/context.js';
import { stage } from '../src/core/stage.js';
import type { PlannedAction } from '../src/targets/plan.js';
import { hashTree, json } from './helpers/cli.js';
import { EFIVARS, simulateReboot } from './helpers/sysroot.js';
import { CAP, ESRT, SYS_FW, type World } from './helpers/uefi-world.js';
import { fallbackWorld, helperRan } from './helpers/fwupd-efi-world.js';
import { FWUPD_EFI, needs } from './helpers/requirements.js';

// A stage through fwupd's helper cut after any of its writes (capsule, helper, update-info, Boot####,
// BootNext, records): status says so, and unstage puts every file and variable back as fwup found them.
// Also when the cut stage replaces an attempt of the same entry after its reboot (the intent and the
// pending record then name the same files and variables, and both are undone).

const copy = (from: string, to: string) => cpSync(from, to, { recursive: true, verbatimSymlinks: true });

/** Stage in-process with a snapshot of the sysroot and the state after every write; returns the snapshots. */
async function stageWithSnapshots(w: World, capsule: string): Promise<string[]> {
  const snaps: string[] = [];
  const ctx = hostContext(w.dir, w.root, () => {
    const s = join(w.dir, `snap-${snaps.length}`);
    copy(w.root, join(s, 'root'));
    copy(join(w.dir, 'state'), join(s, 'state'));
    snaps.push(s);
  });
  await stage(ctx, CAP(capsule), { target: 'uefi', allowOlder: false, allowUnsigned: true, allowReinstall: false });
  return snaps;
}

function restore(w: World, s: string): void {
  rmSync(w.root, { recursive: true });
  rmSync(join(w.dir, 'state'), { recursive: true });
  copy(join(s, 'root'), w.root);
  copy(join(s, 'state'), join(w.dir, 'state'));
  for (const e of readdirSync(join(w.dir, 'state'), { recursive: true, withFileTypes: true })) {
    if (e.isFile() && e.name === 'lock') writeFileSync(join(e.parentPath, e.name), '999999999\n');
  }
}

function hostContext(dir: string, root: string, after: (a: PlannedAction) => void): Context {
  return { ...quietContext(dir), sysroot: root, stateDir: join(dir, 'state', 'fwup'), isRoot: true, afterAction: after };
}

test('fwupd-efi: a crash after any write of the fallback leaves nothing unexplained, and unstage restores the tree byte for byte', async (t) => {
  if (!needs(t, FWUPD_EFI())) return;
  const w = await fallbackWorld({ helper: true });
  try {
    const original = await hashTree(w.root);
    const snaps = await stageWithSnapshots(w, 'unsigned-persist.cap');
    assert.ok(snaps.length >= 6, `${snaps.length} crash points (intent, capsule, helper, update-info, Boot0001, BootNext, request)`);
    for (const [k, s] of snaps.entries()) {
      restore(w, s);
      const st = await w.run(['status', '--json']);
      assert.equal(st.code, 0, `after write ${k}: ${st.stdout}${st.stderr}`);
      json(st);
      const u = await w.run(['unstage', '--json']);
      assert.ok(u.code === 0 || u.code === 2, `after write ${k}: ${u.stdout}${u.stderr}`);
      assert.equal(await hashTree(w.root), original, `after write ${k}: the tree is as fwup found it`);
    }
    console.log(`fwupd-efi stage crash sweep: ${snaps.length} crash points, each undone`);
  } finally {
    await w.cleanup();
  }
});

test('fwupd-efi: a stage replacing the attempt of its entry after the reboot, cut after any write: unstage puts the ESP and the variables back as they were before the first stage', async (t) => {
  if (!needs(t, FWUPD_EFI())) return;
  const w = await fallbackWorld({ helper: true });
  try {
    const esp = join(w.root, 'boot/efi');
    const original = [await hashTree(esp), await hashTree(join(w.root, EFIVARS))];
    assert.equal((await w.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned'])).code, 0);
    assert.equal((await w.run(['apply', '--warm', '--no-reboot'])).code, 0);
    // The helper ran, the firmware refused the capsule: 0x20A is still an update.
    await helperRan(w.root, SYS_FW, 10);
    await simulateReboot(w.root, 0, { ...ESRT[0]!, lastAttemptVersion: 0x20b, lastAttemptStatus: 1 }, 'boot-2');
    const snaps = await stageWithSnapshots(w, 'unsigned-4k.cap');
    assert.ok(snaps.length >= 6, `${snaps.length} crash points`);
    for (const [k, s] of snaps.entries()) {
      restore(w, s);
      const st = await w.run(['status', '--json']);
      assert.equal(st.code, 0, `after write ${k}: ${st.stdout}${st.stderr}`);
      json(st);
      const u = await w.run(['unstage', '--json']);
      assert.equal(u.code, 0, `after write ${k}: ${u.stdout}${u.stderr}`);
      assert.deepEqual([await hashTree(esp), await hashTree(join(w.root, EFIVARS))], original, `after write ${k}: the ESP and the variables as fwup found them`);
    }
    console.log(`fwupd-efi replacing stage crash sweep: ${snaps.length} crash points, each undone`);
  } finally {
    await w.cleanup();
  }
});
