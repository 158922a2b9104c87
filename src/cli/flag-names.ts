import type { CommandSpec, OptionSpec } from './command-table.js';

/** An option's spellings, taken apart from commander's flags string ("-o, --output <file>"). */
export interface FlagNames {
  short: string | null;
  long: string;
  /** The value's placeholder without brackets ("file"), or null for a switch. */
  value: string | null;
}

export function flagNames(o: OptionSpec): FlagNames {
  const m = /^(?:(-\w), )?(--[\w-]+)(?: [<[]([^>\]]+)[>\]])?$/.exec(o.flags);
  if (!m) throw new Error(`option flags not understood: ${o.flags}`);
  return { short: m[1] ?? null, long: m[2]!, value: m[3] ?? null };
}

/** The words of the command line: top-level commands and, for a group, its subcommands. */
export function commandTree(commands: readonly CommandSpec[]): { top: string[]; groups: Map<string, CommandSpec[]> } {
  const top: string[] = [];
  const groups = new Map<string, CommandSpec[]>();
  for (const c of commands) {
    const [first, second] = c.name.split(' ') as [string, string | undefined];
    if (!top.includes(first)) top.push(first);
    if (second) groups.set(first, [...(groups.get(first) ?? []), c]);
  }
  return { top, groups };
}

/** A value placeholder that names a path: complete file names for it. */
export function takesPath(value: string | null): boolean {
  return value !== null && /^(file|dir|pub|key|pem|cert|payload|image)$/.test(value);
}
