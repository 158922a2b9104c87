import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from './helpers/cli.js';
import { runInProcess } from './helpers/in-process.js';
import { mutate, testSize } from './helpers/mutate.js';
import { loadOwnManifest, ownPath, OWN_CERTS } from './helpers/capsule-fixtures.js';
import { EXIT, EXIT_MEANINGS } from '../src/errors/exit-codes.js';

test('fuzz: seeded mutations of the own capsule fixtures through `inspect --cert` end in documented exit codes, never INTERNAL', async () => {
  const runs = testSize(1500, 30000);
  const documented = new Set<number>(EXIT_MEANINGS.map(([c]) => c));
  const manifest = loadOwnManifest();
  const sources = await Promise.all(manifest.capsules.map(async (c) => ({ c, bytes: await readFile(ownPath(c.file)) })));
  const { dir, cleanup } = await tempDir();
  const byCode = new Map<number, number>();
  try {
    const path = join(dir, 'm.cap');
    for (let seed = 1; seed <= runs; seed++) {
      const { c, bytes: src } = sources[seed % sources.length]!;
      // "Header" = everything before the first payload's FMP payload header: capsule, FMP and image
      // headers, ItemOffsetList and (in signed capsules) the authentication block.
      const headerSize = c.payloads[0]!.fileOffsets.fmpPayloadHeader! + 16;
      const { bytes, how } = mutate(src, seed, headerSize);
      await writeFile(path, bytes);
      const r = await runInProcess(['inspect', path, '--cert', OWN_CERTS.root, '--json'], dir);
      const ctx = `seed ${seed} on ${c.file} (${how})`;
      assert.ok(documented.has(r.code), `${ctx}: exit ${r.code} is documented`);
      assert.notEqual(r.code, EXIT.INTERNAL, `${ctx}: internal error ${r.stdout}`);
      const out = JSON.parse(r.stdout) as { ok?: boolean; error?: { code: string } };
      if (r.code === 0) assert.equal(out.ok, true, ctx);
      else assert.ok(out.error, `${ctx}: a failure carries an error object`);
      assert.ok([0, EXIT.INVALID_IMAGE, EXIT.SIGNATURE].includes(r.code as 0), `${ctx}: exit ${r.code} (${out.error?.code}) for a capsule`);
      byCode.set(r.code, (byCode.get(r.code) ?? 0) + 1);
    }
  } finally {
    await cleanup();
  }
  // The signed bytes are covered; the unsigned headers are not, so some mutations pass (exit 0).
  assert.ok((byCode.get(EXIT.INVALID_IMAGE) ?? 0) > 0 && (byCode.get(EXIT.SIGNATURE) ?? 0) > 0, JSON.stringify(Object.fromEntries(byCode)));
  console.log(`fuzz capsule inspect: ${runs} mutated capsules, exit codes ${JSON.stringify(Object.fromEntries(byCode))}`);
});
