import type { CommandSpec, OptionSpec } from './command-table.js';
import { flagNames } from './flag-names.js';

export interface ManPageInput {
  version: string;
  commands: readonly CommandSpec[];
  globals: readonly OptionSpec[];
  exitCodes: ReadonlyArray<readonly [number, string, string]>;
  environment: ReadonlyArray<readonly [string, string]>;
}

/** Text for roff: backslashes and dashes escaped, no line may start with a control character. */
function roff(s: string): string {
  return s.replace(/\\/g, '\\e').replace(/-/g, '\\-').replace(/^([.'])/gm, '\\&$1');
}

function optionItem(o: OptionSpec): string {
  const f = flagNames(o);
  const names = [f.short, f.long].filter((x): x is string => x !== null).map((n) => `\\fB${roff(n)}\\fR`).join(', ');
  const value = f.value === null ? '' : ` \\fI${roff(f.value)}\\fR`;
  const dflt = o.default !== undefined && o.default !== false ? ` (default: ${roff(String(o.default))})` : '';
  return `.TP\n${names}${value}\n${roff(o.description)}${dflt}${o.repeatable ? '; may be given more than once' : ''}`;
}

/** fwup(1), in man(7) roff, generated from the command table at build time (man/fwup.1). */
export function manPage(m: ManPageInput): string {
  const out: string[] = [
    `.TH FWUP 1 "" "fwup ${roff(m.version)}" "User Commands"`,
    '.SH NAME',
    'fwup \\- update the firmware of a multiprocessor machine without a full reboot',
    '.SH SYNOPSIS',
    '\\fBfwup\\fR [\\fIglobal\\-options\\fR] \\fIcommand\\fR [\\fIoptions\\fR] [\\fIarguments\\fR]',
    '.SH DESCRIPTION',
    roff('fwup stage IMAGE validates an update image and stores it, with an update request, on the target. fwup apply --warm interrupts every processor, saves its state, resets the processors only into the pre-OS firmware, which verifies and installs the update, restores every processor and resumes the OS; fwup then checks the outcome. Targets: an emulated machine (emu:DIR), a flash chip through flashrom (flashrom:PROGRAMMER), and Linux UEFI capsule updates (uefi).'),
    '.PP',
    roff('A file argument of - reads the image (or the payload of pack) from standard input.'),
    '.SH GLOBAL OPTIONS',
    roff('Every command takes these, before or after the command name.'),
    ...m.globals.map(optionItem),
    '.TP\n\\fB\\-V\\fR, \\fB\\-\\-version\\fR\nprint the fwup version (with \\fB\\-\\-json\\fR: as JSON)',
    '.TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\nprint the help of fwup or of a command',
    '.SH COMMANDS',
  ];
  for (const c of m.commands) {
    out.push(`.SS "fwup ${roff(c.name)}${c.args ? ` ${roff(c.args)}` : ''}"`, `${roff(c.summary)}.`);
    if (c.options.length) out.push(...c.options.map(optionItem));
    if (c.examples.length) {
      out.push('.PP', 'Examples:', '.RS', '.nf', ...c.examples.map(roff), '.fi', '.RE');
    }
  }
  out.push('.SH EXIT STATUS', roff('Every error has a stable code (printed with --json) that maps to one of these.'));
  for (const [code, name, meaning] of m.exitCodes) out.push(`.TP\n\\fB${code}\\fR ${roff(name)}\n${roff(meaning)}`);
  out.push('.SH ENVIRONMENT');
  for (const [name, meaning] of m.environment) out.push(`.TP\n\\fB${roff(name)}\\fR\n${roff(meaning)}`);
  out.push(
    '.SH FILES',
    '.TP\n\\fI~/.cache/fwup\\fR\nthe download cache',
    '.TP\n\\fI~/.local/state/fwup\\fR\nrecords of the flashrom and uefi targets (staged requests, backups, history)',
    '.SH SEE ALSO',
    '.BR flashrom (8),',
    '.BR fwupdtool (1)',
  );
  return `${out.join('\n')}\n`;
}
