// Bundle the compiled CLI into one CommonJS file (the CPU worker into another, and pkijs with asn1js
// into a third, beside it). Why: a
// cold `fwup` start pays for every ES module it resolves; one CJS file starts about 15 ms faster, which
// keeps `fwup --version` and `fwup inspect` within 1.5x of `node -e 0` (npm run bench measures it).
// Tests import dist/src directly; bin/fwup.js and every end-to-end test run this bundle.
// The worker lands in the same folder as main.js, so `new URL('./cpu-worker.js', import.meta.url)`
// resolves in both layouts.
import { build } from 'esbuild';
import { mkdir, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { lazyBuiltins } from './lazy-builtins.mjs';

const outdir = 'dist/bundle/cli';
await mkdir(outdir, { recursive: true });
await writeFile('dist/bundle/package.json', '{ "type": "commonjs" }\n');
const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // ESM-only packages loaded lazily with import(), so they cost nothing until used (pkijs and asn1js:
  // about 1 MB that only capsule commands load, see src/image/pkcs7-library.ts; bin/fwup.js answers
  // their import() from pkcs7-vendor.js below).
  external: ['ora', 'chalk', 'execa', 'pkijs', 'asn1js'],
  define: { 'import.meta.url': '__fwup_import_meta_url' },
  banner: { js: "const __fwup_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
  // Built-ins such as crypto, zlib and child_process are required on first use (see lazy-builtins.mjs).
  plugins: [lazyBuiltins()],
  logLevel: 'warning',
  // Less source to read and hash at every start; identifiers stay, so stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
};
await build({ ...common, entryPoints: ['dist/src/cli/main.js'], outfile: `${outdir}/main.js` });
await build({ ...common, entryPoints: ['dist/src/machine/cpu-worker.js'], outfile: `${outdir}/cpu-worker.js` });
await build({ ...common, entryPoints: ['dist/src/machine/sha256-engine-worker.js'], outfile: `${outdir}/sha256-engine-worker.js` });
// pkijs and asn1js in one CommonJS file of their own (one asn1js for both), which bin/fwup.js compiles
// with a code cache when a capsule signature is checked; as ES modules Node compiled them afresh each
// time (tens of ms of a uefi stage). Tests and library use still import() the packages.
await build({
  ...common,
  external: [],
  stdin: { contents: "export * as pkijs from 'pkijs';\nexport * as asn1js from 'asn1js';\n", resolveDir: '.', loader: 'js', sourcefile: 'pkcs7-vendor.js' },
  outfile: `${outdir}/pkcs7-vendor.js`,
});

// Warm the V8 code cache that bin/fwup.js keeps beside the bundle, with the code path of a common
// command (the cache covers the functions that ran); a stale cache from an older build is replaced.
rmSync(`${outdir}/main.js.v8cache`, { force: true });
rmSync(`${outdir}/pkcs7-vendor.js.v8cache`, { force: true });
execFileSync(process.execPath, ['bin/fwup.js', 'inspect', 'fixtures/images/fw-2.0.0-signed.fwup', '--key', 'fixtures/keys/test-release.pub'], { stdio: 'ignore' });
// And pkijs's, with a capsule signature check (main.js's cache is kept: it was written by the run above).
execFileSync(process.execPath, ['bin/fwup.js', 'inspect', 'fixtures/capsules/signed-64k.cap', '--cert', 'fixtures/capsules/certs/test-root.crt'], { stdio: 'ignore' });
