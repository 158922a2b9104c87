import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, tempDir, hashTree } from './helpers/cli.js';
import { runInProcess } from './helpers/in-process.js';
import { mutate, testSize } from './helpers/mutate.js';
import { EXIT, EXIT_MEANINGS } from '../src/errors/exit-codes.js';
import { STRATEGIES } from './helpers/strategies.js';

const FIX = join(REPO_ROOT, 'fixtures');

for (const install of STRATEGIES) {
  test(`fuzz: seeded mutations of signed images through fwup stage: documented exit codes only, the machine byte-identical after every rejection [${install}]`, async () => {
    const runs = testSize(600, 50_000);
    const documented = new Set<number>(EXIT_MEANINGS.map(([c]) => c));
    const key = join(FIX, 'keys', 'test-release.pub');
    const src = await readFile(join(FIX, 'images', 'fw-2.0.0-signed.fwup'));
    const { dir, cleanup } = await tempDir();
    const byCode = new Map<number, number>();
    try {
      const m = join(dir, 'm');
      const init = await runInProcess(['machine', 'init', m, '--cpus', '1', '--flash-size', '1M', '--trust', key, '--install', install], dir);
      assert.equal(init.code, 0, init.stderr);
      const path = join(dir, 'x.fwup');
      let before = await hashTree(m);
      for (let seed = 1; seed <= runs; seed++) {
        const { bytes, how } = mutate(src, seed * 7919, src.readUInt32LE(12));
        await writeFile(path, bytes);
        const r = await runInProcess(['stage', path, '--target', `emu:${m}`, '--json'], dir);
        const ctx = `seed ${seed} (${how})`;
        assert.ok(documented.has(r.code) && r.code !== EXIT.INTERNAL, `${ctx}: exit ${r.code} ${r.stdout}`);
        byCode.set(r.code, (byCode.get(r.code) ?? 0) + 1);
        if (r.code === 0) {
          assert.ok(bytes.equals(src), `${ctx}: a changed image was staged`);
          assert.equal((await runInProcess(['unstage', '--target', `emu:${m}`], dir)).code, 0);
          before = await hashTree(m); // an accepted stage changes the machine: compare against the new state
        } else if (runs <= 5000 || seed % 10 === 0) {
          // Hashing the machine after every rejection is the point; at nightly size, every tenth.
          assert.equal(await hashTree(m), before, `${ctx}: the machine changed`);
        }
      }
    } finally {
      await cleanup();
    }
    console.log(`fuzz stage [${install}]: ${runs} mutated images, exit codes ${JSON.stringify(Object.fromEntries(byCode))}`);
  });
}
