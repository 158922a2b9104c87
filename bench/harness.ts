import { createHash } from 'node:crypto';
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
  /** Why a missed target was missed, from what the case measured (latest.md lists it under the table). */
  why?: string;
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
    ...missedTargets(rows),
  ];
  await writeFile(md, lines.join('\n'));
  return { json, md };
}

/** Every missed target: by how much, and why where the case could tell. */
function missedTargets(rows: BenchRow[]): string[] {
  const missed = rows.filter((r) => r.pass === false);
  if (!missed.length) return [];
  return [
    '## Targets missed',
    '',
    ...missed.map((r) => `- ${r.suite}, ${r.case}: ${fmt(r.ratio !== undefined && r.target?.includes('×') ? r.ratio : r.value)}${r.target?.includes('×') ? '×' : ` ${r.unit}`} against ${r.target}. ${r.why ?? 'No cause recorded.'}`),
    '',
  ];
}

/** One SHA-256 over `mib` MiB in this process now (median of 5): the floor of a verify phase that reads and hashes it. */
export function sha256Ms(mib: number): number {
  const data = Buffer.alloc(mib * 1024 * 1024, 0x5a);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    createHash('sha256').update(data).digest();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(times);
}

/** Why a downtime target was missed: its phases, and what one SHA-256 of the image costs here now. */
export function downtimeWhy(phases: Record<string, number>, mib: number): string {
  return `${phaseBreakdown(phases)} The verify phase reads the slot once and hashes every chunk on the firmware's CPU (the payload's SHA-256; the file's runs beside it on the SHA-256 engine): one SHA-256 of ${mib} MiB alone takes ${fmt(sha256Ms(mib))} ms here, now.`;
}

/** What a downtime was made of, phase by phase (medians), the largest first: why a downtime target was missed. */
function phaseBreakdown(phases: Record<string, number>): string {
  const total = Object.values(phases).reduce((a, b) => a + b, 0);
  const parts = Object.entries(phases).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${fmt(v)} ms`);
  return `Phases (medians, ${fmt(total)} ms in all): ${parts.join(', ')}.`;
}

function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}
