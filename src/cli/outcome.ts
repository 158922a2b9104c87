import type { ExitCode } from '../errors/exit-codes.js';
import type { FwupError } from '../errors/fwup-error.js';
import type { Style } from './style.js';

/** What a command hands back to the CLI: data for --json, a text rendering, and how to exit. */
export interface Outcome {
  data: unknown;
  text?: (s: Style) => string;
  /** A failure that still comes with a full report (inspect of a damaged image). */
  error?: FwupError | null;
  exitCode?: ExitCode;
}

export interface GlobalOptions {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  color: boolean;
  target?: string;
  sysroot?: string;
}
