import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { COMMANDS, GLOBAL_OPTIONS } from '../src/cli/command-table.js';
import { flagNames } from '../src/cli/flag-names.js';
import { manPage } from '../src/cli/man-page.js';
import { ENVIRONMENT } from '../src/cli/environment.js';
import { EXIT_MEANINGS } from '../src/errors/exit-codes.js';
import { VERSION } from '../src/cli/version.js';
import { fwup, REPO_ROOT, tempDir } from './helpers/cli.js';
import { needs, program } from './helpers/requirements.js';

/** Shell completion and the man page come from the command table: every command and option is in each. */

const BASH = () => program('bash', ['-c', 'true'], 'install bash to run the bash completion script');
const ZSH = () => program('zsh', ['-c', 'true'], 'apt-get install zsh to check the zsh completion script (.ci/run installs it)');
const FISH = () => program('fish', ['-c', 'true'], 'apt-get install fish to run the fish completion script (.ci/run installs it)');
const GROFF = () => program('groff', ['-v'], 'apt-get install groff-base to check the man page for roff warnings (.ci/run installs it)');

const longFlags = (opts: typeof GLOBAL_OPTIONS) => opts.map((o) => flagNames(o).long);

async function script(shell: string): Promise<string> {
  const { dir, cleanup } = await tempDir();
  try {
    const r = await fwup(['completion', shell], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  } finally {
    await cleanup();
  }
}

/** Whole words only: `--sha256` must not be found inside `--sha256-file`. */
function hasWord(text: string, word: string): boolean {
  return new RegExp(`(^|[^\\w-])${word.replace(/[-]/g, '\\-')}($|[^\\w-])`).test(text);
}

test('completion: bash, zsh and fish scripts name every command, subcommand and option of the command table', async () => {
  for (const shell of ['bash', 'zsh', 'fish']) {
    const s = await script(shell);
    for (const c of COMMANDS) {
      for (const w of c.name.split(' ')) assert.ok(hasWord(s, w), `${shell}: command word ${w}`);
      for (const o of c.options) {
        const f = flagNames(o);
        // fish spells options without their dashes (-l output -s o).
        const spelled = shell === 'fish' ? `-l ${f.long.slice(2)}` : f.long;
        assert.ok(s.includes(spelled), `${shell}: ${c.name} ${f.long}`);
      }
    }
    for (const g of longFlags(GLOBAL_OPTIONS)) assert.ok(s.includes(shell === 'fish' ? `-l ${g.slice(2)}` : g), `${shell}: global ${g}`);
  }
});

test('completion: the bash script completes commands, subcommands, options after a --target value, and --format choices', async (t) => {
  if (!needs(t, BASH())) return;
  const { dir, cleanup } = await tempDir();
  try {
    await writeFile(join(dir, 'fwup.bash'), await script('bash'));
    const complete = (words: string[]): string[] => {
      const r = spawnSync('bash', ['-c', `source fwup.bash; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _fwup; printf '%s\\n' "\${COMPREPLY[@]}"`], { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.split('\n').filter(Boolean).sort();
    };
    assert.deepEqual(complete(['fwup', 'st']), ['stage', 'status']);
    assert.deepEqual(complete(['fwup', 'machine', 'st']), ['start', 'status', 'stop']);
    assert.deepEqual(complete(['fwup', '--target', 'emu:m', 'stage', '--allow-u']), ['--allow-unsigned']);
    assert.deepEqual(complete(['fwup', 'machine', 'init', '--cp']), ['--cpus']);
    assert.deepEqual(complete(['fwup', 'pack', '--format', '']), ['capsule', 'fwup']);
    assert.deepEqual(complete(['fwup', 'completion', '']), ['bash', 'fish', 'zsh']);
    assert.deepEqual(complete(['fwup', 'inspect', 'fwup.b']), ['fwup.bash'], 'file names for an image argument');
  } finally {
    await cleanup();
  }
});

test('completion: zsh parses its script', async (t) => {
  if (!needs(t, ZSH())) return;
  const r = spawnSync('zsh', ['-n'], { input: await script('zsh'), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('completion: fish loads its script and completes commands, subcommands and options with it', async (t) => {
  if (!needs(t, FISH())) return;
  const { dir, cleanup } = await tempDir();
  try {
    await writeFile(join(dir, 'fwup.fish'), await script('fish'));
    const complete = (line: string): string[] => {
      const r = spawnSync('fish', ['--no-config', '-c', `source fwup.fish; complete -C '${line}'`], { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]!).sort();
    };
    assert.deepEqual(complete('fwup st'), ['stage', 'status']);
    assert.deepEqual(complete('fwup machine in'), ['init']);
    assert.deepEqual(complete('fwup stage --allow-u'), ['--allow-unsigned']);
    assert.ok(!complete('fwup machine init --').includes('--allow-unsigned'), 'stage\'s options are not offered to machine init');
  } finally {
    await cleanup();
  }
});

test('man page: man/fwup.1 is the one the command table makes now, and names every command, option, exit code and variable', async () => {
  const page = await readFile(join(REPO_ROOT, 'man', 'fwup.1'), 'utf8');
  assert.equal(page, manPage({ version: VERSION, commands: COMMANDS, globals: GLOBAL_OPTIONS, exitCodes: EXIT_MEANINGS, environment: ENVIRONMENT }), 'built from the current table');
  const roffDash = (s: string) => s.replace(/-/g, '\\-');
  for (const c of COMMANDS) {
    assert.ok(page.includes(`.SS "fwup ${roffDash(c.name)}`), `section for ${c.name}`);
    for (const o of c.options) assert.ok(page.includes(`\\fB${roffDash(flagNames(o).long)}\\fR`), `${c.name} ${o.flags}`);
  }
  for (const g of longFlags(GLOBAL_OPTIONS)) assert.ok(page.includes(`\\fB${roffDash(g)}\\fR`), `global ${g}`);
  for (const [code] of EXIT_MEANINGS) assert.ok(page.includes(`\\fB${code}\\fR`), `exit ${code}`);
  for (const [name] of ENVIRONMENT) assert.ok(page.includes(`\\fB${roffDash(name)}\\fR`), name);
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string; man: string[] };
  assert.equal(pkg.version, VERSION);
  assert.deepEqual(pkg.man, ['./man/fwup.1'], 'npm install -g and npm link install it');
});

test('man page: groff renders it without a warning', async (t) => {
  if (!needs(t, GROFF())) return;
  const r = spawnSync('groff', ['-man', '-ww', '-z', join(REPO_ROOT, 'man', 'fwup.1')], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.equal(r.stderr, '');
  const text = spawnSync('groff', ['-man', '-Tutf8', '-P', '-cbou', join(REPO_ROOT, 'man', 'fwup.1')], { encoding: 'utf8' }).stdout;
  assert.match(text, /fwup stage \[options\] <image>|fwup stage <image>/);
  assert.match(text, /--allow-unsigned/);
});
