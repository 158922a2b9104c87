import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { json } from './helpers/cli.js';
import { CAP, world } from './helpers/uefi-world.js';
import { TMPFS_MOUNT, needs } from './helpers/requirements.js';
import { EXIT } from '../src/errors/exit-codes.js';
import { espSpaceNeeded } from '../src/targets/uefi/uefi-stage.js';

// A capsule on disk needs room on the ESP (fwupd's rule: twice the capsule and 1 MiB). The ESP here is a
// real tmpfs of a chosen size mounted inside the fixture sysroot: the kernel reports its free space.

function mountEsp(path: string, size: string): void {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount failed: ${r.stderr}`);
}

test('uefi: a capsule on disk is refused when the ESP lacks twice its size and 1 MiB, with nothing written', async (t) => {
  if (!needs(t, TMPFS_MOUNT())) return;
  const w = await world({ loader: 'none' });
  const esp = join(w.root, 'boot/efi');
  let mounted = false;
  try {
    const capsule = CAP('unsigned-4k.cap');
    const size = (await stat(capsule)).size;
    assert.ok(espSpaceNeeded(size) > 1024 * 1024, 'the 1 MiB ESP is short of the rule');
    mountEsp(esp, '1m');
    mounted = true;
    await mkdir(join(esp, 'EFI/BOOT'), { recursive: true });
    const before = await w.snapshot();
    let r = await w.run(['stage', capsule, '--allow-unsigned', '--capsule-delivery', 'disk', '--json']);
    assert.equal(r.code, EXIT.TARGET, r.stdout + r.stderr);
    const e = json<{ error: { code: string; message: string; details: { free: number; need: number } } }>(r).error;
    assert.equal(e.code, 'TARGET_NO_SPACE');
    assert.match(e.message, new RegExp(`has ${e.details.free} bytes \\(.*\\) free; a .* capsule needs ${espSpaceNeeded(size)} \\(twice its size and 1 MiB`));
    assert.equal(e.details.need, espSpaceNeeded(size));
    assert.ok(e.details.free < e.details.need);
    assert.equal(await w.snapshot(), before, 'nothing written: not the capsule, not OsIndications, no record');

    spawnSync('umount', [esp]);
    mountEsp(esp, '2m');
    await mkdir(join(esp, 'EFI/BOOT'), { recursive: true });
    r = await w.run(['stage', capsule, '--allow-unsigned', '--capsule-delivery', 'disk', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const delivered = json<{ details: { deliveredTo: string } }>(r).details.deliveredTo;
    assert.ok(delivered.startsWith(join(esp, 'EFI/UpdateCapsule/')), delivered);
    assert.equal((await stat(delivered)).size, size);
  } finally {
    if (mounted) spawnSync('umount', [esp]);
    await w.cleanup();
  }
});
