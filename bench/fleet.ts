import { join } from 'node:path';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { median, timeProcess, REPO_ROOT, type BenchRow } from './harness.js';

const FWUP = join(REPO_ROOT, 'bin', 'fwup.js');
const COLLECTION = join(REPO_ROOT, 'ansible');
const IMAGE = join(REPO_ROOT, 'fixtures', 'images', 'fw-2.0.0-signed.fwup');
const KEY = join(REPO_ROOT, 'fixtures', 'keys', 'test-release.pub');

/**
 * The fwup.fleet rollout (playbooks/rollout.yml: the facts play, then the role in one batch of N hosts with
 * N forks) over N emulated machines, against what the same update costs without Ansible: N × one local
 * `fwup stage` + `fwup apply --warm` of the same image, measured in the same run on fresh machines.
 * Whole processes both, the rollout's wall time including ansible-playbook's own start. The per-host
 * orchestration overhead is the slope of the rollout's wall time over N, less one local stage + apply:
 * what each further host costs in Ansible (its forks, module runs, fwup's inspect and status) beyond the
 * update itself, with the fixed start-up cost left out.
 */
export async function fleetBench(sizes = [4, 8, 16, 32], localRuns = 5): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'fwup-bench-fleet-'));
  const home = join(dir, 'home');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, HOME: home, LC_ALL: 'C.UTF-8', NO_COLOR: '1', ANSIBLE_CONFIG: join(dir, 'ansible.cfg'), ANSIBLE_HOME: join(home, '.ansible'),
    ANSIBLE_LOCAL_TEMP: join(home, 'tmp'), ANSIBLE_REMOTE_TEMP: join(home, 'remote-tmp'), ANSIBLE_COLLECTIONS_PATH: join(dir, 'collections'),
    ANSIBLE_CALLBACKS_ENABLED: 'fwup.fleet.rollout_summary', ANSIBLE_PIPELINING: 'True', ANSIBLE_LOCALHOST_WARNING: 'False', XDG_STATE_HOME: join(dir, 'state'),
  };
  const init = (machine: string) => {
    const r = spawnSync(process.execPath, [FWUP, 'machine', 'init', machine, '--cpus', '2', '--flash-size', '2M', '--trust', KEY], { cwd: dir, env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`machine init ${machine}: ${r.stderr}`);
  };
  try {
    await mkdir(home, { recursive: true });
    await writeFile(join(dir, 'ansible.cfg'), '[defaults]\nretry_files_enabled = false\n');
    timeProcess('ansible-galaxy', ['collection', 'install', COLLECTION, '-p', join(dir, 'collections'), '--force'], dir, env);

    // The update without Ansible, on fresh machines (each goes 1 -> 2.0.0 as every rollout host does).
    const local: number[] = [];
    for (let i = 0; i < localRuns; i++) {
      const m = join(dir, 'local', `m${i}`);
      init(m);
      local.push(timeProcess(process.execPath, [FWUP, 'stage', IMAGE, '--target', `emu:${m}`], dir, env) + timeProcess(process.execPath, [FWUP, 'apply', '--warm', '--target', `emu:${m}`], dir, env));
    }
    const pair = median(local);

    const rows: BenchRow[] = [];
    const walls: Array<[number, number]> = [];
    for (const n of sizes) {
      const root = join(dir, `fleet-${n}`);
      const hosts: Record<string, { fwup_target: string }> = {};
      for (let i = 1; i <= n; i++) {
        init(join(root, `h${i}`));
        hosts[`h${i}`] = { fwup_target: `emu:${join(root, `h${i}`)}` };
      }
      const inv = join(root, 'hosts.yml');
      await writeFile(inv, JSON.stringify({ all: { vars: { ansible_connection: 'local', ansible_python_interpreter: '/usr/bin/python3', fwup_path: FWUP }, hosts } }));
      const summary = join(root, 'summary.json');
      const wall = timeProcess('ansible-playbook', ['-i', inv, join(COLLECTION, 'playbooks', 'rollout.yml'), '-f', String(n), '-e', `image=${IMAGE}`, '-e', JSON.stringify({ fwup_batches: [n] })], root, { ...env, FWUP_ROLLOUT_SUMMARY: summary });
      // A rollout that did not update every host measured something else.
      const counts = (JSON.parse(await readFile(summary, 'utf8')) as { counts: Record<string, number> }).counts;
      if (counts.updated !== n || Object.keys(counts).length !== 1) throw new Error(`rollout of ${n} hosts: ${JSON.stringify(counts)}`);
      walls.push([n, wall]);
      rows.push({
        suite: 'fleet', case: `rollout of ${n} emulated hosts (one batch, ${n} forks)`, value: wall, unit: 'ms',
        baseline: { name: `${n} × local fwup stage + apply --warm`, value: n * pair }, ratio: wall / (n * pair), ratioMeaning: 'of the local path',
        extra: { hosts: n, perHostMs: wall / n, perHostOverheadMs: (wall - n * pair) / n, localPairMs: pair, localRuns: local },
      });
    }
    const slope = leastSquaresSlope(walls);
    rows.push({
      suite: 'fleet', case: `per-host orchestration overhead (slope of the rollout over ${sizes.join(', ')} hosts, less one local stage + apply)`, value: slope - pair, unit: 'ms',
      baseline: { name: 'one local fwup stage + apply --warm', value: pair }, ratio: slope / pair, ratioMeaning: 'per-host cost of the rollout over the local path',
      extra: { slopeMsPerHost: slope, fixedMs: walls.length ? median(walls.map(([n, w]) => w - slope * n)) : null, walls },
    });
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function leastSquaresSlope(points: Array<[number, number]>): number {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxy / sxx;
}
