import { FwupError } from '../../errors/fwup-error.js';
import { clipText, HISTORY_DETAIL_BYTES, type LastAttemptStatus } from '../../storage/variables.js';
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
    this.bestEffort(() =>
      this.view.vars.addHistory({
        time: this.time(), action, fromVersion: from.number, toVersion: to.number, fromDisplay: clipText(from.display, 32), toDisplay: clipText(to.display, 32),
        status, detail: clipText(detail, HISTORY_DETAIL_BYTES),
      }),
    );
  }

  lastAttempt(status: LastAttemptStatus, versionNumber: number, version: string): void {
    this.bestEffort(() => this.view.vars.setLastAttempt({ status, versionNumber, version: clipText(version, 32), time: this.time() }));
  }

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
