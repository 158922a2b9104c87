import { spawnSync } from 'node:child_process';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { COLLECTION_SRC, run } from './fleet.js';
import { DEBIAN_PYTHON } from './requirements.js';

/**
 * `ansible-test sanity` on the fwup.fleet collection, offline.
 *
 * ansible-test runs most sanity tests in a virtual environment of its own under ~/.ansible/test/venv,
 * into which it pip-installs pinned requirements (PyPI, unreachable here) — and it stops with 'does not
 * have pip available'. It reuses such an environment when its marker.txt exists, so each one it asks
 * for is made here instead: a venv of Debian's python with --system-site-packages, which sees the Debian
 * packages of the tools (pycodestyle, pylint, yamllint, voluptuous, PyYAML, Jinja2). The tests themselves
 * are ansible-test's, unchanged; only the versions of the tools are Debian's instead of the pins.
 */

const NO_PIP = /Python [\d.]+ at "(.+)\/bin\/python" does not have pip available/;

export interface SanityResult {
  status: 'passed' | 'failed' | 'skipped';
  /** The failure's lines (path:line:col: code: message), or why it was skipped. */
  detail: string;
}
export interface SanityRun {
  code: number;
  output: string;
  results: Map<string, SanityResult>;
}

/** Debian's python version, the one ansible-test (/usr/bin/ansible-test) runs on: its --python. */
export function debianPythonVersion(): string {
  const r = spawnSync(DEBIAN_PYTHON, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
  return r.stdout.trim();
}

/**
 * A copy of the collection laid out as ansible-test wants it (…/ansible_collections/fwup/fleet, a git
 * work tree: ansible-test lists the files through git), with `plant` applied to the copy.
 */
export async function layCollection(root: string, plant?: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(root, 'ansible_collections', 'fwup', 'fleet');
  await mkdir(dir, { recursive: true });
  await cp(COLLECTION_SRC, dir, { recursive: true, filter: (src) => !src.includes(join('tests', 'output')) });
  if (plant) await plant(dir);
  for (const args of [['init', '-q'], ['add', '-A']]) {
    const r = spawnSync('git', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  }
  return dir;
}

/** Make the virtual environment ansible-test asked for, from Debian's python and its packages. */
async function seedVenv(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
  const r = spawnSync(DEBIAN_PYTHON, ['-m', 'venv', '--system-site-packages', '--without-pip', path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 -m venv ${path}: ${r.stderr}`);
  // What ansible-test's yamlcheck would have recorded: true = PyYAML with libyaml, false = without, null = none.
  const y = spawnSync(join(path, 'bin', 'python'), ['-c', 'import json\ntry:\n import yaml\nexcept ImportError:\n print("null")\nelse:\n print(json.dumps(hasattr(yaml, "CLoader")))'], { encoding: 'utf8' });
  await writeFile(join(path, 'meta.yaml.json'), y.stdout.trim() || 'null');
  await writeFile(join(path, 'meta.install.json'), '[]');
  await writeFile(join(path, 'marker.txt'), '');
}

/** The per-test results of the --junit files. */
async function readJunit(dir: string): Promise<Map<string, SanityResult>> {
  const out = new Map<string, SanityResult>();
  const junit = join(dir, 'tests', 'output', 'junit');
  if (!existsSync(junit)) return out;
  for (const f of await readdir(junit)) {
    const xml = await readFile(join(junit, f), 'utf8');
    for (const m of xml.matchAll(/<testcase classname="sanity" name="([^"]+)"(\/>|>([\s\S]*?)<\/testcase>)/g)) {
      const name = m[1]!.replace(/-python-[\d.]+$/, '');
      const body = m[3] ?? '';
      const failure = /<failure[^>]*>([\s\S]*?)<\/failure>/.exec(body);
      const skipped = /<skipped>([\s\S]*?)<\/skipped>/.exec(body);
      out.set(name, failure ? { status: 'failed', detail: unescape(failure[1]!) } : skipped ? { status: 'skipped', detail: unescape(skipped[1]!) } : { status: 'passed', detail: '' });
    }
  }
  return out;
}

function unescape(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/** `ansible-test sanity --python X --test T… --junit` in `dir`, making each venv it asks for (HOME: `home`). */
export async function sanity(dir: string, home: string, tests: string[]): Promise<SanityRun> {
  const env = { PATH: '/usr/bin:/bin', HOME: home, LC_ALL: 'C.UTF-8', TMPDIR: join(home, 'tmp') };
  await mkdir(env.TMPDIR, { recursive: true });
  const args = ['sanity', '--python', debianPythonVersion(), '--junit', ...tests.flatMap((t) => ['--test', t])];
  for (let attempt = 0; ; attempt++) {
    await rm(join(dir, 'tests', 'output'), { recursive: true, force: true });
    const r = await run('ansible-test', args, { cwd: dir, env, timeoutMs: 180_000 });
    const output = `ansible-test ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`;
    const venv = NO_PIP.exec(r.stderr + r.stdout);
    if (venv && attempt < 12) {
      await seedVenv(venv[1]!);
      continue;
    }
    return { code: r.code, output, results: await readJunit(dir) };
  }
}
