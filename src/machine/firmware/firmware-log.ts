import { FwupError } from '../../errors/fwup-error.js';
import { clipText, HISTORY_DETAIL_BYTES, VARIABLE, type HistoryEntry, type LastAttempt, type LastAttemptStatus } from '../../storage/variables.js';
import type { FirmwareView } from './firmware-view.js';

/** A version as a number (for comparisons) and as people read it. */
export interface Ver {
  number: number;
  display: string;
}

export const NO_VERSION: Ver = { number: 0, display: '' };

export function verOf(h: { versionNumber: number; version: string } | null | undefined): Ver {
  return h ? { number: h.versionNumber, display: h.version } : NO_VERSION;
}

/**
 * What the firmware tells: the events of this boot (in words, for the report) and, for what matters
 * after it, the ESRT-style last attempt and a history entry in NVRAM. Recording never stops a boot: a
 * full or damaged NVRAM loses the entry, not the machine.
 */
export class FirmwareLog {
  readonly events: string[] = [];

  constructor(private readonly view: FirmwareView, private readonly now: () => Date) {}

  event(text: string): void {
    this.events.push(text);
  }

  history(action: string, from: Ver, to: Ver, status: number, detail: string): void {
    const e: HistoryEntry = {
      time: this.time(), action, fromVersion: from.number, toVersion: to.number, fromDisplay: clipText(from.display, 32), toDisplay: clipText(to.display, 32),
      status, detail: clipText(detail, HISTORY_DETAIL_BYTES),
    };
    if (this.held) this.held.history.push(e);
    else this.bestEffort(() => this.view.vars.addHistory(e));
  }

  lastAttempt(status: LastAttemptStatus, versionNumber: number, version: string): void {
    const a: LastAttempt = { status, versionNumber, version: clipText(version, 32), time: this.time() };
    if (this.held) this.held.lastAttempt = a;
    else this.bestEffort(() => this.view.vars.setLastAttempt(a));
  }

  /**
   * Hold the NVRAM records of what follows, to write them with the clearing of the request as one
   * commit point (`commit`): the outcome of an update is recorded in the downtime with two syncs
   * instead of one or two per variable.
   */
  hold(): void {
    this.held ??= { lastAttempt: null, history: [] };
  }

  /** Write what was held (and delete the update request with it) as one NVRAM commit. */
  commit(opts: { clearRequest: boolean }): void {
    const held = this.held;
    this.held = null;
    const vars = this.view.vars;
    const ops: Array<{ name: string; data: Uint8Array | null }> = [
      ...(held?.lastAttempt ? [vars.lastAttemptRecord(held.lastAttempt)] : []),
      ...(held ? vars.historyRecords(held.history) : []),
      ...(opts.clearRequest ? [{ name: VARIABLE.UPDATE_REQUEST, data: null }] : []),
    ];
    let done = false;
    this.bestEffort(() => {
      vars.store.commit(ops);
      done = true;
    });
    // A full store loses the records, never the clearing of the request (a delete needs no room).
    if (!done && opts.clearRequest) vars.clearRequest();
  }

  private held: { lastAttempt: LastAttempt | null; history: HistoryEntry[] } | null = null;

  private time(): bigint {
    return BigInt(this.now().getTime());
  }

  private bestEffort(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof FwupError) || (e.code !== 'NVRAM_FULL' && e.code !== 'NVRAM_CORRUPT')) throw e;
      this.events.push(`could not record in NVRAM: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
