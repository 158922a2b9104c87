import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fromSystemError } from '../errors/fwup-error.js';
import { acquireLock } from './lock-file.js';
import { processAlive } from './process-alive.js';
import { appendHistory, readHistory, readRecord, removeIfPresent, writeFileDurably, writeRecord } from './state-records.js';

/**
 * The records a host target (flashrom, uefi) keeps under fwup's state directory, in one place: the
 * lock, the staged request, the pending attempt, the backups, the history. Writes are durable
 * (temporary file, fsync, rename) and their failures (a full disk) are FwupErrors. Temporary files
 * carry the writer's pid, so the next command removes those a killed fwup left behind.
 */
export class HostState {
  constructor(readonly dir: string, private readonly what: string) {}

  async lock(timeoutMs: number, say: (m: string) => void): Promise<() => Promise<void>> {
    await this.ensureDir();
    const release = await acquireLock(join(this.dir, 'lock'), timeoutMs, this.what, say);
    const swept = await this.sweep();
    if (swept.length) say(`removed ${swept.length} temporary file${swept.length > 1 ? 's' : ''} left by a fwup that was killed: ${swept.join(', ')}`);
    return release;
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** A temporary file of this process: `.NAME-PID.tmp`, swept at the next command if this one dies. */
  temp(name: string): string {
    return join(this.dir, `.${name}-${process.pid}.tmp`);
  }

  read<T>(name: string, what: string): Promise<T | null> {
    return readRecord<T>(this.path(name), what);
  }

  async write<T>(name: string, record: T): Promise<void> {
    await this.ensureDir();
    await writeRecord(this.path(name), record).catch((e: unknown) => {
      throw fromSystemError(e, this.path(name), 'write');
    });
  }

  async writeBytes(name: string, data: Buffer): Promise<void> {
    await this.ensureDir();
    await writeFileDurably(this.path(name), data).catch((e: unknown) => {
      throw fromSystemError(e, this.path(name), 'write');
    });
  }

  /** Write a file of ours at a full path (a temporary from `temp`), durably. */
  async writeFileAt(path: string, data: Buffer): Promise<void> {
    await writeFileDurably(path, data).catch((e: unknown) => {
      throw fromSystemError(e, path, 'write');
    });
  }

  async remove(name: string): Promise<boolean> {
    return removeIfPresent(this.path(name)).catch((e: unknown) => {
      throw fromSystemError(e, this.path(name), 'remove');
    });
  }

  /** Remove a file of ours (a temporary) if it is there; failures do not matter to the caller. */
  async discard(path: string): Promise<void> {
    await unlink(path).catch(() => {});
  }

  async appendHistory(entry: object): Promise<void> {
    await appendHistory(this.path('history.jsonl'), entry).catch((e: unknown) => {
      throw fromSystemError(e, this.path('history.jsonl'), 'append to');
    });
  }

  history<T>(): Promise<T[]> {
    return readHistory<T>(this.path('history.jsonl'));
  }

  /** Remove temporary files whose writer is gone. */
  async sweep(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const n of names) {
      const m = /^\..+-(\d+)\.tmp$/.exec(n) ?? /^\..+\.(\d+)\.tmp$/.exec(n);
      if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
      await unlink(join(this.dir, n)).catch(() => {});
      out.push(n);
    }
    return out;
  }

  private async ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true }).catch((e: unknown) => {
      throw fromSystemError(e, this.dir, 'create');
    });
  }
}
