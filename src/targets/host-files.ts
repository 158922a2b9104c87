import { constants, open, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FwupError } from '../errors/fwup-error.js';
import { displayArgv, spawnFailure, type Exec } from './exec.js';
import type { PlannedAction } from './plan.js';
import { writeFileDurably } from './state-records.js';
import { SUDO, sudoRefusal, type Route } from './privilege.js';

/**
 * Writes to host files that may need root (sysfs, efivarfs, the capsule loader, the ESP). Direct writes
 * use the file system; with --sudo they go through `sudo -n dd` / `mkdir` / `mv`, never a shell.
 * Errors keep the kernel's errno (as `code`), so each caller maps them to what they mean for its file.
 */
export class HostFiles {
  constructor(private readonly exec: Exec) {}

  /**
   * Write `data` at offset 0 of an existing or new file in as few write() calls as possible (efivarfs
   * takes a variable in exactly one write), without truncating: sysfs, efivarfs and the capsule loader
   * do not truncate, and O_TRUNC on them means nothing or fails.
   */
  async writeInPlace(path: string, data: Buffer, route: Route, create: boolean): Promise<void> {
    if (route === 'sudo') {
      await this.sudo(HostFiles.ddInPlace(path, data.length), data);
      return;
    }
    const fh = await open(path, constants.O_WRONLY | (create ? constants.O_CREAT : 0), 0o644);
    try {
      let off = 0;
      while (off < data.length) {
        const { bytesWritten } = await fh.write(data, off, data.length - off, null);
        off += bytesWritten;
      }
    } catch (e) {
      await fh.close().catch(() => {});
      throw e;
    }
    // The capsule loader hands the capsule to the firmware on the last write and reports an incomplete
    // upload on close (ECANCELED): close errors matter.
    await fh.close();
  }

  /** Replace a regular file atomically (temporary file, fsync, rename): a capsule on the ESP. */
  async replaceFile(path: string, data: Buffer, route: Route): Promise<void> {
    if (route === 'sudo') {
      for (const argv of HostFiles.replaceSteps(path)) await this.sudo(argv, argv[0] === 'dd' ? data : undefined);
      return;
    }
    await writeFileDurably(path, data);
  }

  async remove(path: string, route: Route): Promise<void> {
    if (route === 'sudo') await this.sudo(['rm', '-f', path]);
    else await unlink(path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  /** dd reads all of stdin into one block (iflag=fullblock) and writes it with one write(), in place. */
  static ddInPlace(path: string, length: number): string[] {
    return ['dd', `of=${path}`, `bs=${Math.max(1, length)}`, 'count=1', 'iflag=fullblock', 'conv=notrunc', 'status=none'];
  }

  static replaceSteps(path: string): string[][] {
    const tmp = tmpBeside(path);
    return [['mkdir', '-p', dirname(path)], ['dd', `of=${tmp}`, 'bs=1M', 'iflag=fullblock', 'conv=fsync', 'status=none'], ['mv', '-f', tmp, path]];
  }

  /**
   * What a write is, for the action log: a direct write is a file write; through sudo it is the exact
   * commands that run (the data arrives on their stdin).
   */
  static actions(op: 'in-place' | 'replace' | 'remove', path: string, bytes: number, route: Route, purpose: string): PlannedAction[] {
    if (route === 'direct') return [op === 'remove' ? { kind: 'remove', path, purpose } : { kind: 'write', path, bytes, purpose }];
    const steps = op === 'in-place' ? [HostFiles.ddInPlace(path, bytes)] : op === 'replace' ? HostFiles.replaceSteps(path) : [['rm', '-f', path]];
    return steps.map((argv) => ({ kind: 'exec' as const, argv: [...SUDO, ...argv], purpose }));
  }

  private async sudo(argv: string[], input?: Buffer): Promise<void> {
    const full = [...SUDO, ...argv];
    const r = await this.exec(full[0]!, full.slice(1), input ? { input } : {});
    if (r.spawnError) throw spawnFailure(full, r.spawnError, 'install sudo, or run fwup as root');
    if (r.exitCode === 0) return;
    const out = `${r.stderr}\n${r.stdout}`;
    const refused = sudoRefusal(full, out);
    if (refused) throw refused;
    const errno = errnoFromMessage(out);
    if (errno) throw Object.assign(new Error(`${displayArgv(full)}: ${out.trim()}`), { code: errno });
    throw new FwupError('HELPER_FAILED', `${displayArgv(full)} failed (exit ${r.exitCode}): ${out.trim()}`);
  }
}

function tmpBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.fwup-tmp`);
}

/** dd and coreutils print strerror(); turn it back into the errno name the callers map. */
const STRERROR: ReadonlyArray<readonly [RegExp, string]> = [
  [/Invalid argument/, 'EINVAL'],
  [/No space left on device/, 'ENOSPC'],
  [/Cannot allocate memory/, 'ENOMEM'],
  [/Input\/output error/, 'EIO'],
  [/Permission denied/, 'EACCES'],
  [/Operation not permitted/, 'EPERM'],
  [/Read-only file system/, 'EROFS'],
  [/No such file or directory/, 'ENOENT'],
  [/Operation canceled/, 'ECANCELED'],
];

function errnoFromMessage(text: string): string | null {
  return STRERROR.find(([re]) => re.test(text))?.[1] ?? null;
}
