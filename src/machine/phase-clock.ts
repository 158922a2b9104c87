import { nowMs } from './shared-state.js';

/** Consecutive named phases of a downtime window, each from its start to the next one's. */
export class PhaseClock {
  private readonly marks: Array<{ name: string; at: number }> = [];
  private endedAt: number | null = null;

  start(name: string): void {
    this.marks.push({ name, at: nowMs() });
  }

  end(): void {
    this.endedAt = nowMs();
  }

  phases(): Array<{ name: string; ms: number }> {
    const end = this.endedAt ?? nowMs();
    return this.marks.map((m, i) => ({ name: m.name, ms: (this.marks[i + 1]?.at ?? end) - m.at }));
  }

  total(): number {
    if (!this.marks.length) return 0;
    return (this.endedAt ?? nowMs()) - this.marks[0]!.at;
  }
}
