import { join } from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { readImageFile } from '../src/core/image-reader.js';
import { median, timeAsync, timeProcess, type BenchRow } from './harness.js';

const MiB = 1024 * 1024;

/**
 * SHA-256 of 16 MiB as fwup's verify path computes it (a raw payload through `readImageFile`: one pass
 * over one file descriptor, SHA-256 and CRC-32 over each chunk as it is read, in process) against
 * `openssl dgst -sha256` of the same file (a whole process), interleaved in the same run. A second row
 * takes openssl's start-up out (its run over an empty file) to compare the hashing alone.
 */
export async function verifyBench(runs = 15): Promise<BenchRow[]> {
  const probe = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  const label = 'SHA-256 of 16 MiB: fwup verify path (raw payload, in process) vs openssl dgst -sha256';
  if (probe.error || probe.status !== 0) return [{ suite: 'verify', case: label, value: NaN, unit: 'ms', skipped: 'openssl is not installed (apt-get install openssl)' }];
  const dir = await mkdtemp(join(tmpdir(), 'fwup-bench-verify-'));
  try {
    const file = join(dir, 'payload.bin');
    const empty = join(dir, 'empty.bin');
    const buf = Buffer.allocUnsafe(16 * MiB);
    for (let i = 0; i < buf.length; i += 4) buf.writeUInt32LE(Math.imul(i + 1, 2654435761) >>> 0, i);
    await writeFile(file, buf);
    await writeFile(empty, '');
    const raw = { version: '1', versionNumber: 1, platform: null, lowestSupportedVersion: 0, securityVersion: 0 };
    const fwup: number[] = [];
    const openssl: number[] = [];
    const start: number[] = [];
    let digest = '';
    for (let r = 0; r < runs + 2; r++) {
      const o = timeProcess('openssl', ['dgst', '-sha256', file], dir);
      const e = timeProcess('openssl', ['dgst', '-sha256', empty], dir);
      const f = await timeAsync(async () => {
        digest = (await readImageFile(file, { trust: { keys: null, certs: null }, raw })).fileSha256;
      });
      if (r < 2) continue; // page cache and JIT warm-up
      fwup.push(f);
      openssl.push(o);
      start.push(e);
    }
    const want = /([0-9a-f]{64})/.exec(spawnSync('openssl', ['dgst', '-sha256', file], { encoding: 'utf8' }).stdout)?.[1];
    if (digest !== want) throw new Error(`fwup's SHA-256 ${digest} is not openssl's ${want}`);
    const f = median(fwup);
    const o = median(openssl);
    const hashOnly = Math.max(0.01, o - median(start));
    return [
      {
        suite: 'verify', case: label, value: f, unit: 'ms', baseline: { name: 'openssl dgst -sha256 (whole process)', value: o },
        ratio: f / o, ratioMeaning: 'of openssl', extra: { runs, fwupMiBps: 16 / (f / 1000), openssl: probe.stdout.trim() },
      },
      {
        suite: 'verify', case: 'the same, against openssl\'s hashing alone (its run over an empty file subtracted)', value: f, unit: 'ms',
        baseline: { name: 'openssl dgst -sha256, less its start-up', value: hashOnly }, ratio: f / hashOnly, ratioMeaning: 'of openssl',
        extra: { runs, opensslStartMs: median(start), opensslMiBps: 16 / (hashOnly / 1000) },
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
