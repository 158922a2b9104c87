import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fwup, REPO_ROOT, tempDir } from './helpers/cli.js';
import { ownPath, OWN_CERTS } from './helpers/capsule-fixtures.js';
import { EXIT } from '../src/errors/exit-codes.js';

/**
 * Start-up time of `fwup --version` and `fwup inspect x.fwup` is a measured requirement, so capsule
 * code's dependency pkijs (~1 MB) must be loaded only on capsule paths. bin/fwup.js loads pkijs and
 * asn1js from their own bundle (dist/bundle/cli/pkcs7-vendor.js), library code imports the packages: a
 * preload that refuses to read that bundle and a module-resolution hook that refuses the packages prove
 * which commands never ask for them (and, by the capsule command that then fails, that the hooks work).
 */
test('start-up: --version and inspect of a .fwup image never load pkijs; a capsule signature check does', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const hook = join(dir, 'refuse-pkijs.mjs');
    const resolver = "export async function resolve(s, c, next) { if (s === 'pkijs' || s === 'asn1js') throw new Error('REFUSED ' + s); return next(s, c); }";
    await writeFile(hook, `import { register } from 'node:module';\nregister('data:text/javascript,' + encodeURIComponent(${JSON.stringify(resolver)}));\n`);
    const bundleHook = join(dir, 'refuse-pkcs7-bundle.cjs');
    await writeFile(bundleHook, [
      "const fs = require('node:fs');",
      'const read = fs.readFileSync;',
      "fs.readFileSync = function (p, ...rest) { if (String(p).endsWith('pkcs7-vendor.js')) throw new Error('REFUSED pkijs (its bundle)'); return read.call(this, p, ...rest); };",
      '',
    ].join('\n'));
    const env = { NODE_OPTIONS: `--require=${bundleHook} --import=${hook}` };
    const fwupImage = join(REPO_ROOT, 'fixtures', 'images', 'fw-2.0.0-signed.fwup');
    const key = join(REPO_ROOT, 'fixtures', 'keys', 'test-release.pub');

    let r = await fwup(['--version'], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    r = await fwup(['inspect', fwupImage, '--key', key, '--json'], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    r = await fwup(['pack', fwupImage, '-o', 'x.fwup', '--version', '1'], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    // Only signed payloads need pkijs: an unsigned capsule is parsed without it.
    r = await fwup(['inspect', ownPath('unsigned-4k.cap')], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);

    r = await fwup(['inspect', ownPath('signed-64k.cap'), '--cert', OWN_CERTS.root], { cwd: dir, env });
    assert.equal(r.code, EXIT.INTERNAL, 'the hook really refuses pkijs');
    assert.match(r.stderr, /REFUSED pkijs/);
    r = await fwup(['inspect', ownPath('signed-64k.cap'), '--cert', OWN_CERTS.root], { cwd: dir });
    assert.equal(r.code, 0, 'and without the hook the bundle loads pkijs lazily');
  } finally {
    await cleanup();
  }
});
