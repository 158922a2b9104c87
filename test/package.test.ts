import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, json, tempDir } from './helpers/cli.js';
import { needs, program, requireAll } from './helpers/requirements.js';

/**
 * The installable package: `npm pack` ships the built CLI and its man page, and the tarball installed
 * into an empty prefix gives a working `fwup` with no install-time script (the same as npm install -g).
 * `npm test` has just built dist/, so the pack skips prepack's rebuild (other suites run from dist/).
 */

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('package: npm pack ships bin, the bundle and the man page; installed into a prefix (and through npx), fwup runs: --version, stage and a warm apply', async (t) => {
  if (!needs(t, program('npm', ['--version'], 'npm (it comes with Node) is needed to pack and install the package'))) return;
  const { dir, cleanup } = await tempDir('fwup-pkg-');
  try {
    const packed = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], REPO_ROOT);
    assert.equal(packed.status, 0, packed.stderr);
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = info!.files.map((f) => f.path);
    for (const f of ['bin/fwup.js', 'dist/bundle/cli/main.js', 'dist/bundle/cli/cpu-worker.js', 'man/fwup.1', 'README.md']) assert.ok(files.includes(f), `the tarball has ${f}`);
    assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('dist/test/') || f.endsWith('.v8cache')), `only what runs: ${files.join(', ')}`);

    // The dependencies come from npm's cache (npm ci filled it) or the registry.
    const prefix = join(dir, 'prefix');
    const installed = run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, info!.filename)], dir);
    if (installed.status !== 0 && /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH|offline/.test(installed.stderr) && !requireAll()) {
      needs(t, { ok: false, why: `npm could not fetch the dependencies (no registry, nothing cached): ${installed.stderr.split('\n')[0]}` });
      return;
    }
    assert.equal(installed.status, 0, installed.stderr);
    const bin = join(prefix, 'bin', 'fwup');
    assert.ok(existsSync(bin), 'npm linked the binary');
    assert.ok(existsSync(join(prefix, 'share', 'man', 'man1', 'fwup.1')), 'npm installed the man page');
    const lib = join(prefix, 'lib', 'node_modules', 'fwup');
    assert.deepEqual((await readdir(lib)).filter((n) => n === 'src' || n === 'test'), [], 'no sources installed');

    const home = join(dir, 'home');
    const env = { HOME: home, XDG_STATE_HOME: join(home, 'state'), XDG_CACHE_HOME: join(home, 'cache') };
    const version = run(bin, ['--version', '--json'], dir, env);
    assert.equal(version.status, 0, version.stderr);
    assert.equal(json<{ version: string }>({ code: 0, stdout: version.stdout, stderr: '' }).version, '0.1.0');
    // npx runs the tarball the same way (its own install, in npm's cache).
    const npx = run('npm', ['exec', '--yes', '--prefer-offline', '--package', join(dir, info!.filename), '--', 'fwup', '--version'], dir, { HOME: process.env.HOME ?? home });
    assert.equal(npx.status, 0, npx.stderr);
    assert.equal(npx.stdout, '0.1.0\n');
    const steps: string[][] = [
      ['machine', 'init', 'm', '--cpus', '4', '--flash-size', '2M'],
      ['stage', join(REPO_ROOT, 'fixtures', 'images', 'fw-2.0.0-unsigned.fwup'), '--target', 'emu:m', '--allow-unsigned'],
      ['apply', '--warm', '--target', 'emu:m', '--json'],
    ];
    let last = '';
    for (const args of steps) {
      const r = run(bin, args, dir, env);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      last = r.stdout;
    }
    assert.equal(json<{ report: { after: { version: string } } }>({ code: 0, stdout: last, stderr: '' }).report.after.version, '2.0.0');
  } finally {
    await cleanup();
  }
});
