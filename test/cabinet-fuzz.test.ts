import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from './helpers/cli.js';
import { OWN_CERTS, ownPath } from './helpers/capsule-fixtures.js';
import { runInProcess } from './helpers/in-process.js';
import { mutate, testSize } from './helpers/mutate.js';
import { EXIT, EXIT_MEANINGS } from '../src/errors/exit-codes.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('fuzz: seeded mutations of signed cabinets (stored and MSZIP) through `inspect` end in documented exit codes; a changed payload is never accepted', async () => {
  const runs = testSize(2000, 30000);
  const documented = new Set<number>(EXIT_MEANINGS.map(([c]) => c));
  const { dir, cleanup } = await tempDir();
  const byCode = new Map<number, number>();
  try {
    const sources: Buffer[] = [];
    for (const compress of [false, true]) {
      const out = join(dir, `src-${compress}.cab`);
      const r = await runInProcess(['pack', ownPath('signed-sha256-mc.cap'), '-o', out, '--format', 'cab', '--id', 'com.example.fuzz',
        '--signer-cert', OWN_CERTS.signer, '--signer-key', OWN_CERTS.signerKey, '--other-cert', OWN_CERTS.intermediate, ...(compress ? ['--compress'] : [])], dir);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      sources.push(await readFile(out));
    }
    const payloadSha = sha256(await readFile(ownPath('signed-sha256-mc.cap')));
    const path = join(dir, 'm.cab');
    for (let seed = 1; seed <= runs; seed++) {
      const src = sources[seed % sources.length]!;
      // The "header" here is the CFHEADER, folder and file entries: where a lie does the most harm.
      const { bytes, how } = mutate(src, seed, src.readUInt32LE(16) + 120);
      await writeFile(path, bytes);
      const r = await runInProcess(['inspect', path, '--cert', OWN_CERTS.root, '--json'], dir);
      const ctx = `seed ${seed} (${how})`;
      assert.ok(documented.has(r.code), `${ctx}: exit ${r.code} is documented`);
      assert.notEqual(r.code, EXIT.INTERNAL, `${ctx}: internal error ${r.stdout}`);
      const out = JSON.parse(r.stdout) as { ok?: boolean; error?: unknown; cabinet?: { payload: { sha256: string }; signature: { status: string } } };
      if (r.code === 0) {
        assert.equal(out.ok, true, ctx);
        // Names, dates and attributes are not covered by any checksum; the payload and its signature are.
        assert.equal(out.cabinet?.payload.sha256, payloadSha, `${ctx}: a changed payload was accepted`);
        // A renamed firmware.jcat is no catalog at all: the cabinet then reads as unsigned, never as signed.
        assert.ok(['valid', 'unsigned'].includes(out.cabinet?.signature.status ?? ''), `${ctx}: ${out.cabinet?.signature.status}`);
      } else {
        assert.ok(out.error, `${ctx}: a failure carries an error object`);
      }
      byCode.set(r.code, (byCode.get(r.code) ?? 0) + 1);
    }
  } finally {
    await cleanup();
  }
  console.log(`fuzz cabinets: ${runs} mutated cabinets, exit codes ${JSON.stringify(Object.fromEntries(byCode))}`);
});
