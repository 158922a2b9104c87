import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FIXTURES } from './bmc.js';
import { FWUP_BIN, REPO_ROOT, fwup, json } from './cli.js';
import { DEBIAN_PYTHON } from './requirements.js';

/**
 * The fwup.fleet collection driven by the real ansible-playbook: install it, lay out an inventory of
 * emulated machines, run the rollout playbook, read its PLAY RECAP and the rollout_summary callback's JSON.
 * Everything Ansible and fwup write (home, temp files, fwup's host-target records) stays in the work dir.
 */

export const COLLECTION_SRC = join(REPO_ROOT, 'ansible');
export const ROLLOUT = join(COLLECTION_SRC, 'playbooks', 'rollout.yml');
export const IMAGE_2 = join(FIXTURES, 'images', 'fw-2.0.0-signed.fwup');
export const IMAGE_3 = join(FIXTURES, 'images', 'fw-3.0.0-signed.fwup');
export const RELEASE_KEY = join(FIXTURES, 'keys', 'test-release.pub');
export const OTHER_KEY = join(FIXTURES, 'keys', 'test-other.pub');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SummaryRow {
  host: string;
  before: string | null;
  after: string | null;
  verdict: string;
  downtime_ms: number | null;
  error: string | null;
}
export interface Summary {
  hosts: SummaryRow[];
  counts: Record<string, number>;
}
export interface Recap {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
  rescued: number;
  ignored: number;
}
export interface Rollout extends Run {
  /** stdout and stderr with the exit code: the message of every assertion on the run. */
  output: string;
  recap: Map<string, Recap>;
  summary: Summary;
  rows: Map<string, SummaryRow>;
}

/** Run a program to completion (killed after `timeoutMs`: a hung playbook fails the test, not the suite). */
export function run(cmd: string, args: string[], opts: { cwd: string; env: Record<string, string>; timeoutMs?: number }): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** The environment of every Ansible run: no ansible.cfg, home or temp dir of the user's is read or written. */
export async function ansibleEnv(work: string, collections: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const home = join(work, 'home');
  await mkdir(home, { recursive: true });
  const cfg = join(work, 'ansible.cfg');
  await writeFile(cfg, '[defaults]\nretry_files_enabled = false\n');
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LC_ALL: 'C.UTF-8',
    ANSIBLE_CONFIG: cfg,
    ANSIBLE_HOME: join(home, '.ansible'),
    ANSIBLE_LOCAL_TEMP: join(home, 'tmp'),
    ANSIBLE_REMOTE_TEMP: join(home, 'remote-tmp'),
    ANSIBLE_COLLECTIONS_PATH: collections,
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_LOCALHOST_WARNING: 'False',
    // Local modules read from a pipe instead of temp files: fewer writes per task.
    ANSIBLE_PIPELINING: 'True',
    // fwup keeps its records of redfish: targets here (the controller's side of a BMC update).
    XDG_STATE_HOME: join(work, 'state'),
    ...extra,
  };
}

/** ansible-galaxy collection install of the checkout's collection; returns the collections path. */
export async function installCollection(work: string): Promise<string> {
  const path = join(work, 'collections');
  const env = await ansibleEnv(work, path);
  const r = await run('ansible-galaxy', ['collection', 'install', COLLECTION_SRC, '-p', path, '--force'], { cwd: work, env });
  if (r.code !== 0) throw new Error(`ansible-galaxy collection install exited ${r.code}: ${r.stdout}${r.stderr}`);
  // The other documented way: a built tarball, installed. It must hold the same files as the folder install.
  const built = await run('ansible-galaxy', ['collection', 'build', COLLECTION_SRC, '--output-path', work, '--force'], { cwd: work, env });
  if (built.code !== 0) throw new Error(`ansible-galaxy collection build exited ${built.code}: ${built.stdout}${built.stderr}`);
  const tarPath = join(work, 'from-tarball');
  const t = await run('ansible-galaxy', ['collection', 'install', join(work, 'fwup-fleet-0.1.0.tar.gz'), '-p', tarPath], { cwd: work, env });
  if (t.code !== 0) throw new Error(`ansible-galaxy collection install of the tarball exited ${t.code}: ${t.stdout}${t.stderr}`);
  const files = async (root: string) => (await readdir(join(root, 'ansible_collections', 'fwup', 'fleet'), { recursive: true })).filter((f) => !/^(MANIFEST|FILES)\.json$/.test(f)).sort();
  const a = await files(path);
  const b = await files(tarPath);
  if (JSON.stringify(a) !== JSON.stringify(b) || !a.includes('plugins/modules/fwup_update.py')) throw new Error(`the tarball install differs from the folder install: ${a.join(',')} / ${b.join(',')}`);
  return path;
}

/** The sizes of the batches `serial: batches` makes of n hosts (Ansible's pct_to_int, the last size repeats). */
export function batchSizes(batches: Array<number | string>, n: number): number[] {
  const sizes: number[] = [];
  let left = n;
  for (let i = 0; left > 0; i++) {
    const b = batches[Math.min(i, batches.length - 1)]!;
    const size = typeof b === 'string' && b.endsWith('%') ? Math.floor((Number(b.slice(0, -1)) / 100) * n) || 1 : Number(b);
    sizes.push(Math.min(size, left));
    left -= size;
  }
  return sizes;
}

/** `fwup machine init` for each name under root, trusting the key `trust(name)` returns. */
export async function initMachines(root: string, names: string[], trust: (name: string) => string = () => RELEASE_KEY): Promise<Map<string, string>> {
  await mkdir(root, { recursive: true });
  const dirs = new Map(names.map((n) => [n, join(root, n)]));
  await Promise.all(names.map(async (n) => {
    const r = await fwup(['machine', 'init', dirs.get(n)!, '--cpus', '2', '--flash-size', '2M', '--trust', trust(n)], { cwd: root });
    if (r.code !== 0) throw new Error(`machine init ${n} failed: ${r.stderr}`);
  }));
  return dirs;
}

/** An inventory YAML (JSON is YAML) with every host local and fwup run from this checkout. */
export function inventory(groups: Record<string, { vars?: Record<string, unknown>; hosts: Record<string, Record<string, unknown>> }>): string {
  const vars = { ansible_connection: 'local', ansible_python_interpreter: DEBIAN_PYTHON, fwup_path: FWUP_BIN };
  return `${JSON.stringify({ all: { vars, children: groups } }, null, 2)}\n`;
}

const RECAP = /^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)/;

/** The PLAY RECAP of the default stdout callback, host by host. */
export function parseRecap(stdout: string): Map<string, Recap> {
  const out = new Map<string, Recap>();
  const at = stdout.lastIndexOf('PLAY RECAP');
  if (at < 0) return out;
  for (const line of stdout.slice(at).split('\n')) {
    const m = RECAP.exec(line);
    if (!m) continue;
    const [ok, changed, unreachable, failed, skipped, rescued, ignored] = m.slice(2).map(Number) as [number, number, number, number, number, number, number];
    out.set(m[1]!, { ok, changed, unreachable, failed, skipped, rescued, ignored });
  }
  return out;
}

export interface RolloutOptions {
  work: string;
  collections: string;
  inventory: string;
  image: string;
  batches: Array<number | string>;
  forks: number;
  check?: boolean;
  vaultPasswordFile?: string;
  extraVars?: Record<string, unknown>;
  /** A name for the summary file (one per run). */
  name: string;
}

/** playbooks/rollout.yml with the rollout_summary callback writing its JSON; the default stdout callback. */
export async function rollout(o: RolloutOptions): Promise<Rollout> {
  const summaryFile = join(o.work, `${o.name}.summary.json`);
  const env = await ansibleEnv(o.work, o.collections, { ANSIBLE_CALLBACKS_ENABLED: 'fwup.fleet.rollout_summary', FWUP_ROLLOUT_SUMMARY: summaryFile });
  const args = ['-i', o.inventory, ROLLOUT, '-f', String(o.forks), '-e', `image=${o.image}`, '-e', JSON.stringify({ fwup_batches: o.batches })];
  if (o.extraVars) args.push('-e', JSON.stringify(o.extraVars));
  if (o.check) args.push('--check');
  if (o.vaultPasswordFile) args.push('--vault-password-file', o.vaultPasswordFile);
  const r = await run('ansible-playbook', args, { cwd: o.work, env, timeoutMs: 300_000 });
  const output = `ansible-playbook ${o.name} exited ${r.code}\n${r.stdout}\n${r.stderr}`;
  let summary: Summary;
  try {
    summary = JSON.parse(await readFile(summaryFile, 'utf8')) as Summary;
  } catch (e) {
    throw new Error(`no rollout summary at ${summaryFile} (${(e as Error).message}): ${output}`);
  }
  return { ...r, output, recap: parseRecap(r.stdout), summary, rows: new Map(summary.hosts.map((h) => [h.host, h])) };
}

export interface EmuStatus {
  firmware: { version: string; trial: boolean };
  staged: unknown;
  lastAttempt: { statusName: string; version: string } | null;
}

/** `fwup status --target emu:DIR --json`, read-only (a running machine answers through its socket). */
export async function emuStatus(root: string, dir: string): Promise<EmuStatus> {
  const r = await fwup(['status', '--target', `emu:${dir}`, '--json'], { cwd: root });
  if (r.code !== 0) throw new Error(`fwup status emu:${dir} exited ${r.code}: ${r.stdout}${r.stderr}`);
  return json<EmuStatus>(r);
}

/**
 * The hosts of each run of the role's update task, in order: one list per batch of `serial`
 * (`changed: [bmc1 -> localhost]` names the host and where fwup ran for it).
 */
export function updateBatches(stdout: string, task = 'fwup.fleet.rollout : Update the firmware with fwup'): Array<Array<{ host: string; status: string; via: string | null }>> {
  const out: Array<Array<{ host: string; status: string; via: string | null }>> = [];
  const head = `TASK [${task}]`;
  for (let at = stdout.indexOf(head); at >= 0; at = stdout.indexOf(head, at + head.length)) {
    const rest = stdout.slice(at + head.length);
    const end = rest.search(/\n(TASK|PLAY|NO MORE HOSTS) /);
    const batch = [];
    for (const m of (end < 0 ? rest : rest.slice(0, end)).matchAll(/^(ok|changed|fatal|failed|skipping): \[([^\]\s]+)(?: -> ([^\]]+))?\]/gm)) {
      batch.push({ host: m[2]!, status: m[1]!, via: m[3] ?? null });
    }
    out.push(batch);
  }
  return out;
}
