import { join } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { median, timeProcess, REPO_ROOT, type BenchRow } from './harness.js';

/**
 * `fwup --version` and `fwup inspect` of a small image against `node -e 0`, interleaved so drift hits all
 * alike, in two environments: the one the benchmark inherits (as operators run fwup; on this machine it
 * sets NODE_EXTRA_CA_CERTS, which costs node itself ~40 ms at start, so `node -e 0` takes 60-100 ms as the
 * issue measured), and a minimal one (PATH and HOME only), where fwup's own cost is laid bare.
 */
export async function startupBench(runs = 30): Promise<BenchRow[]> {
  const inherited = await startupIn('inherited env', { ...process.env }, runs);
  const minimal = await startupIn('minimal env', { PATH: process.env.PATH ?? '' }, runs);
  return [...inherited, ...minimal];
}

async function startupIn(label: string, baseEnv: NodeJS.ProcessEnv, runs: number): Promise<BenchRow[]> {
  const cwd = await mkdtemp(join(tmpdir(), 'fwup-bench-'));
  try {
    const bin = join(REPO_ROOT, 'bin', 'fwup.js');
    const image = join(REPO_ROOT, 'fixtures', 'images', 'fw-2.0.0-signed.fwup');
    const key = join(REPO_ROOT, 'fixtures', 'keys', 'test-release.pub');
    const env: NodeJS.ProcessEnv = { ...baseEnv, HOME: cwd };
    const cases: Record<string, string[]> = {
      'node -e 0': ['-e', '0'],
      'fwup --version': [bin, '--version'],
      'fwup inspect (96 KiB, signed, --key)': [bin, 'inspect', image, '--key', key],
    };
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    for (let i = 0; i < runs + 3; i++) {
      for (const [name, args] of Object.entries(cases)) {
        const ms = timeProcess(process.execPath, args, cwd, env);
        if (i >= 3) times[name]!.push(ms); // the first runs warm the page cache
      }
    }
    const base = median(times['node -e 0']!);
    return Object.keys(cases)
      .filter((k) => k !== 'node -e 0')
      .map((k) => {
        const v = median(times[k]!);
        return {
          suite: 'startup',
          case: `${k} (${label})`,
          value: v,
          unit: 'ms',
          baseline: { name: 'node -e 0', value: base },
          ratio: v / base,
          ratioMeaning: 'of node -e 0',
          target: '≤ 1.5×',
          pass: v / base <= 1.5,
          ...(v / base > 1.5 ? { why: `${(v - base).toFixed(1)} ms more than node's own start, ${((v / base - 1.5) * base).toFixed(1)} ms over the target: reading and running the bundle, loading node:crypto, the command itself (measured and explained in docs/architecture.md, "What is left of the start-up target").` } : {}),
          extra: { runs, nodeExtraCaCerts: Boolean(env.NODE_EXTRA_CA_CERTS) },
        };
      });
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
}
