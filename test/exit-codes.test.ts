import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT, EXIT_MEANINGS } from '../src/errors/exit-codes.js';
import { ERROR_CODES } from '../src/errors/codes.js';
import { REPO_ROOT } from './helpers/cli.js';

test('every exit code is documented in docs/exit-codes.md and README, and every error code maps to one', async () => {
  const doc = await readFile(join(REPO_ROOT, 'docs', 'exit-codes.md'), 'utf8');
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  const codes = new Set(Object.values(EXIT));
  assert.equal(EXIT_MEANINGS.length, codes.size, 'each exit code has one meaning');
  for (const [code, name] of EXIT_MEANINGS) {
    assert.match(doc, new RegExp(`^\\|\\s*${code}\\s*\\|\\s*${name}\\s*\\|`, 'm'), `docs/exit-codes.md lists ${code} ${name}`);
    assert.match(readme, new RegExp(`^\\|\\s*${code}\\s*\\|\\s*${name}\\s*\\|`, 'm'), `README lists ${code} ${name}`);
  }
  for (const [errorCode, exit] of Object.entries(ERROR_CODES)) {
    assert.ok(codes.has(exit), `${errorCode} maps to a documented exit code`);
    assert.match(doc, new RegExp(`\`${errorCode}\``), `docs/exit-codes.md lists error code ${errorCode}`);
  }
});
