import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from './helpers/cli.js';
import { layCollection, sanity, type SanityRun } from './helpers/ansible-sanity.js';
import { ANSIBLE_TEST, GIT, PYCODESTYLE, PYLINT, VOLUPTUOUS, YAMLLINT, needs, type Requirement } from './helpers/requirements.js';

/**
 * ansible-test sanity on the fwup.fleet collection: every sanity test ansible-core 2.14 has that can run
 * offline with Debian's packages (see helpers/ansible-sanity.ts for how its virtual environments are
 * made). Each group passes on the collection as it is, and fails on a copy with a flaw planted for it,
 * naming that flaw: a test that ran no file, or a tool that is not really there, cannot pass unnoticed.
 */

/** The tests that need nothing beyond ansible-core. */
const CORE_TESTS = [
  'action-plugin-docs', 'ansible-doc', 'compile', 'future-import-boilerplate', 'ignores', 'import', 'line-endings', 'metaclass-boilerplate',
  'no-assert', 'no-basestring', 'no-dict-iteritems', 'no-dict-iterkeys', 'no-dict-itervalues', 'no-get-exception', 'no-illegal-filenames',
  'no-main-display', 'no-smart-quotes', 'no-unicode-literals', 'replace-urlopen', 'shebang', 'symlinks', 'use-argspec-type-path', 'use-compat-six',
];
/** The collection has no changelog, no __init__.py, no PowerShell and no shell script: nothing for these to read. */
const NOT_APPLICABLE = ['changelog', 'empty-init', 'pslint', 'shellcheck'];

let suite: { dir: string; cleanup: () => Promise<void>; n: number } | null = null;
/** A fresh collection copy (with `plant`) and the HOME whose ~/.ansible/test/venv every test shares. */
async function copy(plant?: (dir: string) => Promise<void>): Promise<{ dir: string; home: string }> {
  suite ??= { ...(await tempDir('fwup-fleet-sanity-')), n: 0 };
  const home = join(suite.dir, 'home');
  await mkdir(home, { recursive: true });
  return { dir: await layCollection(join(suite.dir, `copy${suite.n++}`), plant), home };
}
after(async () => {
  await suite?.cleanup();
});

function gate(t: TestContext, ...reqs: Requirement[]): boolean {
  return [ANSIBLE_TEST(), GIT(), ...reqs].every((r) => needs(t, r));
}

function assertPassed(r: SanityRun, tests: string[]): void {
  for (const name of tests) {
    const x = r.results.get(name);
    assert.deepEqual([name, x?.status, x?.detail], [name, 'passed', ''], r.output);
  }
  assert.equal(r.code, 0, r.output);
}

/** The test failed, and among its findings is one matching each pattern. */
function assertFinds(r: SanityRun, name: string, ...patterns: RegExp[]): void {
  const x = r.results.get(name);
  assert.equal(x?.status, 'failed', `${name} failed: ${r.output}`);
  for (const p of patterns) assert.match(x.detail, p, `${name}: ${r.output}`);
}

const edit = async (file: string, from: string, to: string) => {
  const text = await readFile(file, 'utf8');
  assert.ok(text.includes(from), `${file} has ${from}`);
  await writeFile(file, text.replace(from, to));
};
const BOILERPLATE = 'from __future__ import absolute_import, division, print_function\n__metaclass__ = type\n\n';

test('sanity: compile, import, ansible-doc, ignores and the code-smell tests pass; planted flaws are found', async (t) => {
  if (!gate(t)) return;
  const clean = await copy();
  const ok = await sanity(clean.dir, clean.home, [...CORE_TESTS, ...NOT_APPLICABLE]);
  assertPassed(ok, CORE_TESTS);
  for (const name of NOT_APPLICABLE) assert.deepEqual([name, ok.results.get(name)?.status, ok.results.get(name)?.detail], [name, 'skipped', 'No tests applicable.'], ok.output);

  const flawed = await copy(async (dir) => {
    const mu = join(dir, 'plugins', 'module_utils');
    await writeFile(join(mu, 'plant_syntax.py'), 'import os\n\n\ndef planted(:\n    return os\n');
    await writeFile(join(mu, 'plant_quotes.py'), `${BOILERPLATE}WHAT = '\u2018quoted\u2019'\n`);
    await writeFile(join(mu, 'plant_import.py'), `${BOILERPLATE}import fwup_planted_missing_package  # noqa: F401\n`);
  });
  const bad = await sanity(flawed.dir, flawed.home, ['compile', 'future-import-boilerplate', 'metaclass-boilerplate', 'no-smart-quotes', 'import']);
  assert.notEqual(bad.code, 0, bad.output);
  assertFinds(bad, 'compile', /plugins\/module_utils\/plant_syntax\.py:4:\d+: SyntaxError/);
  assertFinds(bad, 'future-import-boilerplate', /plugins\/module_utils\/plant_syntax\.py:.*from __future__ import/);
  assertFinds(bad, 'metaclass-boilerplate', /plugins\/module_utils\/plant_syntax\.py:.*__metaclass__ = type/);
  assertFinds(bad, 'no-smart-quotes', /plugins\/module_utils\/plant_quotes\.py:4:\d+: use ASCII quotes/);
  assertFinds(bad, 'import', /plugins\/module_utils\/plant_import\.py:4:\d+: .*fwup_planted_missing_package/);
});

test('sanity: pep8 (pycodestyle, ansible-test\'s settings) passes; a long line and a named lambda are found', async (t) => {
  if (!gate(t, PYCODESTYLE())) return;
  const clean = await copy();
  assertPassed(await sanity(clean.dir, clean.home, ['pep8']), ['pep8']);
  const flawed = await copy((dir) => writeFile(join(dir, 'plugins', 'module_utils', 'plant.py'), `${BOILERPLATE}KEY = lambda h: h  # ${'x'.repeat(160)}\n`));
  const bad = await sanity(flawed.dir, flawed.home, ['pep8']);
  assertFinds(bad, 'pep8', /plugins\/module_utils\/plant\.py:4:1: E731: do not assign a lambda expression/, /plugins\/module_utils\/plant\.py:4:161: E501: line too long/);
});

test('sanity: pylint (ansible-test\'s plugins and settings) passes; a named lambda is found', async (t) => {
  if (!gate(t, PYLINT())) return;
  const clean = await copy();
  assertPassed(await sanity(clean.dir, clean.home, ['pylint']), ['pylint']);
  const flawed = await copy((dir) => writeFile(join(dir, 'plugins', 'module_utils', 'plant.py'), `${BOILERPLATE}KEY = lambda h: h\n`));
  const bad = await sanity(flawed.dir, flawed.home, ['pylint']);
  assertFinds(bad, 'pylint', /plugins\/module_utils\/plant\.py:4:\d+: unnecessary-lambda-assignment/);
});

// The ': ' inside a plain YAML scalar of DOCUMENTATION is the flaw the collection had (ansible-doc could not read it).
const BAD_DOC = ['run it on the controller (C(delegate_to) C(localhost))', 'run it on the controller (C(delegate_to: localhost))'] as const;

test('sanity: yamllint (YAML files and the YAML in DOCUMENTATION) passes; broken YAML is found', async (t) => {
  if (!gate(t, YAMLLINT())) return;
  const clean = await copy();
  assertPassed(await sanity(clean.dir, clean.home, ['yamllint']), ['yamllint']);
  const flawed = await copy(async (dir) => {
    await edit(join(dir, 'plugins', 'modules', 'fwup_update.py'), ...BAD_DOC);
    await edit(join(dir, 'roles', 'rollout', 'defaults', 'main.yml'), 'fwup_path: fwup\n', 'fwup_path: fwup\nfwup_path: again\n');
  });
  const bad = await sanity(flawed.dir, flawed.home, ['yamllint']);
  assertFinds(bad, 'yamllint', /plugins\/modules\/fwup_update\.py:\d+:\d+: error: DOCUMENTATION: syntax error/, /roles\/rollout\/defaults\/main\.yml:\d+:1: key-duplicates/);
});

test('sanity: validate-modules and runtime-metadata (voluptuous schemas) pass; an undocumented type, a bad author and a bad key are found', async (t) => {
  if (!gate(t, VOLUPTUOUS())) return;
  const clean = await copy();
  assertPassed(await sanity(clean.dir, clean.home, ['validate-modules', 'runtime-metadata']), ['validate-modules', 'runtime-metadata']);
  const flawed = await copy(async (dir) => {
    const mod = join(dir, 'plugins', 'modules', 'fwup_update.py');
    await edit(mod, "fwup's C(--timeout); default fwup's, 5 s for CPUs, 900 s for a BMC).\n    type: int\n", "fwup's C(--timeout); default fwup's, 5 s for CPUs, 900 s for a BMC).\n");
    await edit(join(dir, 'plugins', 'modules', 'fwup_facts.py'), '  - fwup developers (!UNKNOWN)\n', '  - fwup developers\n');
    await edit(join(dir, 'meta', 'runtime.yml'), "requires_ansible: '>=2.14.0'\n", "requires_ansible: '>=2.14.0'\nplanted_key: 1\n");
  });
  const bad = await sanity(flawed.dir, flawed.home, ['validate-modules', 'runtime-metadata']);
  assertFinds(bad, 'validate-modules', /plugins\/modules\/fwup_update\.py:0:0: parameter-type-not-in-doc: Argument 'timeout'/, /plugins\/modules\/fwup_facts\.py:0:0: invalid-documentation: DOCUMENTATION\.author/);
  assertFinds(bad, 'runtime-metadata', /meta\/runtime\.yml:0:0: extra keys not allowed @ data\['planted_key'\]/);
});
