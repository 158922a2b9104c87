import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, REPO_ROOT } from './helpers/cli.js';
import { runInProcess } from './helpers/in-process.js';
import { testSize } from './helpers/mutate.js';
import { EXIT } from '../src/errors/exit-codes.js';
import { openPlatform } from '../src/machine/platform.js';
import { activeImage } from './helpers/memory-platform.js';

const FIX = join(REPO_ROOT, 'fixtures');
const SIGNED = join(FIX, 'images', 'fw-2.0.0-signed.fwup');
const KEY = join(FIX, 'keys', 'test-release.pub');

/** What a machine looks like after the recovery boot: the active slot verifies; its version; NVRAM parses. */
function inspectMachine(dir: string): { version: string; staged: boolean } {
  const p = openPlatform(dir, { writable: false });
  try {
    const a = activeImage(p);
    assert.ok(a.verified, 'the active slot verifies');
    p.services.history();
    return { version: a.version ?? '?', staged: a.staged };
  } finally {
    p.close();
  }
}

type Scenario = { name: string; staged: boolean; args: string[] };
const SCENARIOS: Scenario[] = [
  { name: 'stage', staged: false, args: ['stage', SIGNED] },
  { name: 'apply --warm', staged: true, args: ['apply', '--warm'] },
  { name: 'apply --cold', staged: true, args: ['apply', '--cold'] },
];

for (const sc of SCENARIOS) {
  test(`power-cut sweep: ${sc.name} of a signed image, cut before every flash operation and torn at every one`, async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const template = join(dir, 'template');
      let r = await runInProcess(['machine', 'init', template, '--cpus', '2', '--flash-size', '2M', '--trust', KEY], dir);
      assert.equal(r.code, 0, r.stderr);
      if (sc.staged) assert.equal((await runInProcess(['stage', SIGNED, '--target', `emu:${template}`], dir)).code, 0);
      const seeds = testSize(1, 3);
      const plans: string[][] = [['powercut'], ...Array.from({ length: seeds }, (_, i) => ['torn', `seed:${1000 + i}`])];
      let points = 0;
      let bricked = 0;
      const outcomes = new Map<string, number>();
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
            // The next command performs the recovery boot.
            const boot = await runInProcess(['machine', 'boot', '--target', target, '--json'], dir);
            if (boot.code !== 0) {
              bricked++;
              assert.fail(`${sc.name} ${fault}: recovery boot failed: ${boot.stdout}`);
            }
            const after = inspectMachine(m);
            assert.ok(after.version === '1' || after.version === '2.0.0', `${sc.name} ${fault}: version ${after.version}`);
            outcomes.set(after.version, (outcomes.get(after.version) ?? 0) + 1);
            // A repeated stage/apply then succeeds.
            if (after.version === '1') {
              if (!after.staged) {
                const st = await runInProcess(['stage', SIGNED, '--target', target], dir);
                assert.equal(st.code, 0, `${sc.name} ${fault}: re-stage: ${st.stderr}`);
              }
              if (sc.name !== 'stage') {
                const ap = await runInProcess([...sc.args, '--target', target], dir);
                assert.equal(ap.code, 0, `${sc.name} ${fault}: re-apply: ${ap.stdout}${ap.stderr}`);
                assert.equal(inspectMachine(m).version, '2.0.0');
              }
            }
          }
          await rm(m, { recursive: true, force: true });
          assert.ok(k < 500, 'the command ends');
        }
      }
      console.log(`power-cut sweep ${sc.name}: ${points} cut points (power cut and torn, ${seeds} seed${seeds > 1 ? 's' : ''}), versions after recovery ${JSON.stringify(Object.fromEntries(outcomes))}, bricked ${bricked}`);
      assert.equal(bricked, 0);
      assert.ok(points >= 6);
    } finally {
      await cleanup();
    }
  });
}

