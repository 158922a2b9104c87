import { isAbsolute, resolve } from 'node:path';
import type { Exec } from '../targets/exec.js';
import type { AfterAction } from '../targets/plan.js';

/** Verbose and warning messages; the CLI decides where (stderr) and whether (--quiet) they appear. */
export interface Logger {
  verbose(message: string): void;
  warn(message: string): void;
  info(message: string): void;
}

export interface ProgressTask {
  /** `done` in the task's unit (bytes, steps); `text` replaces the label. */
  update(done: number, text?: string): void;
  succeed(text?: string): void;
  fail(text?: string): void;
}

export interface Progress {
  start(label: string, total?: number): ProgressTask;
}

/**
 * Everything the core needs from the world, built once by the CLI (or by a test, or by another program
 * that imports fwup as a library). The core never reads process.env or process.cwd().
 */
export interface Context {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now: () => Date;
  readonly log: Logger;
  readonly progress: Progress;
  /** Cores of the host, for sizing worker pools. */
  readonly hostCpus: number;
  /** Where downloads are cached ($XDG_CACHE_HOME/fwup or ~/.cache/fwup). */
  readonly cacheDir: string;
  /** How to run this fwup again (node and its script), e.g. to start a machine in the background. */
  readonly selfCommand: readonly string[];
  /** Where fwup keeps records for targets without storage of their own ($XDG_STATE_HOME/fwup or ~/.local/state/fwup). */
  readonly stateDir: string;
  /** --sysroot: where /sys, /dev, /proc and the ESP are looked up ("/" on a real system, a fixture tree in tests). */
  readonly sysroot: string;
  /** fwup runs as root (uid 0). */
  readonly isRoot: boolean;
  /** Runs helper programs; absent means the real one (execa). A test or an embedding program may inject its own. */
  readonly exec?: Exec;
  /** Called after every write or command a host target performs (tests: a crash sweep snapshots there). */
  readonly afterAction?: AfterAction;
  /** Aborted (reason 'SIGINT' or 'SIGTERM') when the user interrupts: the engine stops at the next safe point. */
  readonly signal?: AbortSignal;
  /** Standard input, for `-` in place of an image or payload file; absent where there is none. */
  readonly stdin?: AsyncIterable<Buffer | string> & { readonly isTTY?: boolean };
}

export function resolvePath(ctx: Pick<Context, 'cwd'>, p: string): string {
  return isAbsolute(p) ? p : resolve(ctx.cwd, p);
}

export const silentLogger: Logger = { verbose() {}, warn() {}, info() {} };

const noTask: ProgressTask = { update() {}, succeed() {}, fail() {} };
export const noProgress: Progress = { start: () => noTask };

/** A context for library use and tests: no output, fixed cwd. */
export function quietContext(cwd: string, env: Record<string, string | undefined> = {}): Context {
  return {
    cwd,
    env,
    now: () => new Date(),
    log: silentLogger,
    progress: noProgress,
    hostCpus: 2,
    cacheDir: resolve(cwd, '.fwup-cache'),
    stateDir: resolve(cwd, '.fwup-state'),
    selfCommand: [],
    sysroot: '/',
    isRoot: false,
  };
}
