import { nowMs } from './shared-state.js';
import { timeBetween, type FlashTime } from '../storage/timed-flash.js';

/** The simulated flash time of one phase, on the modelled chip. */
export interface FlashPhase {
  name: string;
  typicalMs: number;
  worstMs: number;
}

/**
 * Consecutive named phases of a downtime window, each from its start to the next one's. With a flash
 * meter (a timing model's reading), each phase also gets the simulated flash time spent in it.
 */
export class PhaseClock {
  private readonly marks: Array<{ name: string; at: number; flash: FlashTime | null }> = [];
  private endedAt: number | null = null;
  private endFlash: FlashTime | null = null;

  constructor(private readonly meter: (() => FlashTime) | null = null) {}

  start(name: string): void {
    this.marks.push({ name, at: nowMs(), flash: this.meter?.() ?? null });
  }

  end(): void {
    this.endedAt = nowMs();
    this.endFlash = this.meter?.() ?? null;
  }

  phases(): Array<{ name: string; ms: number }> {
    const end = this.endedAt ?? nowMs();
    return this.marks.map((m, i) => ({ name: m.name, ms: (this.marks[i + 1]?.at ?? end) - m.at }));
  }

  total(): number {
    if (!this.marks.length) return 0;
    return (this.endedAt ?? nowMs()) - this.marks[0]!.at;
  }

  /** Simulated flash time per phase (null without a meter). */
  flashPhases(): FlashPhase[] | null {
    if (!this.meter) return null;
    const end = this.endFlash ?? this.meter();
    return this.marks.map((m, i) => {
      const d = timeBetween(m.flash!, this.marks[i + 1]?.flash ?? end);
      return { name: m.name, typicalMs: d.typicalMs, worstMs: d.worstMs };
    });
  }
}
