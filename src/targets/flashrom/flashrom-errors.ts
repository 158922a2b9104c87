import { FwupError } from '../../errors/fwup-error.js';
import type { ErrorCode } from '../../errors/codes.js';
import { displayArgv } from '../exec.js';
import { sudoRefusal } from '../privilege.js';

/**
 * flashrom's failures, recognised by the sentences flashrom 1.3 prints, in order of precedence: the
 * first rule that matches names the error. Anything unrecognised is HELPER_FAILED with flashrom's own
 * error lines, so nothing is swallowed.
 */
interface Rule {
  match: RegExp;
  code: ErrorCode;
  message: (m: RegExpMatchArray) => string;
  hint: string;
}

const RULES: readonly Rule[] = [
  {
    match: /Unknown programmer "([^"]*)"/,
    code: 'TARGET_INVALID',
    message: (m) => `flashrom has no programmer "${m[1]}"`,
    hint: 'name one of the programmers `flashrom --help` lists, e.g. flashrom:internal or flashrom:dummy:emulate=W25Q128FV,image=chip.bin',
  },
  {
    match: /(Must be root|Permission denied|Operation not permitted|iopl\(\) failed|Cannot open \/dev\/mem)/i,
    code: 'PERMISSION_DENIED',
    message: (m) => `flashrom was refused access to the hardware (${m[1]})`,
    hint: 'run fwup as root, or pass --sudo to run flashrom through sudo -n',
  },
  {
    match: /(No EEPROM\/flash device found|Invalid chip specified for emulation[^\n]*)/,
    code: 'TARGET_NOT_FOUND',
    message: (m) => `flashrom found no flash chip: ${m[1]}`,
    hint: 'check the programmer parameters and the connection to the chip; flashrom can never write a chip it does not find',
  },
  {
    match: /Image size \((\d+) B\) doesn't match the expected size \((\d+) B\)/,
    code: 'IMAGE_SIZE_MISMATCH',
    message: (m) => `the image is ${m[1]} bytes but the chip is ${m[2]} bytes`,
    hint: 'a whole-chip image must be exactly the chip size; write one region with --region NAME --layout FILE (or --ifd)',
  },
  {
    match: /(Block protection could not be disabled|write protected)/i,
    code: 'FLASH_WRITE_PROTECTED',
    message: (m) => `the chip is write-protected (${m[1]})`,
    hint: 'disable the protection first (the WP# pin or jumper, `flashrom --wp-disable`, or the firmware setting that locks the flash)',
  },
  {
    match: /(Multiple flash chip definitions match the detected chip[^\n]*)/,
    code: 'HELPER_FAILED',
    message: (m) => `flashrom cannot tell which chip this is: ${m[1]}`,
    hint: 'flashrom needs the chip named with -c; run flashrom by hand once to see the candidates',
  },
  {
    match: /Programmer initialization failed/,
    code: 'HELPER_FAILED',
    message: () => 'flashrom could not initialise the programmer',
    hint: 'check the programmer name and its parameters, and that the device is connected',
  },
];

/** The chip after a failed flashrom run, from flashrom's own words. */
export type ChipState = 'unchanged' | 'unknown';

export function chipStateAfterFailure(output: string): ChipState {
  // flashrom checks after a failed erase/write and says so; before it starts erasing, nothing was touched.
  if (/writing to the flash chip apparently didn't do anything/.test(output)) return 'unchanged';
  if (!/Erasing and writing flash chip/.test(output)) return 'unchanged';
  return 'unknown';
}

/** The FwupError for a flashrom run that exited non-zero (`output` = stderr then stdout). */
export function flashromError(argv: readonly string[], exitCode: number | null, output: string): FwupError {
  const refused = sudoRefusal(argv, output);
  if (refused) return refused;
  const lines = errorLines(output);
  const details = { command: argv, exitCode, output: lines, chipState: chipStateAfterFailure(output) };
  for (const r of RULES) {
    const m = output.match(r.match);
    if (m) return new FwupError(r.code, `${r.message(m)} (${displayArgv(argv)})`, { hint: r.hint, details });
  }
  return new FwupError('HELPER_FAILED', `flashrom failed (exit ${exitCode ?? 'signal'}): ${lines.slice(-3).join('; ') || 'no error message'} (${displayArgv(argv)})`, {
    hint: 'run the command above by hand with -V to see everything flashrom says',
    details,
  });
}

/** flashrom's lines minus its banner, the chip-probing chatter and the block list. */
function errorLines(output: string): string[] {
  return output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(flashrom (v|unknown)|flashrom is free software|Using clock_gettime|Probing for|0x[0-9a-f]+-0x)/i.test(l))
    .slice(-12);
}
