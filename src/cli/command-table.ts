import type { Context } from '../core/context.js';
import type { GlobalOptions, Outcome } from './outcome.js';

/** A command's action, loaded only when that command runs (keeps `fwup --version` fast). */
export interface CommandModule {
  run(ctx: Context, args: string[], opts: Record<string, unknown>, global: GlobalOptions): Promise<Outcome>;
}

export interface OptionSpec {
  flags: string;
  description: string;
  default?: string | boolean;
  /** Can be given several times; the values arrive as an array. */
  repeatable?: boolean;
}

export interface CommandSpec {
  /** "inspect", or "machine init" for a subcommand of a group. */
  name: string;
  args: string;
  summary: string;
  options: OptionSpec[];
  examples: string[];
  load: () => Promise<CommandModule>;
}

export const COMMANDS: CommandSpec[] = [
  {
    name: 'keygen',
    args: '<name>',
    summary: 'make an Ed25519 signing key pair: NAME.key (private, mode 0600) and NAME.pub',
    options: [{ flags: '--force', description: 'overwrite an existing key pair' }],
    examples: ['fwup keygen release'],
    load: () => import('./commands/keygen.js'),
  },
  {
    name: 'pack',
    args: '<payload>',
    summary: 'pack a firmware payload into a .fwup update image',
    options: [
      { flags: '-o, --output <file>', description: 'the image to write (required)' },
      { flags: '--version <version>', description: 'firmware version: N, 0xN, A.B.C or A.B.C.D (required)' },
      { flags: '--platform <id>', description: 'platform id the image is for', default: 'fwup-emu' },
      { flags: '--lsv <version>', description: 'lowest supported version this image may replace', default: '0' },
      { flags: '--svn <n>', description: 'security version (anti-rollback counter)', default: '0' },
      { flags: '--sign <key>', description: 'sign with this private key (NAME.key)' },
      { flags: '--description <text>', description: 'a description stored in the image' },
      { flags: '--cold-only', description: 'mark the image as needing a full (cold) reset to apply' },
    ],
    examples: [
      'fwup pack firmware.bin -o firmware.fwup --version 1.2.0 --sign release.key',
      'fwup pack firmware.bin -o firmware.fwup --version 7 --lsv 5 --svn 2 --description "fixes boot hang"',
    ],
    load: () => import('./commands/pack.js'),
  },
  {
    name: 'inspect',
    args: '<image>',
    summary: 'show every header field of an image and verify its CRC-32, SHA-256 and signature',
    options: [
      { flags: '--key <pub>', description: 'public key to verify the signature with (repeatable)', repeatable: true },
      { flags: '--version <version>', description: 'treat a file without a known header as a raw payload of this version' },
    ],
    examples: ['fwup inspect firmware.fwup --key release.pub', 'fwup inspect firmware.fwup --json'],
    load: () => import('./commands/inspect.js'),
  },
  {
    name: 'machine init',
    args: '[dir]',
    summary: 'create an emulated machine: machine.json and flash.img with factory firmware 1 in slot A',
    options: [
      { flags: '--cpus <n>', description: 'emulated CPUs, 1 to 64', default: '4' },
      { flags: '--flash-size <size>', description: 'flash size, e.g. 64M', default: '64M' },
      { flags: '--trust <pub>', description: 'trust this public key for signed images (repeatable)', repeatable: true },
      { flags: '--platform <id>', description: 'platform id images must name', default: 'fwup-emu' },
      { flags: '--development', description: 'allow unsigned images (with --allow-unsigned) even with trusted keys' },
      { flags: '--force', description: 'replace an existing machine (its flash is lost)' },
    ],
    examples: ['fwup machine init', 'fwup machine init lab/m1 --cpus 16 --flash-size 128M --trust release.pub'],
    load: () => import('./commands/machine-init.js'),
  },
  {
    name: 'stage',
    args: '<image>',
    summary: 'validate an update image and store it with an update request on the target',
    options: [
      { flags: '--allow-older', description: 'allow a version older than the installed one or below its lowest supported version' },
      { flags: '--allow-unsigned', description: 'allow an unsigned image (development machines only)' },
      { flags: '--allow-reinstall', description: 'allow the version that is already installed' },
      { flags: '--version <version>', description: 'stage a raw payload (no header) as this version' },
    ],
    examples: ['fwup stage firmware.fwup', 'fwup stage firmware.fwup --target emu:lab/m1 --json'],
    load: () => import('./commands/stage.js'),
  },
  {
    name: 'status',
    args: '',
    summary: 'show the target: active firmware, staged update, last attempt, security version, NVRAM use',
    options: [],
    examples: ['fwup status', 'fwup status --json'],
    load: () => import('./commands/status.js'),
  },
  {
    name: 'unstage',
    args: '',
    summary: 'remove the staged update request',
    options: [],
    examples: ['fwup unstage'],
    load: () => import('./commands/unstage.js'),
  },
  {
    name: 'apply',
    args: '',
    summary: 'apply the staged update: IPI rendezvous, state save, processor-only reset, firmware update, restore, outcome check',
    options: [
      { flags: '--warm', description: 'processor-only reset: every CPU keeps its state (the default)' },
      { flags: '--cold', description: 'full reset (the baseline): RAM is lost and the OS restarts' },
      { flags: '--timeout <seconds>', description: 'how long CPUs may take to acknowledge and restart', default: '5' },
      { flags: '--no-confirm', description: 'leave the new firmware on trial (the next reset reverts it)' },
    ],
    examples: ['fwup apply --warm', 'fwup apply --cold --json', 'fwup apply --warm --target emu:lab/m1 --timeout 2'],
    load: () => import('./commands/apply.js'),
  },
  {
    name: 'rollback',
    args: '',
    summary: 'go back to the previous firmware slot by the same warm path (refused if the security version forbids)',
    options: [
      { flags: '--timeout <seconds>', description: 'how long CPUs may take to acknowledge and restart', default: '5' },
      { flags: '--no-confirm', description: 'leave it on trial' },
    ],
    examples: ['fwup rollback'],
    load: () => import('./commands/rollback.js'),
  },
  {
    name: 'history',
    args: '',
    summary: 'the target\'s update history (newest last)',
    options: [],
    examples: ['fwup history', 'fwup history --json'],
    load: () => import('./commands/history.js'),
  },
  {
    name: 'machine boot',
    args: '',
    summary: 'cold-boot the emulated machine\'s firmware now (the recovery boot after a power cut)',
    options: [],
    examples: ['fwup machine boot'],
    load: () => import('./commands/machine-boot.js'),
  },
];
