// Regenerate fixtures/: deterministic payloads, test-only signing keys, and .fwup images packed by
// fwup itself (no build time, Ed25519 is deterministic: the same inputs give the same bytes).
// test/fixtures-roundtrip.test.ts packs them again and byte-compares, so this script and the committed
// files cannot drift apart silently. Run after `npm run build`: node scripts/make-fixtures.mjs
import { mkdir, writeFile, readFile, access } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { generateKeyPair } from '../dist/src/image/keys.js';
import { pack } from '../dist/src/core/pack.js';
import { quietContext } from '../dist/src/core/context.js';
import { FIXTURE_IMAGES, fixturePayload } from '../dist/test/helpers/fixture-spec.js';

const root = new URL('../fixtures/', import.meta.url).pathname;
await mkdir(`${root}keys`, { recursive: true });
await mkdir(`${root}payloads`, { recursive: true });
await mkdir(`${root}images`, { recursive: true });

for (const name of ['test-release', 'test-other']) {
  const key = `${root}keys/${name}.key`;
  try {
    await access(key); // keys are made once; regenerating would change every signed fixture
  } catch {
    const pair = generateKeyPair();
    await writeFile(key, pair.privatePem, { mode: 0o600 });
    await writeFile(`${root}keys/${name}.pub`, pair.publicPem);
  }
}

const ctx = quietContext(root);
const manifest = [];
for (const spec of FIXTURE_IMAGES) {
  const payloadFile = `payloads/${spec.payload.name}`;
  await writeFile(`${root}${payloadFile}`, fixturePayload(spec.payload));
  const r = await pack(ctx, {
    payload: payloadFile,
    output: `images/${spec.file}`,
    force: true,
    meta: { ...spec.meta, buildTime: null },
    ...(spec.signKey ? { signKey: `keys/${spec.signKey}.key` } : {}),
  });
  const bytes = await readFile(`${root}images/${spec.file}`);
  manifest.push({ file: spec.file, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), payloadSha256: r.sha256, keyId: r.keyId });
}
await writeFile(`${root}images/manifest.json`, `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`wrote ${manifest.length} images`);
