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
  const layouts = [capsuleHeaderLayout, fmpCapsuleHeaderLayout, imageHeaderV3Layout, firmwareImageAuthLayout, fmpPayloadHeaderLayout] as unknown as Array<{
    name: string;
    fields: ReadonlyArray<{ name: string }>;
    offsetOf(n: string): number;
    sizeOf(n: string): number;
  }>;
  for (const layout of layouts) {
    for (const f of layout.fields) {
      const re = new RegExp(`^\\| ${layout.offsetOf(f.name)} \\| ${layout.sizeOf(f.name)} \\| ${f.name} \\|`, 'm');
      assert.match(doc, re, `${layout.name}.${f.name} at ${layout.offsetOf(f.name)}`);
    }
  }
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
