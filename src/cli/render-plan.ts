import type { PlannedAction } from '../targets/plan.js';
import { displayArgv } from '../targets/exec.js';
import { formatBytes } from '../util/units.js';
import type { Style } from './style.js';

/** The --dry-run listing: each helper command as it would be typed, each write with its size. */
export function planText(plan: readonly PlannedAction[], s: Style): string {
  const lines = plan.map((a) => {
    switch (a.kind) {
      case 'exec':
        return `  ${s.cyan('run')}    ${displayArgv(a.argv)}\n         ${s.dim(a.purpose)}`;
      case 'write':
        return `  ${s.cyan('write')}  ${a.path}${a.bytes ? ` (${formatBytes(a.bytes)})` : ''}\n         ${s.dim(a.purpose)}`;
      case 'remove':
        return `  ${s.cyan('remove')} ${a.path}\n         ${s.dim(a.purpose)}`;
      case 'flash':
        return `  ${s.cyan('flash')}  ${a.region} at 0x${a.offset.toString(16)} (${formatBytes(a.length)})\n         ${s.dim(a.purpose)}`;
      case 'check':
        return `  ${s.cyan('check')}  ${a.purpose}`;
      case 'http': {
        const size = a.bytes ? ` (${formatBytes(a.bytes)})` : '';
        const body = a.body !== undefined ? `\n         ${JSON.stringify(a.body)}` : '';
        return `  ${s.cyan(a.method.padEnd(6))} ${a.url}${size}${body}\n         ${s.dim(a.purpose)}`;
      }
    }
  });
  return lines.join('\n');
}

export function dryRunText(plan: readonly PlannedAction[], s: Style): string {
  return `${s.yellow(s.bold('dry run'))}: nothing was changed. fwup would:\n${planText(plan, s)}`;
}
