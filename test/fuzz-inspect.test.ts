import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, tempDir } from './helpers/cli.js';
import { runInProcess } from './helpers/in-process.js';
import { mutate, testSize } from './helpers/mutate.js';
import { EXIT, EXIT_MEANINGS } from '../src/errors/exit-codes.js';

const FIX = join(REPO_ROOT, 'fixtures');

test('fuzz: seeded mutations of signed images through `inspect` end in documented exit codes, never a crash', async () => {
  const runs = testSize(3000, 50000);
  const documented = new Set<number>(EXIT_MEANINGS.map(([c]) => c));
  const key = join(FIX, 'keys', 'test-release.pub');
  const sources = await Promise.all(['fw-2.0.0-signed.fwup', 'tiny-cold-only.fwup'].map((f) => readFile(join(FIX, 'images', f))));
  const { dir, cleanup } = await tempDir();
  const byCode = new Map<number, number>();
  try {
    const path = join(dir, 'm.fwup');
    for (let seed = 1; seed <= runs; seed++) {
      const src = sources[seed % sources.length]!;
      const { bytes, how } = mutate(src, seed, src.readUInt32LE(12));
      await writeFile(path, bytes);
      const r = await runInProcess(['inspect', path, '--key', key, '--json'], dir);
      const ctx = `seed ${seed} (${how})`;
      assert.ok(documented.has(r.code), `${ctx}: exit ${r.code} is documented`);
      assert.notEqual(r.code, EXIT.INTERNAL, `${ctx}: internal error ${r.stdout}`);
      const out = JSON.parse(r.stdout) as { ok?: boolean; error?: unknown };
      if (r.code === 0) assert.equal(out.ok, true, ctx);
      else assert.ok(out.error, `${ctx}: a failure carries an error object`);
      // Every source is covered by a CRC and a SHA-256: only a mutation that changed nothing may pass.
      if (r.code === 0) assert.ok(bytes.equals(src), `${ctx}: a changed image was accepted`);
      byCode.set(r.code, (byCode.get(r.code) ?? 0) + 1);
    }
  } finally {
    await cleanup();
  }
  console.log(`fuzz inspect: ${runs} mutated images, exit codes ${JSON.stringify(Object.fromEntries(byCode))}`);
});
