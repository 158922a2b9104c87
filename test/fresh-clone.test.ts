import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, tempDir } from './helpers/cli.js';
import { needs, program } from './helpers/requirements.js';

/**
 * A fresh clone, anywhere, with nothing beside it (no ../shared) and only Node on PATH, builds and
 * passes its unit suites: the suites that need a helper or the edk2 corpus skip and say why. The
 * clone borrows this checkout's node_modules (what `npm ci` would install) instead of the network.
 */

const SUITES = ['crc32', 'layout', 'nvram', 'fwup-format', 'exit-codes', 'completion', 'capsule-inspect', 'capsule-rules', 'capsule-pack', 'capsule-fixtures', 'flashrom'];

test('fresh clone: a clone in an empty directory, without ../shared, with only node on PATH, builds and passes the unit suites (helper suites skip with a reason)', async (t) => {
  if (process.env.FWUP_INSIDE_FRESH_CLONE === '1') {
    t.skip('this run is the fresh clone itself');
    return;
  }
  if (!needs(t, program('git', ['--version'], 'apt-get install git to test a fresh clone'))) return;
  if (!existsSync(join(REPO_ROOT, '.git'))) {
    needs(t, { ok: false, why: `${REPO_ROOT} is not a git checkout, so there is nothing to clone` });
    return;
  }
  const { dir, cleanup } = await tempDir('fwup-clone-');
  try {
    const clone = join(dir, 'fwup');
    const c = spawnSync('git', ['clone', '--quiet', '--no-hardlinks', REPO_ROOT, clone], { encoding: 'utf8' });
    assert.equal(c.status, 0, c.stderr);
    assert.ok(!existsSync(join(dir, 'shared')), 'nothing beside the clone');
    await symlink(join(REPO_ROOT, 'node_modules'), join(clone, 'node_modules'));
    // Only node on PATH: no flashrom, openssl, git or shell tools.
    const bin = join(dir, 'bin');
    await mkdir(bin);
    await symlink(process.execPath, join(bin, 'node'));
    const env: Record<string, string> = { PATH: bin, HOME: join(dir, 'home'), FWUP_INSIDE_FRESH_CLONE: '1' };
    const step = (args: string[]) => {
      const r = spawnSync(process.execPath, args, { cwd: clone, env, encoding: 'utf8', timeout: 600_000 });
      return { ...r, out: `${r.stdout}${r.stderr}` };
    };
    for (const args of [['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], ['scripts/bundle.mjs'], ['scripts/gen-man.mjs']]) {
      const r = step(args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.out}`);
    }
    const r = step(['--test', '--test-reporter=tap', ...SUITES.map((s) => `dist/test/${s}.test.js`)]);
    const failed = r.stdout.split('\n').flatMap((l, i, all) => (/^\s*not ok /.test(l) ? [all.slice(i, i + 12).join('\n')] : []));
    assert.equal(r.status, 0, failed.length ? failed.join('\n') : r.out.slice(-4000));
    const skipped = r.stdout.split('\n').filter((l) => / # SKIP /.test(l));
    assert.ok(skipped.length > 0, 'the flashrom and corpus suites skip here');
    for (const l of skipped) assert.match(l, /# SKIP .*(install|FWUP_EDK2_CORPUS|set )/, `a skip says how to enable it: ${l}`);
    assert.match(r.stdout, /^# fail 0$/m);
  } finally {
    await cleanup();
  }
});
