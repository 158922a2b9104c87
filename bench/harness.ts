import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');

export interface BenchRow {
  suite: string;
  case: string;
  /** What fwup measured (median), in `unit`. */
  value: number;
  unit: string;
  /** The same-run baseline it is compared with, when there is one. */
  baseline?: { name: string; value: number };
  /** fwup / baseline (times) or baseline / fwup (speed-ups): see `ratioMeaning`. */
  ratio?: number;
  ratioMeaning?: string;
  target?: string;
  pass?: boolean;
  /** Why the case could not run here (a missing program); `value` is then NaN. */
  skipped?: string;
  extra?: Record<string, unknown>;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Wall time of a whole process in milliseconds. */
export function timeProcess(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

export async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/**
 * Write latest.json and latest.md. Suites that did not run this time keep their previous rows (marked
 * with their own date), so `npm run bench apply` does not erase the startup numbers.
 */
export async function writeResults(fresh: BenchRow[], meta: Record<string, unknown>): Promise<{ json: string; md: string }> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const json = join(RESULTS_DIR, 'latest.json');
  const md = join(RESULTS_DIR, 'latest.md');
  const ran = new Set(fresh.map((r) => r.suite));
  let kept: BenchRow[] = [];
  try {
    const old = JSON.parse(await readFile(json, 'utf8')) as { meta: { date: string }; rows: BenchRow[] };
    kept = old.rows.filter((r) => !ran.has(r.suite)).map((r) => ({ ...r, extra: { measuredAt: old.meta.date, ...r.extra } }));
  } catch {
    /* first run */
  }
  const rows = [...kept, ...fresh];
  await writeFile(json, `${JSON.stringify({ meta, rows }, null, 2)}\n`);
  const lines = [
    `# fwup benchmarks`,
    '',
    `${meta.date} on ${meta.host} (${meta.cpus} CPUs, Node ${meta.node}). Baselines are measured in the same run.`,
    '',
    '| suite | case | fwup | baseline | ratio | target | pass |',
    '|---|---|---:|---:|---:|---|---|',
    ...rows.map((r) =>
      r.skipped
        ? `| ${r.suite} | ${r.case} | skipped: ${r.skipped} | | | ${r.target ?? ''} | |`
        : `| ${r.suite} | ${r.case} | ${fmt(r.value)} ${r.unit} | ${r.baseline ? `${r.baseline.name}: ${fmt(r.baseline.value)} ${r.unit}` : ''} | ${
          r.ratio !== undefined ? `${fmt(r.ratio)}× ${r.ratioMeaning ?? ''}` : ''
        } | ${r.target ?? ''} | ${r.pass === undefined ? '' : r.pass ? 'yes' : '**no**'} |`,
    ),
    '',
  ];
  await writeFile(md, lines.join('\n'));
  return { json, md };
}

function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}
