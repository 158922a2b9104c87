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
    summary: 'show every header field of an image (.fwup or UEFI capsule) and verify its CRC-32, SHA-256 and signature',
    options: [
      { flags: '--key <pub>', description: 'public key to verify a .fwup signature with (repeatable)', repeatable: true },
      { flags: '--cert <pem>', description: 'trusted X.509 certificate (PEM or DER) for capsule PKCS#7 signatures (repeatable)', repeatable: true },
      { flags: '--version <version>', description: 'treat a file without a known header as a raw payload of this version' },
    ],
    examples: [
      'fwup inspect firmware.fwup --key release.pub',
      'fwup inspect firmware.fwup --json',
      'fwup inspect firmware.cap --cert TestRoot.pub.pem',
    ],
    load: () => import('./commands/inspect.js'),
  },
];
