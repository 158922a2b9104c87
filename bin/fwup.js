#!/usr/bin/env node
// A tiny shim over the compiled CLI: dist/bundle is built by `npm run build` (run by `npm ci`).
import { createRequire } from 'node:module';

createRequire(import.meta.url)('../dist/bundle/cli/main.js').runFromProcess();
