import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { SeededRandom } from '../../src/storage/fault-flash.js';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
export const FWUP_BIN = join(REPO_ROOT, 'bin', 'fwup.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the real `bin/fwup.js` as a user would, with a clean environment unless told otherwise. */
export function fwup(args: string[], opts: { cwd: string; env?: Record<string, string>; input?: string | Buffer; uid?: number; gid?: number }): Promise<RunResult> {
  return new Promise((done, fail) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...opts.env };
    const ids = opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid ?? opts.uid } : {};
    const child = spawn(process.execPath, [FWUP_BIN, ...args], { cwd: opts.cwd, env, stdio: ['pipe', 'pipe', 'pipe'], ...ids });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** Start the real `bin/fwup.js` in the background: the child (to signal it) and its result. */
export function fwupChild(args: string[], opts: { cwd: string; env?: Record<string, string> }): { child: ReturnType<typeof spawn>; done: Promise<RunResult> } {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...opts.env };
  const child = spawn(process.execPath, [FWUP_BIN, ...args], { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<RunResult>((ok, fail) => {
    child.on('error', fail);
    child.on('close', (code, signal) => ok({ code: code ?? (signal ? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : 2) : -1), stdout, stderr }));
  });
  return { child, done };
}

/** Wait until `check` holds (polling), or fail after `ms`. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function json<T = Record<string, unknown>>(r: RunResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

export async function tempDir(prefix = 'fwup-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** SHA-256 over every file's path and bytes under `dir`: "byte-identical afterwards" in one value. */
export async function hashTree(dir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (d: string, rel: string): Promise<void> => {
    const names = (await readdir(d)).sort();
    for (const n of names) {
      const p = join(d, n);
      const s = await stat(p);
      if (s.isDirectory()) await walk(p, `${rel}${n}/`);
      else if (s.isFile()) h.update(`${rel}${n}\0${s.mode & 0o777}\0`).update(await readFile(p));
    }
  };
  await walk(dir, '');
  return h.digest('hex');
}

/** Deterministic pseudo-random bytes, from the same seeded generator the fault wrapper uses. */
export function prngBytes(seed: number, n: number): Buffer {
  const r = new SeededRandom(seed || 0x9e3779b9);
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = r.next() & 0xff;
  return out;
}

/** A seeded random source for tests: SeededRandom with the names tests read best. */
export class Rng extends SeededRandom {
  int(n: number): number {
    return this.below(n);
  }
}

/** XOR one byte in place (a typed helper: indexed access is `number | undefined` under strict settings). */
export function xorByte(buf: Buffer, at: number, mask: number): Buffer {
  buf.writeUInt8(buf.readUInt8(at) ^ mask, at);
  return buf;
}
