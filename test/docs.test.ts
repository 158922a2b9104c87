import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fwupHeaderLayout } from '../src/image/fwup-format.js';
import { REPO_ROOT } from './helpers/cli.js';

test('docs/image-format.md lists every header field at the offset and size the layout declares', async () => {
  const doc = await readFile(join(REPO_ROOT, 'docs', 'image-format.md'), 'utf8');
  for (const f of fwupHeaderLayout.fields) {
    const re = new RegExp(`^\\| ${fwupHeaderLayout.offsetOf(f.name)} \\| ${fwupHeaderLayout.sizeOf(f.name)} \\| ${f.name} \\|`, 'm');
    assert.match(doc, re, `${f.name} at ${fwupHeaderLayout.offsetOf(f.name)}`);
  }
  assert.match(doc, new RegExp(`fixed ${fwupHeaderLayout.size}-byte header`));
});
