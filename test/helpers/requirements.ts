import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { REPO_ROOT } from './cli.js';

/**
 * Suites that need something beyond Node (a helper program, the external edk2 capsule corpus) run
 * when it is there and are skipped otherwise, saying why and how to enable them. CI sets
 * FWUP_TEST_REQUIRE_ALL=1: there a missing requirement fails the test instead of skipping it.
 */
export interface Requirement {
  ok: boolean;
  /** Why it is missing and what to do about it. */
  why: string;
}

export function requireAll(): boolean {
  return process.env.FWUP_TEST_REQUIRE_ALL === '1';
}

/** Skip (or, under FWUP_TEST_REQUIRE_ALL, fail) the test when the requirement is missing; true = go on. */
export function needs(t: TestContext, r: Requirement): boolean {
  if (r.ok) return true;
  if (requireAll()) throw new Error(`required by FWUP_TEST_REQUIRE_ALL: ${r.why}`);
  t.skip(r.why);
  return false;
}

const cache = new Map<string, Requirement>();

export function program(name: string, args: string[], how: string): Requirement {
  const key = `${name} ${args.join(' ')}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const r = spawnSync(name, args, { encoding: 'utf8' });
  const ok = !r.error && r.status === 0;
  const req = { ok, why: ok ? '' : `${name} is not installed or does not run (${r.error?.message ?? `exit ${r.status}`}): ${how}` };
  cache.set(key, req);
  return req;
}

export const FLASHROM = () => program('flashrom', ['--version'], 'apt-get install flashrom to run the flashrom suites (.ci/run installs it)');
export const OPENSSL = () => program('openssl', ['version'], 'apt-get install openssl to cross-check signatures with openssl');
export const MKFIFO = () => program('mkfifo', ['--version'], 'apt-get install coreutils (mkfifo) to test a capsule loader that is a FIFO');
export const JCAT_TOOL = () => program('jcat-tool', ['--version'], 'apt-get install jcat to make Jcat catalogs with jcat-tool (.ci/run installs it)');
export const GCAB = () => program('gcab', ['--version'], 'apt-get install gcab to cross-check cabinets with gcab (.ci/run installs it)');

/** The edk2 capsule corpus: FWUP_EDK2_CORPUS, default ../shared/fixtures/edk2-capsules beside the clone. */
export function edk2CorpusDir(): string {
  return resolve(process.env.FWUP_EDK2_CORPUS ?? join(REPO_ROOT, '..', 'shared', 'fixtures', 'edk2-capsules'));
}

export const EDK2_CORPUS = (): Requirement => {
  const dir = edk2CorpusDir();
  const ok = existsSync(join(dir, 'manifest.json'));
  return { ok, why: ok ? '' : `the edk2 capsule corpus is not at ${dir}: set FWUP_EDK2_CORPUS to its folder (CI lays ../shared/fixtures/edk2-capsules beside the clone)` };
};

/** Debian's python3 (not a pyenv one on PATH): the Python clients below are Debian packages. */
export const DEBIAN_PYTHON = '/usr/bin/python3';
export const SUSHY = () => program(DEBIAN_PYTHON, ['-c', 'import sushy'], 'apt-get install python3-sushy to drive the emulated BMC with OpenStack sushy (.ci/run installs it)');
export const ANSIBLE = () => program('ansible-playbook', ['--version'], 'apt-get install ansible to drive the emulated BMC with community.general redfish modules (.ci/run installs it)');
export const REDFISHTOOL = () => program('redfishtool', ['-h'], 'apt-get install redfishtool to read and reset the emulated BMC with DMTF redfishtool (.ci/run installs it)');
export const FWUPDTOOL = () => program('fwupdtool', ['--version'], 'apt-get install fwupd to list the emulated BMC with fwupd\'s redfish plugin (.ci/run installs it)');

/** fwupd's signed UEFI helper as Debian ships it (fwupd-amd64-signed): the uefi target's fallback delivery copies it. */
export const FWUPD_EFI_HELPER = '/usr/libexec/fwupd/efi/fwupdx64.efi.signed';
export const FWUPD_EFI = (): Requirement => {
  const ok = existsSync(FWUPD_EFI_HELPER);
  return { ok, why: ok ? '' : `${FWUPD_EFI_HELPER} is missing: apt-get install fwupd-amd64-signed to test the fwupd-efi fallback with fwupd's real helper (.ci/run installs it)` };
};

/** ansible-test (ansible-core's) and the Debian packages of the tools its sanity tests run, seen by Debian's python. */
export const ANSIBLE_TEST = () => program('ansible-test', ['--version'], 'apt-get install ansible (ansible-core ships ansible-test) to run the collection\'s sanity tests (.ci/run installs it)');
const pythonModule = (mod: string, pkg: string, what: string) =>
  program(DEBIAN_PYTHON, ['-c', `import ${mod}`], `apt-get install ${pkg} to run ansible-test sanity's ${what} test (.ci/run installs it)`);
export const PYCODESTYLE = () => pythonModule('pycodestyle', 'python3-pycodestyle', 'pep8');
export const YAMLLINT = () => pythonModule('yamllint', 'yamllint', 'yamllint');
export const PYLINT = () => pythonModule('pylint', 'pylint', 'pylint');
export const VOLUPTUOUS = () => pythonModule('voluptuous', 'python3-voluptuous', 'validate-modules and runtime-metadata');
export const GIT = () => program('git', ['--version'], 'apt-get install git (.ci/run installs it)');

/** Mounting a small tmpfs (a real full file system for the ESP tests): root and mount(8) are needed. */
export const TMPFS_MOUNT = (): Requirement => {
  const key = 'tmpfs-mount';
  const hit = cache.get(key);
  if (hit) return hit;
  const dir = join(tmpdir(), `fwup-tmpfs-probe-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { encoding: 'utf8' });
  const ok = !m.error && m.status === 0;
  if (ok) spawnSync('umount', [dir]);
  rmSync(dir, { recursive: true, force: true });
  const req = { ok, why: ok ? '' : `cannot mount a tmpfs (${m.error?.message ?? m.stderr?.trim() ?? `exit ${m.status}`}): the ESP free-space tests need root and mount(8) (CI runs as root)` };
  cache.set(key, req);
  return req;
};
