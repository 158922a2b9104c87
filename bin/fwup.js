#!/usr/bin/env node
'use strict';
// A tiny shim over the compiled CLI (dist/bundle, built by `npm run build`, which `npm ci` runs).
//
// Why more than a require(): start-up time is a measured requirement, and compiling the 0.5 MB bundle
// is the largest single cost of a cold start. Node 20 has no module.enableCompileCache, so the bundle is
// compiled here with a V8 code cache kept beside it (written after the first run, rewritten whenever V8
// rejects it). Code compiled from a cache loses its import() callback in Node 20, so this file lends its
// own import() for the ES-only packages (src/util/import-esm.ts).
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

globalThis.__fwupImport = (specifier) => import(specifier);

const file = path.join(__dirname, '..', 'dist', 'bundle', 'cli', 'main.js');
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
mod.exports.runFromProcess();
