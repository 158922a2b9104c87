import { importEsm } from '../util/import-esm.js';
import { FwupError } from '../errors/fwup-error.js';

/**
 * The one way fwup runs an external program (flashrom, sudo, chattr, the reboot command): an argument
 * array, never a shell string. Targets receive it through TargetDeps, so a test can hand in a
 * recording fake where the real program must not run (the reboot command), and the real one elsewhere.
 */
export type Exec = (file: string, args: readonly string[], opts?: ExecOptions) => Promise<ExecResult>;

export interface ExecOptions {
  cwd?: string;
  /** Bytes for the program's stdin (e.g. what `sudo -n dd of=…` writes). */
  input?: Buffer;
  /** Every chunk of stdout and stderr as it arrives, for progress (flashrom prints without newlines). */
  onOutput?: (chunk: string) => void;
}

export interface ExecResult {
  /** null when the program could not be started (see `spawnError`) or was killed by a signal. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** ENOENT, EACCES…: the program did not start. */
  spawnError: string | null;
}

/** The real exec: execa 9, imported on first use so that commands which run no helper never load it. */
export function realExec(): Exec {
  let execaModule: Promise<typeof import('execa')> | null = null;
  return async (file, args, opts = {}) => {
    execaModule ??= importEsm<typeof import('execa')>('execa');
    const { execa } = await execaModule;
    const sub = execa(file, [...args], {
      reject: false,
      shell: false,
      cwd: opts.cwd,
      // flashrom and friends are not localised today; C keeps any future translation out of the parsers.
      env: { LC_ALL: 'C' },
      stripFinalNewline: false,
      // Its own process group: a Ctrl-C at the terminal reaches fwup, which lets a flash write finish
      // and stops at the next safe point, instead of killing flashrom half way through the chip.
      detached: true,
      ...(opts.input ? { input: opts.input } : { stdin: 'ignore' as const }),
    });
    if (opts.onOutput) {
      const forward = (d: Buffer | string) => opts.onOutput!(String(d));
      sub.stdout?.on('data', forward);
      sub.stderr?.on('data', forward);
    }
    const r = await sub;
    const spawnError = r.exitCode === undefined && r.signal === undefined ? (typeof r.code === 'string' ? r.code : 'ESPAWN') : null;
    return {
      exitCode: r.exitCode ?? null,
      stdout: typeof r.stdout === 'string' ? r.stdout : '',
      stderr: typeof r.stderr === 'string' ? r.stderr : '',
      spawnError,
    };
  };
}

/** An argv as a person would type it, for messages and --dry-run (display only: never executed). */
export function displayArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The error for a helper that did not start: missing (HELPER_NOT_FOUND) or not executable. */
export function spawnFailure(argv: readonly string[], code: string, installHint: string): FwupError {
  if (code === 'ENOENT') {
    return new FwupError('HELPER_NOT_FOUND', `${argv[0]} is not installed (or not on PATH): cannot run ${displayArgv(argv)}`, { hint: installHint });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new FwupError('PERMISSION_DENIED', `cannot execute ${argv[0]}: permission denied`, { hint: 'check the file mode of the helper' });
  }
  return new FwupError('HELPER_FAILED', `cannot start ${displayArgv(argv)}: ${code}`);
}
