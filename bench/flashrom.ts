import { join } from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { median, timeProcess, REPO_ROOT, type BenchRow } from './harness.js';

const MiB = 1024 * 1024;

/**
 * Writing a 16 MiB image, whole process against whole process, in the same run: fwup's emulated
 * `stage` (`node bin/fwup.js stage IMAGE --version 2 --allow-unsigned --target emu:DIR`: verify, erase
 * and program STAGING, read back, write the request) against flashrom's dummy programmer writing the
 * same size to an emulated W25Q128FV (`flashrom -p dummy:emulate=W25Q128FV,image=CHIP -w IMAGE`, which
 * reads, erases, writes and verifies). Every run writes fresh bytes so neither side can skip blocks.
 */
export async function flashromBench(runs = 5): Promise<BenchRow[]> {
  const probe = spawnSync('flashrom', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new Error('the flashrom benchmark needs flashrom: apt-get install flashrom');
  const dir = await mkdtemp(join(tmpdir(), 'fwup-bench-flashrom-'));
  try {
    const bin = join(REPO_ROOT, 'bin', 'fwup.js');
    const env = { PATH: process.env.PATH ?? '', HOME: dir };
    const machine = join(dir, 'm');
    const init = spawnSync(process.execPath, [bin, 'machine', 'init', machine, '--cpus', '1'], { cwd: dir, env });
    if (init.status !== 0) throw new Error(`machine init failed: ${init.stderr}`);
    const image = join(dir, 'image.bin');
    const chip = join(dir, 'chip.bin');
    const buf = Buffer.allocUnsafe(16 * MiB);
    const fill = (seed: number) => {
      for (let i = 0; i < buf.length; i += 4) buf.writeUInt32LE((Math.imul(i + 1, 2654435761) ^ seed) >>> 0, i);
    };
    fill(0xffffffff);
    await writeFile(chip, buf);
    const fwupTimes: number[] = [];
    const flashromTimes: number[] = [];
    for (let r = 0; r < runs + 1; r++) {
      fill(r * 7919 + 1);
      await writeFile(image, buf);
      const f = timeProcess(process.execPath, [bin, 'stage', image, '--version', '2', '--allow-unsigned', '--target', `emu:${machine}`], dir, env);
      const g = timeProcess('flashrom', ['-p', `dummy:emulate=W25Q128FV,image=${chip}`, '-w', image], dir, env);
      if (r === 0) continue; // the first round warms the page cache and both programs' files
      fwupTimes.push(f);
      flashromTimes.push(g);
    }
    const f = median(fwupTimes);
    const g = median(flashromTimes);
    return [
      {
        suite: 'flashrom',
        case: '16 MiB image written: fwup emulated stage vs flashrom dummy W25Q128FV (whole processes)',
        value: f,
        unit: 'ms',
        baseline: { name: 'flashrom -p dummy -w', value: g },
        ratio: g / f,
        ratioMeaning: 'faster than flashrom',
        target: '≥ 10×',
        pass: g / f >= 10,
        extra: { runs, fwupMs: fwupTimes, flashromMs: flashromTimes },
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
