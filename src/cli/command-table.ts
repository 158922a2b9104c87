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
    name: 'fetch',
    args: '<url>',
    summary: 'download an image (http or https) through the cache, verify it, and write it to a file',
    options: [
      { flags: '-o, --output <file>', description: 'the file to write (required); replaced atomically, untouched on failure' },
      { flags: '--sha256 <hex>', description: 'the SHA-256 the whole file must have; a cached copy with it is reused without a request' },
      { flags: '--key <pub>', description: 'public key to verify the signature with (repeatable)', repeatable: true },
      { flags: '--version <version>', description: 'accept a file without a known header as a raw payload of this version' },
      { flags: '--timeout <seconds>', description: 'longest wait for the response headers of each request', default: '30' },
      { flags: '--idle-timeout <seconds>', description: 'longest wait for the next byte of the body', default: '30' },
      { flags: '--max-size <size>', description: 'refuse a larger file (e.g. 64M, 2G)', default: '1G' },
      { flags: '--max-redirects <n>', description: 'follow at most this many redirects', default: '5' },
      { flags: '--allow-http-redirect', description: 'follow a redirect from https to plain http (refused by default)' },
    ],
    examples: [
      'fwup fetch https://example.com/fw-2.1.0.fwup -o fw.fwup --key release.pub',
      'fwup fetch https://example.com/fw-2.1.0.fwup -o fw.fwup --sha256 8103feafac2ac65dc4711a109224340b173afca7ccfeafae11f337fc94be89af --json',
      'fwup fetch http://10.0.0.5/payload.bin -o payload.bin --version 7 --idle-timeout 120',
    ],
    load: () => import('./commands/fetch.js'),
  },
];
