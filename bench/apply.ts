import { join } from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, availableParallelism } from 'node:os';
import { quietContext } from '../src/core/context.js';
import { pack } from '../src/core/pack.js';
import { machineInit } from '../src/core/machine-init.js';
import { stage } from '../src/core/stage.js';
import { openPlatform } from '../src/machine/platform.js';
import { powerOn } from '../src/machine/power.js';
import { applyUpdate, type ApplyReport } from '../src/machine/apply.js';
import { initSaveArea } from '../src/machine/state-save.js';
import { RAM_SAVE_AREA_BASE } from '../src/machine/ram-layout.js';
import { downtimeWhy, median, type BenchRow } from './harness.js';
import { rawRendezvousMs } from './raw-rendezvous.js';
import type { InstallStrategy } from '../src/storage/key-store.js';

const MiB = 1024 * 1024;

interface Series {
  mib: number;
  install: InstallStrategy;
  points: Array<{ cpus: number; downtimeMs: number }>;
}

/** Issue 17's targets for a warm apply with 16 CPUs, by strategy and image size (ms). */
const TARGETS: Record<InstallStrategy, Record<number, number>> = { copy: { 1: 50, 16: 250 }, 'in-place': { 1: 10, 16: 25 } };

async function makeImage(dir: string, mib: number, version: number): Promise<string> {
  const ctx = quietContext(dir);
  const payload = join(dir, `p-${mib}-${version}.bin`);
  const buf = Buffer.allocUnsafe(mib * MiB);
  for (let i = 0; i < buf.length; i += 4) buf.writeUInt32LE(Math.imul(i + version, 2654435761) >>> 0, i);
  await writeFile(payload, buf);
  const out = join(dir, `i-${mib}-${version}.fwup`);
  await pack(ctx, { payload, output: out, force: true, meta: { platform: 'fwup-emu', version: String(version), versionNumber: version, lowestSupportedVersion: 0, securityVersion: 0, flags: 0, description: null } });
  return out;
}

/**
 * Warm-apply downtime against install strategy, CPU count and image size; warm against cold;
 * rendezvous latency against a raw Atomics rendezvous of as many threads. Writes an SVG plot of
 * downtime against CPU count.
 */
export async function applyBench(cpuCounts = [1, 4, 16, 64], sizes = [1, 16], runs = 5, strategies: readonly InstallStrategy[] = ['copy', 'in-place']): Promise<{ rows: BenchRow[]; series: Series[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'fwup-bench-apply-'));
  const rows: BenchRow[] = [];
  const series: Series[] = strategies.flatMap((install) => sizes.map((mib) => ({ mib, install, points: [] })));
  const hostCpus = availableParallelism();
  try {
    const ctx = quietContext(dir);
    for (const mib of sizes) {
      const images: string[] = [];
      for (let v = 2; v < 2 + runs + 1; v++) images.push(await makeImage(dir, mib, v));
      for (const install of strategies) for (const cpus of cpuCounts) {
        const mdir = join(dir, `m-${mib}-${cpus}-${install}`);
        await machineInit(ctx, { dir: mdir, cpus, flashBytes: Math.max(64, 2 ** Math.ceil(Math.log2(mib * 4 + 4))) * MiB, trust: [], development: false, install, force: false });
        const p = openPlatform(mdir, { writable: true });
        const { machine } = await powerOn(p, { hostCpus, knobs: { idleCpus: [], deafCpus: [] }, now: () => new Date() });
        const reports: ApplyReport[] = [];
        try {
          for (let r = 0; r <= runs; r++) {
            p.close();
            await stage(ctx, images[r]!, { target: `emu:${mdir}`, allowOlder: false, allowUnsigned: true, allowReinstall: false });
            const q = openPlatform(mdir, { writable: true });
            try {
              const rep = await applyUpdate(machine, q, { mode: 'warm', kind: 'install', timeoutMs: 10_000, confirm: true, checkSteps: 10_000, now: () => new Date() });
              if (!rep.ok) throw new Error(`apply failed: ${JSON.stringify(rep.checks)}`);
              if (r > 0) reports.push(rep); // the first run warms caches and the JIT
            } finally {
              q.close();
            }
          }
        } finally {
          await machine.stop();
        }
        const down = median(reports.map((x) => x.downtimeMs));
        series.find((s) => s.mib === mib && s.install === install)!.points.push({ cpus, downtimeMs: down });
        const phases = Object.fromEntries(reports[0]!.phases.map((ph) => [ph.name, median(reports.map((x) => x.phases.find((y) => y.name === ph.name)!.ms))]));
        const target = cpus === 16 ? TARGETS[install][mib] : undefined;
        rows.push({
          suite: 'apply', case: `warm, ${install}, ${cpus} CPUs, ${mib} MiB`, value: down, unit: 'ms',
          target: target ? `< ${target} ms` : undefined, pass: target ? down < target : undefined,
          ...(target && down >= target ? { why: downtimeWhy(phases, mib) } : {}),
          extra: { install, phases, runs, workers: Math.min(cpus, hostCpus), samplesMs: reports.map((x) => Number(x.downtimeMs.toFixed(3))) },
        });
        await rm(mdir, { recursive: true, force: true });
      }
    }

    // Warm against cold: downtime and work lost (16 CPUs, 1 MiB).
    {
      const imgs = [await makeImage(dir, 1, 50), await makeImage(dir, 1, 51), await makeImage(dir, 1, 52), await makeImage(dir, 1, 53)];
      const res: Record<string, { down: number[]; lost: number[] }> = { warm: { down: [], lost: [] }, cold: { down: [], lost: [] } };
      const mdir = join(dir, 'm-wc');
      await machineInit(ctx, { dir: mdir, cpus: 16, flashBytes: 64 * MiB, trust: [], development: false, force: false });
      let i = 0;
      for (const mode of ['warm', 'cold', 'warm', 'cold'] as const) {
        await stage(ctx, imgs[i++]!, { target: `emu:${mdir}`, allowOlder: false, allowUnsigned: true, allowReinstall: false });
        const p = openPlatform(mdir, { writable: true });
        const { machine } = await powerOn(p, { hostCpus, knobs: { idleCpus: [], deafCpus: [] }, now: () => new Date(), warmupSteps: 2_000_000 });
        try {
          const rep = await applyUpdate(machine, p, { mode, kind: 'install', timeoutMs: 10_000, confirm: true, checkSteps: 10_000, now: () => new Date() });
          res[mode]!.down.push(rep.downtimeMs);
          res[mode]!.lost.push(rep.workLostSteps);
        } finally {
          await machine.stop();
          p.close();
        }
      }
      const w = median(res.warm!.down);
      const c = median(res.cold!.down);
      rows.push({
        suite: 'apply', case: 'warm vs cold, 16 CPUs, 1 MiB', value: w, unit: 'ms', baseline: { name: 'cold apply', value: c },
        ratio: w / c, ratioMeaning: 'of cold downtime',
        extra: { warmWorkLost: median(res.warm!.lost), coldWorkLostInstructions: median(res.cold!.lost) },
      });
    }

    // Rendezvous latency: our IPI rendezvous of busy CPUs on the pool against raw blocked threads.
    for (const cpus of [8, 64]) {
      const mdir = join(dir, `m-rv-${cpus}`);
      await machineInit(ctx, { dir: mdir, cpus, flashBytes: 64 * MiB, trust: [], development: false, force: false });
      const p = openPlatform(mdir, { writable: true });
      const { machine } = await powerOn(p, { hostCpus, knobs: { idleCpus: [], deafCpus: [] }, now: () => new Date() });
      const times: number[] = [];
      try {
        initSaveArea(machine.ram, RAM_SAVE_AREA_BASE, cpus);
        for (let r = 0; r < 41; r++) {
          const rv = machine.rendezvous(RAM_SAVE_AREA_BASE, 5000);
          if (r > 0) times.push(rv.totalMs);
          machine.continueHalted();
          machine.waitProgress(machine.steps());
        }
      } finally {
        await machine.stop();
        p.close();
      }
      const ours = median(times);
      const raw = await rawRendezvousMs(cpus);
      rows.push({
        suite: 'rendezvous', case: `${cpus} busy CPUs on ${Math.min(cpus, hostCpus)} worker threads`, value: ours, unit: 'ms',
        baseline: { name: `raw Atomics, ${cpus} blocked threads`, value: raw }, ratio: ours / raw, ratioMeaning: 'of raw',
        target: cpus === 64 ? '< 1 ms median' : undefined, pass: cpus === 64 ? ours < 1 : undefined,
        ...(cpus === 64 && ours >= 1 ? { why: `${cpus} plain threads blocked in Atomics.wait and woken the same way took ${raw.toFixed(2)} ms in this run; fwup's rendezvous ${(ours / raw).toFixed(2)}× of that.` } : {}),
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { rows, series };
}

/** A small SVG line plot: downtime (ms) against CPU count, one line per image size. */
export function downtimeSvg(series: Series[]): string {
  const W = 560, H = 320, L = 60, R = 20, T = 30, B = 50;
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p.cpus)))].sort((a, b) => a - b);
  const maxY = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p.downtimeMs))) * 1.1;
  const x = (c: number) => L + (xs.indexOf(c) / Math.max(1, xs.length - 1)) * (W - L - R);
  const y = (v: number) => H - B - (v / maxY) * (H - T - B);
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">fwup warm-apply downtime vs CPU count</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle">CPUs</text>`,
    `<text x="16" y="${H / 2}" transform="rotate(-90 16 ${H / 2})" text-anchor="middle">downtime (ms)</text>`,
  ];
  for (const c of xs) parts.push(`<text x="${x(c)}" y="${H - B + 16}" text-anchor="middle">${c}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (maxY / 4) * i;
    parts.push(`<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(0)}</text>`, `<line x1="${L}" y1="${y(v)}" x2="${W - R}" y2="${y(v)}" stroke="#eee"/>`);
  }
  series.forEach((s, i) => {
    const col = colors[i % colors.length];
    const pts = s.points.map((p) => `${x(p.cpus).toFixed(1)},${y(p.downtimeMs).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${col}" stroke-width="2"${s.install === "in-place" ? ' stroke-dasharray="6 3"' : ""} points="${pts}"/>`);
    for (const p of s.points) parts.push(`<circle cx="${x(p.cpus)}" cy="${y(p.downtimeMs)}" r="3" fill="${col}"/>`);
    parts.push(`<text x="${W - R - 150}" y="${T + 16 * (i + 1)}" fill="${col}">${s.mib} MiB image, ${s.install}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
