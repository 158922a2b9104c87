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
