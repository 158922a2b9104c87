import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, REPO_ROOT } from './helpers/cli.js';
import { runInProcess } from './helpers/in-process.js';
import { testSize } from './helpers/mutate.js';
import { EXIT } from '../src/errors/exit-codes.js';
import { openPlatform } from '../src/machine/platform.js';
import { activeImage } from './helpers/memory-platform.js';
import { STRATEGIES } from './helpers/strategies.js';
import type { InstallStrategy } from '../src/storage/key-store.js';

const FIX = join(REPO_ROOT, 'fixtures');
const SIGNED = join(FIX, 'images', 'fw-2.0.0-signed.fwup');
const KEY = join(FIX, 'keys', 'test-release.pub');

/** What a machine looks like after the recovery boot: the active slot verifies; its version; NVRAM parses. */
function inspectMachine(dir: string): { version: string; staged: boolean } {
  const p = openPlatform(dir, { writable: false });
  try {
    const a = activeImage(p);
    if (!a.verified) throw new Error(`the active slot ${a.slot} does not verify`);
    p.services.history();
    return { version: a.version ?? '?', staged: a.staged };
  } finally {
    p.close();
  }
}

interface Scenario {
  name: string;
  /** Prepare the template machine after init (the state the command starts from). */
  setup: string[][];
  args: string[];
  /** Versions a machine may hold after a cut (old or new). */
  versions: string[];
  /** The command to repeat after the recovery boot, when the machine is still at `repeatFrom`. */
  repeatFrom: string;
}

const SCENARIOS: Scenario[] = [
  { name: 'stage', setup: [], args: ['stage', SIGNED], versions: ['1'], repeatFrom: '1' },
  { name: 'apply --warm', setup: [['stage', SIGNED]], args: ['apply', '--warm'], versions: ['1', '2.0.0'], repeatFrom: '1' },
  { name: 'apply --cold', setup: [['stage', SIGNED]], args: ['apply', '--cold'], versions: ['1', '2.0.0'], repeatFrom: '1' },
  // 2.0.0 with security version 0, installed and confirmed: a rollback to the factory 1 is allowed.
  {
    name: 'rollback',
    setup: [['pack', join(FIX, 'payloads', 'fw-2.0.0.bin'), '-o', 'svn0.fwup', '--version', '2.0.0', '--svn', '0', '--sign', join(FIX, 'keys', 'test-release.key'), '--force'], ['stage', 'svn0.fwup'], ['apply', '--warm']],
    args: ['rollback'], versions: ['1', '2.0.0'], repeatFrom: '__never__',
  },
  { name: 'unstage', setup: [['stage', SIGNED]], args: ['unstage'], versions: ['1'], repeatFrom: '__never__' },
];

/**
 * Cut the power before every flash operation of a command, and tear every one with several seeds;
 * after each cut the recovery boot must leave a machine that boots a verifying slot of an allowed
 * version, and the command must then succeed. Returns the counts (a brick is counted, not thrown, so
 * the count the test checks is the real one); `sabotage` plants damage after the cut (a meta test).
 */
async function sweep(dir: string, sc: Scenario, install: InstallStrategy, sabotage?: (machineDir: string) => Promise<void>): Promise<{ points: number; bricked: number; outcomes: Record<string, number> }> {
  const template = join(dir, `template-${sc.name.replace(/\W+/g, '')}-${install}`);
  let r = await runInProcess(['machine', 'init', template, '--cpus', '2', '--flash-size', '2M', '--trust', KEY, '--install', install], dir);
  assert.equal(r.code, 0, r.stderr);
  for (const s of sc.setup) {
    const args = s[0] === 'pack' ? s : [...s, '--target', `emu:${template}`];
    assert.equal((r = await runInProcess(args, dir)).code, 0, `${s.join(' ')}: ${r.stdout}${r.stderr}`);
  }
  const seeds = sabotage ? 1 : testSize(1, 3);
  const plans: string[][] = [['powercut'], ...Array.from({ length: seeds }, (_, i) => ['torn', `seed:${1000 + i}`])];
  let points = 0;
  let bricked = 0;
  const outcomes: Record<string, number> = {};
  for (const [kind, seed] of plans) {
    let completed = false;
    for (let k = 1; !completed; k++) {
      const m = join(dir, `m-${kind}-${k}`);
      await cp(template, m, { recursive: true });
      const target = `emu:${m}`;
      const fault = [`${kind}:${k}`, ...(seed ? [seed] : [])].join(',');
      r = await runInProcess([...sc.args, '--target', target, '--json'], dir, { FWUP_FAULT: fault });
      if (r.code === 0) {
        completed = true; // k is past the last flash operation: the command ran whole
      } else {
        assert.equal(r.code, EXIT.POWER_CUT, `${sc.name} ${fault}: ${r.stdout}`);
        points++;
        if (sabotage) await sabotage(m);
        try {
          const boot = await runInProcess(['machine', 'boot', '--target', target, '--json'], dir);
          if (boot.code !== 0) throw new Error(`recovery boot failed: ${boot.stdout}`);
          const after = inspectMachine(m);
          if (!sc.versions.includes(after.version)) throw new Error(`version ${after.version} after recovery`);
          outcomes[after.version] = (outcomes[after.version] ?? 0) + 1;
          if (after.version === sc.repeatFrom) {
            if (!after.staged) assert.equal((await runInProcess(['stage', SIGNED, '--target', target], dir)).code, 0, `${fault}: re-stage`);
            if (sc.name !== 'stage') {
              const again = await runInProcess([...sc.args, '--target', target], dir);
              if (again.code !== 0) throw new Error(`repeat failed: ${again.stdout}${again.stderr}`);
              if (inspectMachine(m).version !== '2.0.0') throw new Error('the repeated apply did not install');
            }
          }
        } catch (e) {
          bricked++;
          if (!sabotage) console.log(`${sc.name} ${fault}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      await rm(m, { recursive: true, force: true });
      assert.ok(k < 500, 'the command ends');
    }
  }
  return { points, bricked, outcomes };
}

for (const install of STRATEGIES) for (const sc of SCENARIOS) {
  test(`power-cut sweep: ${sc.name} of a signed image, cut before every flash operation and torn at every one [${install}]`, async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const r = await sweep(dir, sc, install);
      console.log(`power-cut sweep ${sc.name} [${install}]: ${r.points} cut points, versions after recovery ${JSON.stringify(r.outcomes)}, bricked ${r.bricked}`);
      assert.equal(r.bricked, 0);
      assert.ok(r.points >= 2, `${r.points} cut points`);
    } finally {
      await cleanup();
    }
  });
}

test('power-cut sweep: the sweep can fail: a machine damaged beyond recovery after each cut is counted as bricked', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    // Two faults at once (both slots and the recovery copy erased): no single-fault recovery can help.
    const brick = async (m: string) => {
      const p = openPlatform(m, { writable: false });
      const regions = [p.map.SLOT_A, p.map.SLOT_B, p.map.RECOVERY];
      p.close();
      const { open } = await import('node:fs/promises');
      const fh = await open(join(m, 'flash.img'), 'r+');
      for (const r of regions) await fh.write(Buffer.alloc(4096, 0xff), 0, 4096, r.offset);
      await fh.close();
    };
    const r = await sweep(dir, SCENARIOS[1]!, 'copy', brick);
    assert.ok(r.points > 0);
    assert.equal(r.bricked, r.points, 'every planted brick is counted');
    await writeFile(join(dir, 'ok'), '');
  } finally {
    await cleanup();
  }
});
