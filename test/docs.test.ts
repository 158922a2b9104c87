import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fwupHeaderLayout } from '../src/image/fwup-format.js';
import {
  capsuleHeaderLayout,
  firmwareImageAuthLayout,
  fmpCapsuleHeaderLayout,
  fmpPayloadHeaderLayout,
  imageHeaderV3Layout,
} from '../src/image/capsule-layouts.js';
import { ERROR_CODES } from '../src/errors/codes.js';
import { COMMANDS } from '../src/cli/command-table.js';
import { DOWNLOAD_DEFAULTS } from '../src/core/download.js';
import { parseSeconds, parseSize } from '../src/util/units.js';
import { REPO_ROOT } from './helpers/cli.js';


/** A layout as the docs tables show it: each field's offset, size and name. */
interface DocumentedLayout {
  name: string;
  fields: ReadonlyArray<{ name: string }>;
  offsetOf(n: string): number;
  sizeOf(n: string): number;
}

/** Every field of every layout is a row `| offset | size | name |` of the document. */
function assertLayoutsDocumented(doc: string, layouts: readonly DocumentedLayout[]): void {
  for (const layout of layouts) {
    for (const f of layout.fields) {
      const re = new RegExp(`^\\| ${layout.offsetOf(f.name)} \\| ${layout.sizeOf(f.name)} \\| ${f.name} \\|`, 'm');
      assert.match(doc, re, `${layout.name}.${f.name} at ${layout.offsetOf(f.name)}`);
    }
  }
}

test('docs/image-format.md lists every header field at the offset and size the layout declares', async () => {
  const doc = await readFile(join(REPO_ROOT, 'docs', 'image-format.md'), 'utf8');
  for (const f of fwupHeaderLayout.fields) {
    const re = new RegExp(`^\\| ${fwupHeaderLayout.offsetOf(f.name)} \\| ${fwupHeaderLayout.sizeOf(f.name)} \\| ${f.name} \\|`, 'm');
    assert.match(doc, re, `${f.name} at ${fwupHeaderLayout.offsetOf(f.name)}`);
  }
  assert.match(doc, new RegExp(`fixed ${fwupHeaderLayout.size}-byte header`));
});

test('docs/capsule-format.md lists every capsule struct field at the offset and size its layout declares', async () => {
  const doc = await readFile(join(REPO_ROOT, 'docs', 'capsule-format.md'), 'utf8');
  const layouts: DocumentedLayout[] = [capsuleHeaderLayout, fmpCapsuleHeaderLayout, imageHeaderV3Layout, firmwareImageAuthLayout, fmpPayloadHeaderLayout];
  assertLayoutsDocumented(doc, layouts);
});

test('docs/network.md lists every download error code, and fetch, DOWNLOAD_DEFAULTS and the docs agree on defaults', async () => {
  const doc = await readFile(join(REPO_ROOT, 'docs', 'network.md'), 'utf8');
  const downloadCodes = Object.entries(ERROR_CODES).filter(([c]) => c.startsWith('NET_') || c === 'CACHE_BUSY');
  assert.ok(downloadCodes.length >= 12);
  for (const [code, exit] of downloadCodes) {
    assert.match(doc, new RegExp(`^\\| \`${code}\` \\| ${exit} \\|`, 'm'), `docs/network.md lists ${code} with exit ${exit}`);
  }
  const fetch = COMMANDS.find((c) => c.name === 'fetch')!;
  const defaultOf = (flag: string) => String(fetch.options.find((o) => o.flags.startsWith(flag))!.default);
  const rows: Array<[string, string, number, (s: string) => number]> = [
    ['--timeout', 'SECONDS', DOWNLOAD_DEFAULTS.headersTimeoutMs, (s) => parseSeconds(s, 't')],
    ['--idle-timeout', 'SECONDS', DOWNLOAD_DEFAULTS.idleTimeoutMs, (s) => parseSeconds(s, 't')],
    ['--max-size', 'SIZE', DOWNLOAD_DEFAULTS.maxBytes, (s) => parseSize(s)],
    ['--max-redirects', 'N', DOWNLOAD_DEFAULTS.maxRedirects, Number],
  ];
  for (const [flag, arg, libraryDefault, parse] of rows) {
    const cli = defaultOf(flag);
    assert.equal(parse(cli), libraryDefault, `${flag} default ${cli} is the library's`);
    assert.match(doc, new RegExp(`^\\| \`${flag} ${arg}\` \\| ${cli} \\|`, 'm'), `docs/network.md gives ${flag} default ${cli}`);
  }
});

test('docs/security.md: every test it cites as proof exists', async () => {
  const doc = await readFile(join(REPO_ROOT, 'docs', 'security.md'), 'utf8');
  const rows = doc.split('\n').filter((l) => l.startsWith('| SP 800-'));
  assert.ok(rows.length >= 10);
  for (const row of rows) {
    const proofs = [...row.matchAll(/`(test\/[\w-]+\.test\.ts)`: (.+?)(?=<br>|\s\|\s*$)/g)];
    assert.ok(proofs.length > 0, `row has a proof: ${row.slice(0, 60)}`);
    for (const [, file, title] of proofs) {
      const titles = testTitles(await readFile(join(REPO_ROOT, file!), 'utf8'));
      const t = title!.trim();
      assert.ok(titles.some((re) => re.test(t)), `${file} has a test titled "${t}"`);
    }
  }
});

/** Every test title in a source file, as a pattern (a template's ${…} parts match anything). */
function testTitles(src: string): RegExp[] {
  const out: RegExp[] = [];
  for (const m of src.matchAll(/\btest\((?:'((?:[^'\\]|\\.)*)'|`((?:[^`\\]|\\.)*)`)/g)) {
    const lit = m[1] ?? m[2]!;
    const parts = lit.split(/\$\{(?:[^{}]|\{[^{}]*\})*\}/).map((x) => x.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&'));
    out.push(new RegExp(`^${parts.join('.+')}$`));
  }
  return out;
}

test('docs/emulated-platform.md shows the firmware boot table exactly as src/machine/firmware/boot-table.ts declares it', async () => {
  const { BOOT_TABLE } = await import('../src/machine/firmware/boot-table.js');
  const doc = await readFile(join(REPO_ROOT, 'docs', 'emulated-platform.md'), 'utf8');
  const start = doc.indexOf('| cause | request | image | state | actions |');
  const rows = doc.slice(start).split('\n').slice(2).filter((l) => l.startsWith('|'));
  const words: Record<string, string> = { install: 'install', reject: 'reject', 'switch-slot': 'switch slot', 'drop-warm': 'drop warm', resume: 'resume', 'cold-boot': 'cold boot' };
  assert.equal(rows.length, BOOT_TABLE.length);
  BOOT_TABLE.forEach((r, i) => {
    const cells = rows[i]!.split('|').slice(1, -1).map((c) => c.trim());
    assert.equal(cells[0], r.when.cause ?? 'any', `row ${i + 1} cause`);
    assert.equal(cells[1], r.when.request ?? '', `row ${i + 1} request`);
    assert.equal(cells[2], r.when.image ?? '', `row ${i + 1} image`);
    assert.equal(cells[3], r.when.state ?? '', `row ${i + 1} state`);
    assert.ok(cells[4]!.startsWith(r.then.map((a) => words[a]).join(', ')), `row ${i + 1} actions`);
  });
});

test('docs/emulated-platform.md lists every field of the boot record, the key store header and the update request as their layouts declare them', async () => {
  const { bootRecordLayout } = await import('../src/storage/boot-record.js');
  const { keyStoreHeaderLayout } = await import('../src/storage/key-store.js');
  const { updateRequestCodec } = await import('../src/storage/variables.js');
  const doc = await readFile(join(REPO_ROOT, 'docs', 'emulated-platform.md'), 'utf8');
  const layouts: DocumentedLayout[] = [bootRecordLayout, keyStoreHeaderLayout, updateRequestCodec.layout];
  assertLayoutsDocumented(doc, layouts);
});
