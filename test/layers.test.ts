import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, tempDir } from './helpers/cli.js';

const { checkLayers } = (await import(join(REPO_ROOT, 'scripts', 'check-layers.mjs'))) as { checkLayers(root: string): string[] };

test('layers: src/ follows the import directions of DESIGN.md', () => {
  assert.deepEqual(checkLayers(join(REPO_ROOT, 'src')), []);
});

test('layers: the checker catches an upward import and a misplaced package', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await mkdir(join(dir, 'machine'));
    await mkdir(join(dir, 'core'));
    await mkdir(join(dir, 'image'));
    await writeFile(join(dir, 'core', 'a.ts'), "export const a = 1;\n");
    await writeFile(join(dir, 'machine', 'b.ts'), "import { a } from '../core/a.js';\nimport chalk from 'chalk';\n");
    await writeFile(join(dir, 'image', 'c.ts'), "export { x } from '../storage/x.js';\n");
    await mkdir(join(dir, 'targets'));
    await writeFile(join(dir, 'targets', 'd.ts'), "import { chipOf } from '../machine/chip.js';\n");
    await writeFile(join(dir, 'image', 'e.ts'), "const x = createRequire(import.meta.url)('@xmldom/xmldom');\n");
    const problems = checkLayers(dir);
    assert.ok(problems.some((p) => /machine\/b\.ts: imports \.\.\/core\/a\.js \(machine must not import core\)/.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /only cli\/ may use chalk/.test(p)));
    assert.ok(problems.some((p) => /image must not import storage/.test(p)));
    assert.ok(problems.some((p) => /targets\/d\.ts: .*the firmware's own machine\/chip\.ts is for machine\/ only/.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /image\/e\.ts: uses @xmldom\/xmldom \(only image\/lvfs\/safe-xml\.ts may\)/.test(p)), problems.join('\n'));
  } finally {
    await cleanup();
  }
});
