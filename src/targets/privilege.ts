import { access, constants } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FwupError } from '../errors/fwup-error.js';
import { displayArgv } from './exec.js';
import type { TargetDeps } from './target.js';

/** How a privileged operation runs: directly (we hold the rights) or through `sudo -n`. */
export type Route = 'direct' | 'sudo';

export const SUDO = ['sudo', '-n'] as const;

/**
 * A helper that needs root (flashrom's internal programmer, …): run it directly as root, through
 * `sudo -n` with --sudo, or refuse before anything runs with an error naming the command.
 */
export function routeForRootHelper(deps: TargetDeps, sudo: boolean, argv: readonly string[], why: string): Route {
  if (deps.isRoot) return 'direct';
  if (sudo) return 'sudo';
  throw new FwupError('PERMISSION_DENIED', `${displayArgv(argv)} needs root (${why}) and fwup is not running as root`, {
    hint: `run fwup as root, or pass --sudo to run it as: ${displayArgv([...SUDO, ...argv])}`,
  });
}

export function withRoute(route: Route, argv: readonly string[]): string[] {
  return route === 'sudo' ? [...SUDO, ...argv] : [...argv];
}

/**
 * Can we write `path` (or create it in its directory)? Asked of the file system itself, so the answer
 * is right for root, for a user with group access to efivarfs, and for a fixture tree alike.
 */
export async function routeForWrite(path: string, exists: boolean, sudo: boolean, what: string): Promise<Route> {
  // A file that does not exist yet is created in its directory, or in the nearest one that exists.
  let probe = exists ? path : dirname(path);
  for (;;) {
    try {
      await access(probe, constants.W_OK);
      return 'direct';
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && dirname(probe) !== probe) {
        probe = dirname(probe);
        continue;
      }
      if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw e;
      break;
    }
  }
  if (sudo) return 'sudo';
  throw new FwupError('PERMISSION_DENIED', `writing ${path} (${what}) needs root, and fwup may not write it`, {
    hint: 'run fwup as root, or pass --sudo to do the privileged writes through sudo -n',
  });
}

/** `sudo -n` refuses instead of prompting; say so plainly rather than as a helper failure. */
export function sudoRefusal(argv: readonly string[], output: string): FwupError | null {
  if (!/^sudo: (a password is required|a terminal is required|.*not allowed|.*is not in the sudoers)/m.test(output)) return null;
  return new FwupError('PERMISSION_DENIED', `sudo -n refused to run ${displayArgv(argv)}: ${output.trim().split('\n')[0]}`, {
    hint: 'allow this command without a password in sudoers (NOPASSWD), or run fwup as root',
  });
}
