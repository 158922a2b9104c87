import { fstatSync } from 'node:fs';
import { availableParallelism as osAvailableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { EXIT, EXIT_MEANINGS, type ExitCode } from '../errors/exit-codes.js';
import { exitCodeFor } from '../errors/codes.js';
import { FwupError } from '../errors/fwup-error.js';
import type { Context, Logger } from '../core/context.js';
import type { Exec } from '../targets/exec.js';
import { noProgress } from '../core/context.js';
import { ENVIRONMENT } from './environment.js';
import { COMMANDS, GLOBAL_OPTIONS, type CommandSpec } from './command-table.js';
import type { GlobalOptions, Outcome } from './outcome.js';
import { makeStyle, plainStyle, type Style } from './style.js';
import { escapeText, sanitizeOutput } from '../util/text.js';

export { VERSION } from './version.js';
import { VERSION } from './version.js';

/** A terminal-like stream: process.stdout, or a capture in tests. */
export interface OutStream {
  write(s: string): unknown;
  isTTY?: boolean;
  /** The stream behind it, where this wraps one: a terminal progress display draws on it. */
  readonly stream?: NodeJS.WriteStream;
}

export interface Io {
  argv: string[];
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  stdout: OutStream;
  stderr: OutStream;
  /** node and the script that started this CLI, to run it again in the background. */
  selfCommand?: string[];
  /** The process's user id (0 = root); absent or negative where unknown. */
  uid?: number;
  /** Runs helper programs instead of execa: tests inject a recorder where a real program must not run. */
  exec?: Exec;
  /** Aborted with reason 'SIGINT' or 'SIGTERM' when the user interrupts; the engine stops at a safe point. */
  signal?: AbortSignal;
  /** Standard input: read only by a command given `-` for a file. */
  stdin?: AsyncIterable<Buffer | string> & { readonly isTTY?: boolean };
}

function exitCodeHelp(): string {
  const rows = EXIT_MEANINGS.map(([code, name, meaning]) => `  ${String(code).padStart(3)}  ${name.padEnd(14)} ${meaning}`);
  const env = ENVIRONMENT.map(([name, meaning]) => `  ${name.padEnd(20)} ${meaning}`);
  return `\nExit codes:\n${rows.join('\n')}\n\nEnvironment:\n${env.join('\n')}\n\nA file argument of - reads standard input. Shell completion: fwup completion bash|zsh|fish; manual: man fwup\n`;
}

/**
 * The commands worth declaring to commander for this command line: only the one named (every start
 * pays for each declared option), all of them for --help or an unknown command, none for --version.
 */
function commandsFor(argv: readonly string[]): readonly CommandSpec[] {
  if (argv.includes('-h') || argv.includes('--help') || argv.includes('help')) return COMMANDS;
  const words = new Set(COMMANDS.map((c) => c.name.split(' ')[0]!));
  const named = argv.find((a) => words.has(a));
  if (named) return COMMANDS.filter((c) => c.name.split(' ')[0] === named);
  if (argv.length === 1 && (argv[0] === '-V' || argv[0] === '--version')) return [];
  return COMMANDS;
}

/** '' for `fwup` with no command, the group's name for `fwup machine` alone, null otherwise. */
function bareGroup(argv: readonly string[]): string | null {
  // The global switches name no command: `fwup --json` alone is still a bare `fwup`.
  const switches = new Set(GLOBAL_OPTIONS.filter((o) => !o.flags.includes('<')).flatMap((o) => o.flags.split(', ')));
  const words = argv.filter((a) => !switches.has(a));
  if (words.length === 0) return '';
  const groups = new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!));
  if (words.length === 1 && groups.has(words[0]!)) return words[0]!;
  return null;
}

function wantsJson(argv: string[]): boolean {
  return argv.includes('--json');
}

/** The CLI: parse, build one Context, run the command, render, and turn the result into an exit code. */
export async function main(io: Io): Promise<ExitCode> {
  const { Command, CommanderError, Option } = await import('commander');
  let outcome: { outcome: Outcome; global: GlobalOptions } | null = null;

  // Global options are declared on the program and again on every command, with positional options:
  // `fwup --json inspect x` and `fwup inspect x --json` both work, and `pack --version 1.2` stays pack's.
  const addGlobals = (cmd: InstanceType<typeof Command>) => {
    for (const o of GLOBAL_OPTIONS) cmd.addOption(new Option(o.flags, o.description));
    return cmd;
  };

  const program = addGlobals(
    new Command('fwup')
      .description('Update the firmware of a multiprocessor machine without a full reboot.')
      .version(VERSION, '-V, --version', 'print the fwup version')
      .enablePositionalOptions(),
  )
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: () => {}, // reported by our own handler below, as text or JSON
    })
    .addHelpText('after', exitCodeHelp());

  const groups = new Map<string, InstanceType<typeof Command>>();
  for (const spec of commandsFor(io.argv)) {
    const words = spec.name.split(' ');
    let parent = program;
    if (words.length === 2) {
      const g = words[0]!;
      if (!groups.has(g)) groups.set(g, addGlobals(program.command(g).description(`${g} commands`).enablePositionalOptions()).exitOverride());
      parent = groups.get(g)!;
    }
    const cmd = addGlobals(parent.command(`${words[words.length - 1]} ${spec.args}`.trim()).description(spec.summary)).exitOverride();
    for (const o of spec.options) {
      const opt = new Option(o.flags, o.description);
      if (o.repeatable) opt.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]).default([]);
      else if (o.default !== undefined) opt.default(o.default);
      cmd.addOption(opt);
    }
    if (spec.examples.length) cmd.addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  $ ${e}`).join('\n')}\n`);
    cmd.action(async (...params: unknown[]) => {
      const self = params[params.length - 1] as InstanceType<typeof Command>;
      const args = self.args.slice(0, self.registeredArguments.length);
      const flag = (name: string): unknown => globalValue(self, name);
      const targetFlag = flag('target');
      const json = Boolean(flag('json'));
      const global: GlobalOptions = {
        json,
        quiet: Boolean(flag('quiet')),
        verbose: Boolean(flag('verbose')),
        color: flag('color') !== false && !io.env.NO_COLOR && Boolean(io.stdout.isTTY) && !json,
        target: typeof targetFlag === 'string' ? targetFlag : io.env.FWUP_TARGET || undefined,
      };
      const sysroot = flag('sysroot');
      if (typeof sysroot === 'string') global.sysroot = sysroot;
      const mod = await spec.load();
      const ctx = makeContext(io, global);
      const action = mod[spec.action ?? 'run']!;
      outcome = { outcome: await action(ctx, args, self.opts(), global), global };
    });
  }

  const json = wantsJson(io.argv);
  const bare = bareGroup(io.argv);
  if (bare !== null) {
    // `fwup` or `fwup machine` alone: the help, on stdout, and success — or a usage error for --json.
    if (json) return report(io, new FwupError('USAGE', bare ? `fwup ${bare} needs a command` : 'no command given', { hint: `see fwup ${bare ? `${bare} ` : ''}--help` }), true, false, plainStyle);
    (bare ? groups.get(bare)! : program).outputHelp();
    return EXIT.OK;
  }
  if (json && io.argv.some((a) => a === '-V' || a === '--version') && io.argv.every((a) => a.startsWith('-'))) {
    io.stdout.write(`${JSON.stringify({ version: VERSION })}\n`);
    return EXIT.OK;
  }
  try {
    await program.parseAsync(io.argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with code 0.
      if (e.exitCode === 0) return EXIT.OK;
      const err = new FwupError('USAGE', e.message.replace(/^error: /, ''), { hint: 'see fwup --help' });
      return report(io, err, json, false, await makeStyle(false));
    }
    const verbose = io.argv.includes('--verbose') || io.argv.includes('-v');
    return report(io, e, json, verbose, plainStyle);
  }
  if (!outcome) return EXIT.OK;
  const { outcome: out, global } = outcome as { outcome: Outcome; global: GlobalOptions };
  const style = await makeStyle(global.color);
  if (global.json) {
    const data = out.error ? { ...(out.data as object), error: errorJson(out.error) } : out.data;
    io.stdout.write(`${JSON.stringify(data, jsonReplacer, 2)}\n`);
  } else if (!global.quiet && out.text) {
    const t = out.text(style);
    if (t) {
      const safe = sanitizeOutput(t);
      io.stdout.write(safe.endsWith('\n') ? safe : `${safe}\n`);
    }
  }
  if (out.error) {
    if (!global.json) writeErrorText(io, out.error, style);
    return exitCodeFor(out.error.code);
  }
  return out.exitCode ?? EXIT.OK;
}

interface OptionSource {
  getOptionValue(key: string): unknown;
  getOptionValueSource(key: string): string | undefined;
  parent: OptionSource | null;
}

/** A global option's value: the one given on the command line at any level wins over defaults. */
function globalValue(cmd: OptionSource, key: string): unknown {
  let fallback: unknown;
  for (let c: OptionSource | null = cmd; c; c = c.parent) {
    const src = c.getOptionValueSource(key);
    if (src === 'cli' || src === 'env') return c.getOptionValue(key);
    if (fallback === undefined) fallback = c.getOptionValue(key);
  }
  return fallback;
}

function makeContext(io: Io, g: GlobalOptions): Context {
  const canProgress = Boolean(io.stderr.isTTY) && !g.json && !g.quiet;
  const log: Logger = {
    verbose: (m) => {
      // stderr only, so --json --verbose keeps stdout one JSON document.
      if (g.verbose) io.stderr.write(`${m}\n`);
    },
    warn: (m) => {
      if (!g.quiet && !g.json) io.stderr.write(`warning: ${m}\n`);
    },
    info: (m) => {
      if (!g.quiet && !g.json) io.stderr.write(`${m}\n`);
    },
  };
  let progress = noProgress;
  if (canProgress) {
    // Lazily bound so that ora is loaded only by a command that shows progress.
    progress = {
      start: (label, total) => {
        const task = import('./progress.js').then((m) => m.terminalProgress(io.stderr.stream ?? (io.stderr as NodeJS.WriteStream), g.color && !io.env.NO_COLOR).start(label, total));
        return {
          update: (d, t) => void task.then((x) => x.update(d, t)),
          succeed: (t) => void task.then((x) => x.succeed(t)),
          fail: (t) => void task.then((x) => x.fail(t)),
        };
      },
    };
  }
  const cpus = Number(io.env.FWUP_HOST_CPUS) || undefined;
  const home = io.env.HOME || '/tmp';
  return {
    cwd: io.cwd,
    env: io.env,
    now: () => new Date(),
    log,
    progress,
    hostCpus: cpus ?? hostCpuCount(),
    cacheDir: join(io.env.XDG_CACHE_HOME || join(home, '.cache'), 'fwup'),
    stateDir: join(io.env.XDG_STATE_HOME || join(home, '.local', 'state'), 'fwup'),
    selfCommand: io.selfCommand ?? [],
    sysroot: resolve(io.cwd, g.sysroot ?? '/'),
    isRoot: io.uid === 0,
    ...(io.exec ? { exec: io.exec } : {}),
    ...(io.signal ? { signal: io.signal } : {}),
    ...(io.stdin ? { stdin: io.stdin } : {}),
  };
}

let cachedCpus: number | undefined;
function hostCpuCount(): number {
  // os is already loaded by Node itself; availableParallelism honours cgroup/affinity limits.
  return (cachedCpus ??= Math.max(1, osAvailableParallelism()));
}


export function errorJson(e: FwupError): { code: string; message: string; hint: string; exitCode: number; details?: unknown } {
  return {
    code: e.code,
    message: e.message,
    hint: e.hint,
    exitCode: exitCodeFor(e.code),
    ...(e.details ? { details: e.details } : {}),
  };
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `0x${value.toString(16).toUpperCase().padStart(16, '0')}` : value;
}

function writeErrorText(io: Io, e: FwupError, style: Style): void {
  io.stderr.write(`${style.red('error:')} ${escapeText(e.message)}\n`);
  if (e.hint) io.stderr.write(`${style.dim('hint:')} ${escapeText(e.hint)}\n`);
}

function report(io: Io, e: unknown, json: boolean, verbose: boolean, style: Style): ExitCode {
  let err: FwupError;
  if (e instanceof FwupError) {
    err = e;
  } else {
    const msg = e instanceof Error ? e.message : String(e);
    err = new FwupError('INTERNAL', `internal error: ${msg}`, {
      hint: 'this is a bug in fwup; please report it with the command and the output of --verbose',
    });
    if (verbose && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
  }
  if (json) io.stdout.write(`${JSON.stringify({ error: errorJson(err) }, jsonReplacer, 2)}\n`);
  else writeErrorText(io, err, style);
  return exitCodeFor(err.code);
}

export type { CommandSpec };

/** Entry point used by bin/fwup.js. */
export async function runFromProcess(): Promise<void> {
  quietOnEpipe(process.stdout);
  // The first Ctrl-C or SIGTERM asks the running command to stop at its next safe point (it then says
  // what was interrupted and what state the target is in); a second one stops at once.
  const abort = new AbortController();
  const onSignal = (name: 'SIGINT' | 'SIGTERM') => {
    if (abort.signal.aborted) process.exit(name === 'SIGTERM' ? EXIT.TERMINATED : EXIT.INTERRUPTED);
    abort.abort(name);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.exitCode = await main({
    signal: abort.signal,
    stdin: lazyStdin(),
    argv: process.argv.slice(2),
    env: process.env,
    cwd: process.cwd(),
    stdout: process.stdout,
    stderr: lazyStderr(),
    selfCommand: [process.execPath, process.argv[1] ?? ''],
    uid: process.getuid?.() ?? -1,
  });
}

/**
 * process.stdin, created only when a command reads it (`-` for a file): creating it builds a stream
 * (for a file or /dev/null an fs.ReadStream that loads fs/promises and readline), about 1 ms of every
 * cold start of commands that never read it.
 */
function lazyStdin(): AsyncIterable<Buffer | string> & { readonly isTTY?: boolean } {
  return {
    get isTTY() {
      return process.stdin.isTTY;
    },
    [Symbol.asyncIterator]: () => process.stdin[Symbol.asyncIterator](),
  };
}

/** `fwup … | head`: the reader went away. Stop writing instead of dying on an unhandled EPIPE. */
function quietOnEpipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    stream.destroy();
  });
}

/**
 * process.stderr, created when something is written to it or a terminal is asked for: on a pipe it is
 * a net.Socket, whose module costs a command that writes nothing there (a successful inspect) 1-2 ms
 * of its start. Only a character device can be a terminal, so isTTY looks at the descriptor first.
 */
function lazyStderr(): OutStream {
  let real: NodeJS.WriteStream | null = null;
  const stream = (): NodeJS.WriteStream => {
    if (!real) {
      real = process.stderr;
      quietOnEpipe(real);
    }
    return real;
  };
  return {
    write: (s) => stream().write(s),
    get isTTY() {
      return mayBeTerminal(2) && Boolean(stream().isTTY);
    },
    get stream() {
      return stream();
    },
  };
}

function mayBeTerminal(fd: number): boolean {
  try {
    return fstatSync(fd).isCharacterDevice();
  } catch {
    return false;
  }
}
