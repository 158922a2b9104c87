import { DEFAULT_HINTS, type ErrorCode } from './codes.js';

export interface FwupErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Structured facts for `--json` (e.g. the expected and actual digest). */
  details?: Record<string, unknown>;
}

/** The one error type fwup raises on purpose. Anything else reaching the top is a bug. */
export class FwupError extends Error {
  readonly code: ErrorCode;
  /** Never empty: the call site's own, or the code's default (DEFAULT_HINTS). */
  readonly hint: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: FwupErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FwupError';
    this.code = code;
    this.hint = options.hint || DEFAULT_HINTS[code];
    this.details = options.details;
  }

  /** The same error with a step prefix ("stage: …"), as fwupd's engine prefixes device errors. */
  prefixed(prefix: string): FwupError {
    const e = new FwupError(this.code, `${prefix}: ${this.message}`, {
      hint: this.hint,
      cause: this.cause,
      details: this.details,
    });
    return e;
  }
}

export function isFwupError(e: unknown): e is FwupError {
  return e instanceof FwupError;
}

/** Turn a Node system error on a path into a FwupError with a useful hint. */
export function fromSystemError(e: unknown, path: string, action: string): FwupError {
  if (e instanceof FwupError) return e;
  const err = e as NodeJS.ErrnoException;
  switch (err?.code) {
    case 'ENOENT':
      return new FwupError('FILE_NOT_FOUND', `cannot ${action} ${path}: no such file or directory`, {
        hint: 'check the path',
      });
    case 'EACCES':
    case 'EPERM':
      return new FwupError('PERMISSION_DENIED', `cannot ${action} ${path}: permission denied`, {
        hint: 'check the file permissions, or run with the rights the target needs',
      });
    case 'EISDIR':
      return new FwupError('USAGE', `cannot ${action} ${path}: it is a directory`, { hint: 'give a file, not a directory' });
    case 'ENOTDIR':
      return new FwupError('USAGE', `cannot ${action} ${path}: a part of the path is a file, not a directory`, { hint: 'check the path' });
    case 'EEXIST':
      return new FwupError('FILE_EXISTS', `cannot ${action} ${path}: it already exists`, {
        hint: 'pass --force to overwrite',
      });
    case 'ENOSPC':
    case 'EDQUOT':
      return new FwupError('FILE_IO', `cannot ${action} ${path}: no space left on device`, {
        hint: 'free space on that file system and run the command again (nothing was left half-written)',
      });
    case 'EROFS':
      return new FwupError('FILE_IO', `cannot ${action} ${path}: the file system is read-only`, { hint: 'remount it read-write, or use another directory' });
    default:
      return new FwupError('FILE_IO', `cannot ${action} ${path}: ${err?.message ?? String(e)}`, { cause: e, hint: 'check the path, its permissions and the file system' });
  }
}
