import { dirname } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';
import { displayArgv, spawnFailure } from '../exec.js';
import { HostFiles } from '../host-files.js';
import type { ActionLog } from '../plan.js';
import { withRoute, type Route } from '../privilege.js';
import type { TargetDeps } from '../target.js';
import { isEfivarfs, type OsIndicationsChange } from './efivars.js';

/** The writes of the uefi target that need care: efivarfs variables (immutable flag) and their errors. */
export class UefiWrites {
  /** `efivarfs`: whether the variables live on a real efivarfs (injectable: fixture trees are not one). */
  constructor(
    private readonly deps: TargetDeps,
    readonly files: HostFiles,
    private readonly efivarfs: (sysroot: string) => Promise<boolean> = isEfivarfs,
  ) {}

  /**
   * Write an efivarfs variable; a real efivarfs needs its immutable flag lifted around the write, and
   * the flag is put back whatever happens to the write.
   */
  async writeVariable(log: ActionLog, change: OsIndicationsChange, route: Route, purpose: string): Promise<void> {
    const immutable = change.exists && (await this.efivarfs(this.deps.sysroot));
    if (immutable) await this.chattr(log, '-i', change.path, route);
    try {
      const what = `${purpose}: OsIndications ${change.before === null ? 'unset' : hex64(change.before)} -> ${hex64(change.after)}`;
      await log.runAll(HostFiles.actions('in-place', change.path, change.bytes.length, route, what), () =>
        this.files.writeInPlace(change.path, change.bytes, route, !change.exists).catch((e: unknown) => {
          throw variableWriteError(e, change.path);
        }),
      );
    } finally {
      if (immutable) await this.chattr(log, '+i', change.path, route);
    }
  }

  async chattr(log: ActionLog, flag: '-i' | '+i', path: string, route: Route): Promise<void> {
    const argv = withRoute(route, ['chattr', flag, path]);
    await log.run({ kind: 'exec', argv, purpose: flag === '-i' ? 'efivarfs variables are immutable until this' : 'make it immutable again' }, async () => {
      const r = await this.deps.exec(argv[0]!, argv.slice(1), { cwd: this.deps.cwd });
      if (r.spawnError) throw spawnFailure(argv, r.spawnError, 'install e2fsprogs (chattr)');
      if (r.exitCode !== 0) throw new FwupError('HELPER_FAILED', `${displayArgv(argv)} failed: ${r.stderr.trim()}`, { hint: 'chattr needs root on a real efivarfs' });
    });
  }
}

export function hex64(n: bigint): string {
  return `0x${n.toString(16).toUpperCase().padStart(16, '0')}`;
}

export function espWriteError(e: unknown, path: string): FwupError {
  if (e instanceof FwupError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC') return new FwupError('FILE_IO', `the EFI system partition is full: cannot write ${path}`, { hint: 'free space on the ESP (old capsules in EFI/UpdateCapsule)' });
  if (code === 'EACCES' || code === 'EPERM') return new FwupError('PERMISSION_DENIED', `writing ${path} needs root`, { hint: 'run fwup as root, or pass --sudo' });
  return new FwupError('FILE_IO', `cannot write ${path} (in ${dirname(path)}): ${(e as Error).message}`, { hint: 'check the ESP is mounted read-write' });
}

export function variableWriteError(e: unknown, path: string): FwupError {
  if (e instanceof FwupError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') {
    return new FwupError('PERMISSION_DENIED', `writing the UEFI variable ${path} was refused (${code})`, {
      hint: 'needs root; on a real efivarfs the variable must also not be immutable (fwup lifts the flag with chattr -i)',
    });
  }
  if (code === 'ENOSPC') return new FwupError('CAPSULE_REJECTED', `the firmware has no room for the variable ${path}`, { hint: 'the UEFI variable store is full' });
  return new FwupError('FILE_IO', `cannot write the UEFI variable ${path}: ${(e as Error).message}`, { hint: 'check that efivarfs is mounted read-write' });
}
