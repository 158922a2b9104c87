import { FwupError } from '../errors/fwup-error.js';
import { defineLayout, type Layout, type FieldSpec, type StructOf } from '../util/layout.js';
import type { VariableStore } from './nvram/variable-store.js';

/**
 * The platform's NVRAM variables, each a declared layout with a magic and its own CRC-32 (on top of the
 * store's record CRC): the firmware distrusts anything the OS wrote and validates it before use.
 */
export const VARIABLE = {
  UPDATE_REQUEST: 'UpdateRequest',
  LAST_ATTEMPT: 'LastAttempt',
} as const;

/**
 * The only variables the OS may write (through the firmware's variable service): everything else in
 * NVRAM is firmware state, and the critical part of it lives in the boot record, not here.
 */
export const OS_WRITABLE_VARIABLES: readonly string[] = [VARIABLE.UPDATE_REQUEST];

/** UEFI ESRT LAST_ATTEMPT_STATUS values. */
export const LAST_ATTEMPT_STATUS = {
  SUCCESS: 0,
  ERROR_UNSUCCESSFUL: 1,
  ERROR_INSUFFICIENT_RESOURCES: 2,
  ERROR_INCORRECT_VERSION: 3,
  ERROR_INVALID_FORMAT: 4,
  ERROR_AUTH_ERROR: 5,
  ERROR_PWR_EVT_AC: 6,
  ERROR_PWR_EVT_BATT: 7,
} as const;

export type LastAttemptStatus = (typeof LAST_ATTEMPT_STATUS)[keyof typeof LAST_ATTEMPT_STATUS];

export function lastAttemptStatusName(s: number): string {
  const e = Object.entries(LAST_ATTEMPT_STATUS).find(([, v]) => v === s);
  return e ? e[0].toLowerCase().replace(/^error_/, '').replace(/_/g, '-') : `unknown-${s}`;
}

/** A variable codec: layout with `magic` first and `crc32` last (checked on decode, by the layout). */
interface Codec<F extends readonly FieldSpec[]> {
  layout: Layout<F>;
  encode(v: Omit<StructOf<F>, 'magic' | 'crc32'>): Buffer;
  decode(bytes: Buffer): StructOf<F>;
}

function codec<const F extends readonly FieldSpec[]>(name: string, magic: number, fields: F): Codec<F> {
  const layout = defineLayout(name, fields, { code: 'NVRAM_CORRUPT', crc: 'crc32' as F[number]['name'] });
  return {
    layout,
    encode: (v) => layout.serialize({ ...v, magic, crc32: 0 } as unknown as StructOf<F>),
    decode(bytes) {
      if (bytes.length !== layout.size) {
        throw new FwupError('NVRAM_CORRUPT', `${name} is ${bytes.length} bytes, expected ${layout.size}`);
      }
      const v = layout.parse(bytes) as StructOf<F> & { magic: number };
      if (v.magic !== magic) throw new FwupError('NVRAM_CORRUPT', `${name} has a bad magic`);
      return v;
    },
  };
}

/**
 * APPLY: act at the next reset. WARM: a processor-only reset with saved CPU state (else cold).
 * ROLLBACK: switch to the previous slot instead of installing (no image).
 */
export const REQUEST_FLAGS = { WARM: 0x1, ALLOW_OLDER: 0x2, ALLOW_UNSIGNED: 0x4, APPLY: 0x8, ROLLBACK: 0x10 } as const;
export const KNOWN_REQUEST_FLAGS = 0x1f;
export const IMAGE_FORMAT_ID = { fwup: 1, capsule: 2, raw: 3 } as const;

/** The state-pointer record: where the staged image is, what it must hash to, and (at apply) where the saved CPU state is. */
export const updateRequestCodec = codec('UpdateRequest', 0x51525746 /* FWRQ */, [
  { name: 'magic', type: 'u32' },
  { name: 'recordVersion', type: 'u16', equals: 2 },
  { name: 'flags', type: 'u16' },
  { name: 'regionOffset', type: 'u32', doc: 'flash offset of the STAGING region' },
  { name: 'imageOffset', type: 'u32', doc: 'offset of the image inside STAGING' },
  { name: 'imageLength', type: 'u32' },
  { name: 'imageSha256', type: 'bytes', length: 32, doc: 'SHA-256 of every byte of the staged image (the file)' },
  { name: 'imageFormat', type: 'u8' },
  { name: 'reserved0', type: 'u8', equals: 0 },
  { name: 'cpuCount', type: 'u16', doc: 'CPUs whose state was saved; 0 before apply' },
  { name: 'versionNumber', type: 'u32' },
  { name: 'version', type: 'text', length: 32 },
  { name: 'stateSaveAddress', type: 'u64', doc: 'RAM address of the state-save area; 0 before apply' },
  { name: 'stateSaveLength', type: 'u32' },
  { name: 'stateSaveCrc32', type: 'u32', doc: 'CRC-32 over the whole state-save area' },
  { name: 'stagedAt', type: 'u64', doc: 'milliseconds since 1970' },
  { name: 'crc32', type: 'u32' },
] as const);

export type UpdateRequest = Omit<StructOf<typeof updateRequestCodec.layout.fields>, 'magic' | 'crc32'>;

export const SLOT = { A: 0, B: 1 } as const;
export type SlotId = 0 | 1;
export const slotName = (s: number): 'A' | 'B' => (s === 0 ? 'A' : 'B');

export const lastAttemptCodec = codec('LastAttempt', 0x414c5746 /* FWLA */, [
  { name: 'magic', type: 'u32' },
  { name: 'status', type: 'u32', max: 7 },
  { name: 'versionNumber', type: 'u32' },
  { name: 'version', type: 'text', length: 32 },
  { name: 'time', type: 'u64' },
  { name: 'crc32', type: 'u32' },
] as const);

export type LastAttempt = Omit<StructOf<typeof lastAttemptCodec.layout.fields>, 'magic' | 'crc32'>;

export const historyEntryLayout = defineLayout('HistoryEntry', [
  { name: 'sequence', type: 'u32', doc: 'increasing; the entry lives in variable History.(sequence mod 32)' },
  { name: 'time', type: 'u64' },
  { name: 'action', type: 'text', length: 12 },
  { name: 'fromVersion', type: 'u32' },
  { name: 'toVersion', type: 'u32' },
  { name: 'fromDisplay', type: 'text', length: 32, doc: 'the versions as people read them' },
  { name: 'toDisplay', type: 'text', length: 32 },
  { name: 'status', type: 'u32' },
  { name: 'detail', type: 'text', length: 64 },
] as const, { code: 'NVRAM_CORRUPT' });

/** The longest detail a history entry keeps (bytes of UTF-8). */
export const HISTORY_DETAIL_BYTES = 64;

export type HistoryEntry = Omit<StructOf<typeof historyEntryLayout.fields>, 'sequence'>;
export const HISTORY_MAX = 32;
const HISTORY_PREFIX = 'History.';

/** Typed access to the platform variables over a store. */
export class PlatformVariables {
  constructor(readonly store: VariableStore) {}

  request(): UpdateRequest | null {
    const b = this.store.get(VARIABLE.UPDATE_REQUEST);
    return b ? updateRequestCodec.decode(b) : null;
  }

  setRequest(r: UpdateRequest): void {
    this.store.set(VARIABLE.UPDATE_REQUEST, updateRequestCodec.encode(r));
  }

  /** Room for an update request (checked before anything is written). */
  canStoreRequest(): boolean {
    return this.store.canStore(VARIABLE.UPDATE_REQUEST, updateRequestCodec.layout.size);
  }

  clearRequest(): boolean {
    return this.store.delete(VARIABLE.UPDATE_REQUEST);
  }

  lastAttempt(): LastAttempt | null {
    const b = this.store.get(VARIABLE.LAST_ATTEMPT);
    return b ? lastAttemptCodec.decode(b) : null;
  }

  setLastAttempt(a: LastAttempt): void {
    this.store.set(VARIABLE.LAST_ATTEMPT, lastAttemptCodec.encode(a));
  }

  /** The bounded history, oldest first: one small variable per entry, so adding one rewrites ~100 bytes. */
  history(): HistoryEntry[] {
    return this.historyEntries().map(({ sequence: _s, ...e }) => e);
  }

  /** Append, overwriting the oldest of HISTORY_MAX entries. */
  addHistory(e: HistoryEntry): void {
    const [r] = this.historyRecords([e]);
    this.store.set(r!.name, r!.data);
  }

  /** The variables that append `entries` to the history (for one `store.commit` with other writes). */
  historyRecords(entries: readonly HistoryEntry[]): Array<{ name: string; data: Buffer }> {
    const first = (this.historyEntries().at(-1)?.sequence ?? -1) + 1;
    return entries.slice(-HISTORY_MAX).map((e, i) => {
      const sequence = first + i;
      return { name: `${HISTORY_PREFIX}${String(sequence % HISTORY_MAX).padStart(2, '0')}`, data: historyEntryLayout.serialize({ sequence, ...e, detail: clipText(e.detail, HISTORY_DETAIL_BYTES) }) };
    });
  }

  /** The variable that records the last attempt (for one `store.commit` with other writes). */
  lastAttemptRecord(a: LastAttempt): { name: string; data: Buffer } {
    return { name: VARIABLE.LAST_ATTEMPT, data: lastAttemptCodec.encode(a) };
  }

  /** Entries oldest first; one that does not parse (damaged) is left out rather than failing them all. */
  private historyEntries(): Array<StructOf<typeof historyEntryLayout.fields>> {
    const out = [];
    for (const n of this.store.names()) {
      if (!n.startsWith(HISTORY_PREFIX)) continue;
      try {
        out.push(historyEntryLayout.parse(this.store.get(n)!));
      } catch {
        /* a damaged entry: the others still tell the story */
      }
    }
    return out.sort((a, b) => a.sequence - b.sequence);
  }
}

/** At most `max` bytes of UTF-8, cut at a word boundary where one is near, with an ellipsis when cut. */
export function clipText(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  let out = '';
  for (const ch of s) {
    if (Buffer.byteLength(out + ch) > max - 3) break;
    out += ch;
  }
  const space = out.lastIndexOf(' ');
  if (space > out.length * 0.6) out = out.slice(0, space);
  return `${out.trimEnd()}…`;
}
