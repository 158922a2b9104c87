/**
 * Progress from flashrom's own output (flashrom 1.3, run with -V): it announces each phase with a
 * sentence ("Reading old flash chip contents...", "Erasing and writing flash chip...", "Verifying
 * flash...") and, while erasing and writing, prints one token per erase block without a newline:
 * "0x000000-0x000fff:EW, " (S = skipped, unchanged; E = erased; W = written). The parser is fed raw
 * chunks as they arrive, so a token may be split between two chunks.
 */
export interface FlashromProgress {
  phase: 'read' | 'erase-write' | 'verify' | 'done';
  /** Bytes of the range handled so far (erase-write), else 0 or the whole range at the end of a phase. */
  done: number;
  total: number;
}

export interface BlockCounts {
  skipped: number;
  erased: number;
  written: number;
}

const PHASES: ReadonlyArray<readonly [RegExp, FlashromProgress['phase']]> = [
  [/Reading old flash chip contents\.\.\./, 'read'],
  [/Reading flash\.\.\./, 'read'],
  [/Erasing and writing flash chip\.\.\./, 'erase-write'],
  [/Verifying flash\.\.\./, 'verify'],
  [/VERIFIED\./, 'done'],
];

const BLOCK = /0x([0-9a-f]+)-0x([0-9a-f]+):([A-Z]*)/gi;

export class FlashromOutputParser {
  private pending = '';
  private phase: FlashromProgress['phase'] | null = null;
  readonly blocks: BlockCounts = { skipped: 0, erased: 0, written: 0 };

  /** `range`: the bytes being written (the whole chip, or one region at its chip offset). */
  constructor(
    private readonly range: { start: number; size: number },
    private readonly emit: (p: FlashromProgress) => void,
  ) {}

  feed(chunk: string): void {
    this.pending += chunk;
    // Parse up to the last delimiter: block tokens end with ", " and sentences with a newline, so what
    // follows the last one may be the first half of a token.
    const cut = Math.max(this.pending.lastIndexOf(','), this.pending.lastIndexOf('\n'));
    if (cut < 0) return;
    this.parse(this.pending.slice(0, cut + 1));
    this.pending = this.pending.slice(cut + 1);
  }

  flush(): void {
    this.parse(this.pending);
    this.pending = '';
  }

  private parse(text: string): void {
    // Phase sentences and block tokens interleave on one line: walk them in order of position.
    const events: Array<{ at: number; run: () => void }> = [];
    for (const [re, phase] of PHASES) {
      for (const m of text.matchAll(new RegExp(re.source, 'g'))) events.push({ at: m.index ?? 0, run: () => this.enter(phase) });
    }
    for (const m of text.matchAll(BLOCK)) {
      events.push({ at: m.index ?? 0, run: () => this.block(parseInt(m[1]!, 16), parseInt(m[2]!, 16), m[3]!) });
    }
    events.sort((a, b) => a.at - b.at);
    for (const e of events) e.run();
  }

  private enter(phase: FlashromProgress['phase']): void {
    if (this.phase === phase) return;
    this.phase = phase;
    this.emit({ phase, done: phase === 'done' ? this.range.size : 0, total: this.range.size });
  }

  private block(first: number, last: number, ops: string): void {
    if (ops === '' || ops.includes('S')) this.blocks.skipped++;
    if (ops.includes('E')) this.blocks.erased++;
    if (ops.includes('W')) this.blocks.written++;
    const done = Math.min(this.range.size, Math.max(0, last + 1 - this.range.start));
    this.emit({ phase: 'erase-write', done, total: this.range.size });
  }
}
