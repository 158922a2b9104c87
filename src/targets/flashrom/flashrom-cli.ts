import { spawnFailure, type Exec } from '../exec.js';
import { withRoute, type Route } from '../privilege.js';
import { flashromError } from './flashrom-errors.js';
import { FlashromOutputParser, type BlockCounts, type FlashromProgress } from './flashrom-output.js';

/**
 * Programmers that reach the chip through port I/O, PCI BARs or /dev/mem: flashrom needs root for them.
 * The others (dummy, USB and serial programmers, linux_spi, linux_mtd) need only access to their device.
 */
const ROOT_PROGRAMMERS = new Set([
  'internal', 'nic3com', 'nicrealtek', 'nicnatsemi', 'gfxnvidia', 'drkaiser', 'satasii', 'atavia', 'atahpt', 'atapromise',
  'it8212', 'rayer_spi', 'nicintel', 'nicintel_spi', 'nicintel_eeprom', 'ogp_spi', 'satamv',
]);

export function programmerNeedsRoot(programmer: string): boolean {
  return ROOT_PROGRAMMERS.has(programmer.split(':')[0]!);
}

/** How flashrom selects the bytes to write: the whole chip, or one region of a layout or of the IFD. */
export type RegionSelector = { layoutFile: string; region: string } | { ifd: true; region: string } | null;

export function regionArgs(sel: RegionSelector): string[] {
  if (!sel) return [];
  // -N: verify only the included region, as the other regions may be unreadable (a locked ME region).
  return 'layoutFile' in sel ? ['-l', sel.layoutFile, '-i', sel.region, '-N'] : ['--ifd', '-i', sel.region, '-N'];
}

/** flashrom for one programmer, each operation one exec call with flashrom's failures mapped. */
export class FlashromCli {
  constructor(
    private readonly exec: Exec,
    private readonly programmer: string,
    private readonly route: Route,
    private readonly cwd: string,
  ) {}

  /** The exact argv of an operation, sudo included: what runs, and what --dry-run prints. */
  argv(args: readonly string[]): string[] {
    return withRoute(this.route, ['flashrom', '-p', this.programmer, ...args]);
  }

  async chipSize(): Promise<number> {
    const out = await this.run(['--flash-size']);
    const line = out.stdout.trim().split('\n').reverse().find((l) => /^\d+$/.test(l.trim()));
    if (!line) throw flashromError(this.argv(['--flash-size']), 0, `${out.stderr}\n${out.stdout}\nno chip size in flashrom's output`);
    return Number(line.trim());
  }

  async read(path: string): Promise<void> {
    await this.run(['-r', path]);
  }

  /** Erase, write and verify (flashrom's -w always verifies unless told not to), with progress. */
  async write(
    path: string,
    sel: RegionSelector,
    range: { start: number; size: number },
    onProgress: (p: FlashromProgress) => void,
  ): Promise<BlockCounts> {
    const parser = new FlashromOutputParser(range, onProgress);
    await this.run(['-V', ...regionArgs(sel), '-w', path], (chunk) => parser.feed(chunk));
    parser.flush();
    return parser.blocks;
  }

  writeArgs(path: string, sel: RegionSelector): string[] {
    return this.argv(['-V', ...regionArgs(sel), '-w', path]);
  }

  private async run(args: readonly string[], onOutput?: (chunk: string) => void): Promise<{ stdout: string; stderr: string }> {
    const argv = this.argv(args);
    const r = await this.exec(argv[0]!, argv.slice(1), { cwd: this.cwd, ...(onOutput ? { onOutput } : {}) });
    if (r.spawnError) throw spawnFailure(argv, r.spawnError, argv[0] === 'sudo' ? 'install sudo, or run fwup as root' : 'install flashrom (Debian: apt-get install flashrom)');
    if (r.exitCode !== 0) throw flashromError(argv, r.exitCode, `${r.stderr}\n${r.stdout}`);
    return r;
  }
}
