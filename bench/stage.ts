import { join } from 'node:path';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { quietContext } from '../src/core/context.js';
import { pack } from '../src/core/pack.js';
import { machineInit } from '../src/core/machine-init.js';
import { stage } from '../src/core/stage.js';
import { unstage } from '../src/core/status.js';
import { median, timeAsync, timeProcess, type BenchRow } from './harness.js';

const MiB = 1024 * 1024;

/**
 * Stage throughput in-process against `dd if=IMAGE of=FILE bs=1M conv=fsync` on the same disk, for 1, 16
 * and 64 MiB images; plus re-staging an unchanged image (after unstage), which should write nothing.
 */
export async function stageBench(sizesMiB = [1, 16, 64], runs = 5): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'fwup-bench-stage-'));
  const rows: BenchRow[] = [];
  try {
    const ctx = quietContext(dir);
    for (const mib of sizesMiB) {
      const payload = join(dir, `p${mib}.bin`);
      const buf = Buffer.allocUnsafe(mib * MiB);
      for (let i = 0; i < buf.length; i += 4) buf.writeUInt32LE((i * 2654435761) >>> 0, i);
      await writeFile(payload, buf);
      const image = join(dir, `i${mib}.fwup`);
      await pack(ctx, {
        payload, output: image, force: true,
        meta: { platform: 'fwup-emu', version: '2', versionNumber: 2, lowestSupportedVersion: 0, securityVersion: 0, flags: 0, description: null },
      });
      const flashBytes = Math.max(64, 2 ** Math.ceil(Math.log2(mib * 4 + 2))) * MiB;
      const target = `emu:${join(dir, `m${mib}`)}`;
      await machineInit(ctx, { target, flashBytes, trust: [], development: false, force: false, cpus: 1 });
      const opts = { target, allowOlder: false, allowUnsigned: true, allowReinstall: false };
      const fwupTimes: number[] = [];
      const ddTimes: number[] = [];
      const restage: number[] = [];
      for (let r = 0; r < runs; r++) {
        // Fresh content each run (a different payload byte) so every block must really be written.
        const bytes = await readFile(payload);
        bytes.writeUInt8(r, 0);
        await writeFile(payload, bytes);
        await pack(ctx, {
          payload, output: image, force: true,
          meta: { platform: 'fwup-emu', version: '2', versionNumber: 2, lowestSupportedVersion: 0, securityVersion: 0, flags: 0, description: null },
        });
        ddTimes.push(timeProcess('dd', [`if=${image}`, `of=${join(dir, 'dd.out')}`, 'bs=1M', 'conv=fsync'], dir));
        fwupTimes.push(await timeAsync(() => stage(ctx, image, opts)));
        await unstage(ctx, { target });
        restage.push(await timeAsync(() => stage(ctx, image, opts)));
        await unstage(ctx, { target });
      }
      const size = mib * MiB;
      const f = median(fwupTimes);
      const d = median(ddTimes);
      rows.push({
        suite: 'stage', case: `${mib} MiB image (verify, program, read-back)`, value: f, unit: 'ms',
        baseline: { name: 'dd conv=fsync', value: d }, ratio: f / d, ratioMeaning: 'of dd',
        target: mib === 16 ? '≤ 3× dd' : undefined, pass: mib === 16 ? f / d <= 3 : undefined,
        extra: { fwupMiBps: size / MiB / (f / 1000), ddMiBps: size / MiB / (d / 1000), runs },
      });
      const u = median(restage);
      rows.push({
        suite: 'stage', case: `${mib} MiB unchanged re-stage`, value: u, unit: 'ms',
        baseline: { name: 'first stage', value: f }, ratio: u / f, ratioMeaning: 'of a full stage',
        extra: { MiBps: size / MiB / (u / 1000) },
      });
      spawnSync('rm', ['-rf', join(dir, `m${mib}`)]);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
