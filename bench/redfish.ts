import { join } from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { quietContext } from '../src/core/context.js';
import { pack } from '../src/core/pack.js';
import { median, timeProcess, REPO_ROOT, type BenchRow } from './harness.js';

const MiB = 1024 * 1024;
const FWUP = join(REPO_ROOT, 'bin', 'fwup.js');

/**
 * A 16 MiB update of a live emulated machine through its Redfish BMC (fwup's client: multipart push with
 * @Redfish.OperationApplyTime Immediate, then apply's outcome check) against the same update through
 * `fwup stage` + `fwup apply --warm` on the same running machine: whole processes, alternated.
 */
export async function redfishBench(mib = 16, runs = 5): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'fwup-bench-redfish-'));
  const machine = join(dir, 'm');
  const env = { ...process.env, FWUP_REDFISH_USER: 'bench', FWUP_REDFISH_PASSWORD: 'bench-password-1', XDG_STATE_HOME: join(dir, 'state'), NO_COLOR: '1' };
  const run = (args: string[]) => {
    const r = spawnSync(process.execPath, [FWUP, ...args], { cwd: dir, env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`fwup ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  try {
    const ctx = quietContext(dir);
    const payload = join(dir, 'p.bin');
    const buf = Buffer.allocUnsafe(mib * MiB);
    for (let i = 0; i < buf.length; i += 4) buf.writeUInt32LE((i * 2654435761) >>> 0, i);
    run(['machine', 'init', machine, '--cpus', '4', '--flash-size', `${Math.max(64, mib * 4 + 4)}M`, '--development']);
    const url = (JSON.parse(run(['machine', 'start', '--target', `emu:${machine}`, '--redfish', '127.0.0.1:0', '--allow-unsigned', '--json'])) as { redfish: { url: string } }).redfish.url;
    const image = async (version: number) => {
      buf.writeUInt32LE(version, 0);
      await writeFile(payload, buf);
      const out = join(dir, `v${version}.fwup`);
      await pack(ctx, { payload, output: out, force: true, meta: { platform: 'fwup-emu', version: String(version), versionNumber: version, lowestSupportedVersion: 0, securityVersion: 0, flags: 0, description: null } });
      return out;
    };
    const local: number[] = [];
    const redfish: number[] = [];
    let v = 2;
    const rf = ['--target', `redfish:${url}`, '--allow-http'];
    for (let r = 0; r < runs; r++) {
      const a = await image(v++);
      local.push(timeProcess(process.execPath, [FWUP, 'stage', a, '--target', `emu:${machine}`, '--allow-unsigned'], dir, env) + timeProcess(process.execPath, [FWUP, 'apply', '--warm', '--target', `emu:${machine}`], dir, env));
      const b = await image(v++);
      redfish.push(timeProcess(process.execPath, [FWUP, 'stage', b, ...rf, '--apply-time', 'Immediate', '--allow-unsigned'], dir, env) + timeProcess(process.execPath, [FWUP, 'apply', '--warm', ...rf], dir, env));
    }
    run(['machine', 'stop', '--target', `emu:${machine}`]);
    const l = median(local);
    const f = median(redfish);
    return [{
      suite: 'redfish', case: `${mib} MiB update through Redfish (multipart push, Immediate, outcome check)`, value: f, unit: 'ms',
      baseline: { name: 'fwup stage + apply --warm on the same live machine', value: l }, ratio: f / l, ratioMeaning: 'of the local path',
      target: '≤ 2× the local path', pass: f / l <= 2, extra: { runs, localRuns: local, redfishRuns: redfish },
    }];
  } finally {
    spawnSync(process.execPath, [FWUP, 'machine', 'stop', '--target', `emu:${machine}`], { cwd: dir, env });
    await rm(dir, { recursive: true, force: true });
  }
}
