import { open, readFile, unlink, stat } from 'node:fs/promises';
import { FwupError, fromSystemError } from '../errors/fwup-error.js';
import { processAlive } from './process-alive.js';

const POLL_MS = 20;
const BREAKER_STALE_MS = 5000;

/**
 * An exclusive lock file (O_EXCL create, holding "pid\n"). A lock whose process is gone is stale and
 * may be broken, but only under a second, short-lived "breaker" lock, so two waiters that both see the
 * same stale lock cannot both take over.
 */
export async function acquireLock(path: string, timeoutMs: number, what: string, say: (m: string) => void = () => {}): Promise<() => Promise<void>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await tryCreate(path)) {
      return async () => {
        await unlink(path).catch(() => {});
      };
    }
    const broken = await breakIfStale(path);
    if (broken !== null) say(`took over the lock of ${what} from pid ${broken}, which is no longer running`);
    if (Date.now() >= deadline) {
      const holder = await readPid(path);
      throw new FwupError('TARGET_BUSY', `${what} is busy: another fwup${holder ? ` (pid ${holder})` : ''} holds ${path}`, {
        hint: 'wait for it to finish, or set FWUP_LOCK_TIMEOUT (seconds) to wait longer',
      });
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function tryCreate(path: string): Promise<boolean> {
  try {
    const fh = await open(path, 'wx', 0o644);
    try {
      await fh.writeFile(`${process.pid}\n`);
    } catch (e) {
      await fh.close().catch(() => {});
      await unlink(path).catch(() => {});
      throw e;
    }
    await fh.close();
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw fromSystemError(e, path, 'create lock');
  }
}

async function readPid(path: string): Promise<number | null> {
  try {
    const n = Number((await readFile(path, 'utf8')).trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Break the lock if its holder is gone; returns the dead holder's pid (0: unknown) when it did. */
async function breakIfStale(path: string): Promise<number | null> {
  const pid = await readPid(path);
  if (pid === null) {
    // Being written right now, or empty after a crash between create and write: stale only if old.
    const s = await stat(path).catch(() => null);
    if (!s || Date.now() - s.mtimeMs < BREAKER_STALE_MS) return null;
  } else if (processAlive(pid)) {
    return null;
  }
  const breaker = `${path}.break`;
  if (!(await tryCreate(breaker))) {
    const s = await stat(breaker).catch(() => null);
    if (s && Date.now() - s.mtimeMs > BREAKER_STALE_MS) await unlink(breaker).catch(() => {});
    return null;
  }
  try {
    // Re-check under the breaker: the lock may have changed hands since we looked.
    const again = await readPid(path);
    if (again !== pid) return null;
    await unlink(path).catch(() => {});
    return pid ?? 0;
  } finally {
    await unlink(breaker).catch(() => {});
  }
}
