import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FwupError } from '../src/errors/fwup-error.js';
import { HostFiles } from '../src/targets/host-files.js';
import { ActionLog } from '../src/targets/plan.js';
import type { TargetDeps } from '../src/targets/target.js';
import { UefiWrites } from '../src/targets/uefi/uefi-writes.js';
import { tempDir } from './helpers/cli.js';
import { fakeExec } from './helpers/fake-exec.js';

test('uefi: on an efivarfs the immutable flag is lifted for a variable write and put back even when the write fails', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const exec = fakeExec();
    const deps = { sysroot: dir, cwd: dir, exec: exec.exec } as unknown as TargetDeps;
    const writes = new UefiWrites(deps, new HostFiles(exec.exec), async () => true);
    const path = join(dir, 'OsIndications-x');
    await mkdir(path); // a directory: the write fails (EISDIR), as a refused efivarfs write would
    const change = { path, exists: true, before: 0n, after: 4n, bytes: Buffer.alloc(12) };
    await assert.rejects(writes.writeVariable(new ActionLog(false), change, 'direct', 'set the flag'), (e: unknown) => e instanceof FwupError);
    assert.deepEqual(exec.calls, [['chattr', '-i', path], ['chattr', '+i', path]], 'the flag went back on after the failed write');
    // And after a write that works, the same two commands around it.
    const ok = join(dir, 'OsIndications-y');
    await writeFile(ok, Buffer.alloc(12));
    exec.calls.length = 0;
    await writes.writeVariable(new ActionLog(false), { ...change, path: ok }, 'direct', 'set the flag');
    assert.deepEqual(exec.calls, [['chattr', '-i', ok], ['chattr', '+i', ok]]);
  } finally {
    await cleanup();
  }
});
