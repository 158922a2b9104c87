#!/usr/bin/env node
'use strict';
// A tiny shim over the compiled CLI (dist/bundle, built by `npm run build`, which `npm ci` runs).
//
// Why more than a require(): start-up time is a measured requirement, and compiling the 0.5 MB bundle
// is the largest single cost of a cold start. Node 20 has no module.enableCompileCache, so the bundle is
// compiled here with a V8 code cache kept beside it (written after the first run, rewritten whenever V8
// rejects it). Code compiled from a cache loses its import() callback in Node 20, so this file lends its
// own import() for the ES-only packages (src/util/import-esm.ts); pkijs and asn1js come from their own
// bundle beside main.js (scripts/bundle.mjs), compiled with a cache the same way: as ES modules Node
// would compile their 0.7 MB afresh on every capsule signature check.
const fs = require('node:fs');
const path = require('node:path');

const argv = process.argv.slice(2);
const versionFlag = (a) => a === '--version' || a === '-V';
const versionJson = argv.length === 2 && argv.includes('--json') && argv.some(versionFlag);
if ((argv.length === 1 && versionFlag(argv[0])) || versionJson) printVersion(versionJson);
else runCli();

/**
 * `fwup --version` (and `--version --json`) answers here without loading the CLI, so its cost is Node's
 * own start. The answers are the CLI's own (test/cli.test.ts and test/operator.test.ts check them).
 */
function printVersion(json) {
  const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
  const text = json ? `${JSON.stringify({ version })}\n` : `${version}\n`;
  try {
    // One write of a few bytes: whole or not at all, even on a pipe.
    fs.writeSync(1, text);
  } catch (e) {
    // A closed pipe (`fwup --version | true`) is no error; a busy non-blocking one takes the stream.
    if (e.code !== 'EPIPE') process.stdout.write(text);
  }
}

function runCli() {
  const dir = path.join(__dirname, '..', 'dist', 'bundle', 'cli');
  const vendorFile = path.join(dir, 'pkcs7-vendor.js');
  let vendor = null;
  const vendored = (specifier) => {
    if (specifier !== 'pkijs' && specifier !== 'asn1js') return null;
    if (vendor === null) vendor = fs.existsSync(vendorFile) ? loadCached(vendorFile) : false;
    return vendor ? vendor[specifier] : null;
  };
  globalThis.__fwupImport = (specifier) => {
    const v = vendored(specifier);
    return v ? Promise.resolve(v) : import(specifier);
  };
  loadCached(path.join(dir, 'main.js')).runFromProcess();
}

/** require() of a CommonJS bundle, compiled with the V8 code cache kept beside it. */
function loadCached(file) {
  const vm = require('node:vm');
  const Module = require('node:module');
  const cacheFile = `${file}.v8cache`;
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), {
    filename: file,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext().call(mod.exports, mod.exports, (id) => mod.require(id), mod, file, path.dirname(file));
  if (cachedData === undefined || script.cachedDataRejected) {
    // Written at exit, so the cache holds every function this run compiled, not only the top level.
    process.once('exit', () => {
      try {
        const tmp = `${cacheFile}.${process.pid}`;
        fs.writeFileSync(tmp, script.createCachedData());
        fs.renameSync(tmp, cacheFile);
      } catch {
        // A read-only install runs without the cache.
      }
    });
  }
  return mod.exports;
}
