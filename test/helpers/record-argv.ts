// A stand-in for the reboot command (FWUP_REBOOT_COMMAND): records that it ran, with what arguments, and
// what the files named after `--snapshot` held at that moment (the kernel reboot mode, written before).
// Usage: node record-argv.js OUT.json [ARG…] [--snapshot FILE…]
import { appendFileSync, readFileSync } from 'node:fs';

const [out, ...rest] = process.argv.slice(2);
const cut = rest.indexOf('--snapshot');
const args = cut < 0 ? rest : rest.slice(0, cut);
const files = cut < 0 ? [] : rest.slice(cut + 1);
const snapshot = Object.fromEntries(files.map((f) => [f, (() => { try { return readFileSync(f, 'utf8'); } catch { return null; } })()]));
appendFileSync(out!, `${JSON.stringify({ args, snapshot })}\n`);
