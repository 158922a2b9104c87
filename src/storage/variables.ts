import { FwupError } from '../errors/fwup-error.js';
import { crc32 } from '../util/crc32.js';
import { defineLayout, type Layout, type FieldSpec, type StructOf } from '../util/layout.js';
import type { VariableStore } from './nvram/variable-store.js';

/**
 * The platform's NVRAM variables, each a declared layout with a magic and its own CRC-32 (on top of the
 * store's record CRC): the firmware distrusts anything the OS wrote and validates it before use.
 */
export const VARIABLE = {
  UPDATE_REQUEST: 'UpdateRequest',
  BOOT_STATE: 'BootState',
  SECURITY_VERSION: 'SecurityVersion',
  LAST_ATTEMPT: 'LastAttempt',
  UPDATE_PROGRESS: 'UpdateProgress',
} as const;

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

/** A variable codec: layout with `magic` first and `crc32` last, checked on decode. */
interface Codec<F extends readonly FieldSpec[]> {
  layout: Layout<F>;
  encode(v: Omit<StructOf<F>, 'magic' | 'crc32'>): Buffer;
  decode(bytes: Buffer): StructOf<F>;
}

function codec<const F extends readonly FieldSpec[]>(name: string, magic: number, fields: F): Codec<F> {
  const layout = defineLayout(name, fields);
  const crcAt = layout.offsetOf('crc32' as F[number]['name']);
  return {
    layout,
    encode(v) {
      const buf = layout.serialize({ ...v, magic, crc32: 0 } as unknown as StructOf<F>);
      buf.writeUInt32LE(crc32(buf.subarray(0, crcAt)), crcAt);
      return buf;
    },
    decode(bytes) {
      if (bytes.length !== layout.size) {
        throw new FwupError('NVRAM_CORRUPT', `${name} is ${bytes.length} bytes, expected ${layout.size}`);
      }
      const v = layout.parse(bytes) as StructOf<F> & { magic: number; crc32: number };
      if (v.magic !== magic) throw new FwupError('NVRAM_CORRUPT', `${name} has a bad magic`);
      if (v.crc32 !== crc32(bytes.subarray(0, crcAt))) throw new FwupError('NVRAM_CORRUPT', `${name} CRC-32 mismatch`);
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
  { name: 'recordVersion', type: 'u16', equals: 1 },
  { name: 'flags', type: 'u16' },
  { name: 'regionOffset', type: 'u32', doc: 'flash offset of the STAGING region' },
  { name: 'imageOffset', type: 'u32', doc: 'offset of the image inside STAGING' },
  { name: 'imageLength', type: 'u32' },
  { name: 'imageCrc32', type: 'u32' },
  { name: 'imageSha256', type: 'bytes', length: 32 },
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
export const slotName = (s: number) => (s === 0 ? 'A' : 'B');

/** Which slot boots, and whether it is still on trial (a reset before confirmation reverts to `previous`). */
export const bootStateCodec = codec('BootState', 0x54425746 /* FWBT */, [
  { name: 'magic', type: 'u32' },
  { name: 'active', type: 'u8', max: 1 },
  { name: 'previous', type: 'u8', max: 1 },
  { name: 'trial', type: 'u8', max: 1 },
  { name: 'trialBoots', type: 'u8', doc: 'boots of the trial slot so far' },
  { name: 'counter', type: 'u32', doc: 'incremented on every change' },
  { name: 'crc32', type: 'u32' },
] as const);

export type BootState = Omit<StructOf<typeof bootStateCodec.layout.fields>, 'magic' | 'crc32'>;

export const securityVersionCodec = codec('SecurityVersion', 0x56535746 /* FWSV */, [
  { name: 'magic', type: 'u32' },
  { name: 'value', type: 'u32' },
  { name: 'crc32', type: 'u32' },
] as const);

export const lastAttemptCodec = codec('LastAttempt', 0x414c5746 /* FWLA */, [
  { name: 'magic', type: 'u32' },
  { name: 'status', type: 'u32', max: 7 },
  { name: 'versionNumber', type: 'u32' },
  { name: 'version', type: 'text', length: 32 },
  { name: 'time', type: 'u64' },
  { name: 'crc32', type: 'u32' },
] as const);

export type LastAttempt = Omit<StructOf<typeof lastAttemptCodec.layout.fields>, 'magic' | 'crc32'>;

/** Written before the firmware touches a slot, cleared when the update is activated: "was an update interrupted?" */
export const updateProgressCodec = codec('UpdateProgress', 0x50555746 /* FWUP */, [
  { name: 'magic', type: 'u32' },
  { name: 'targetSlot', type: 'u8', max: 1 },
  { name: 'reserved', type: 'bytes', length: 3 },
  { name: 'versionNumber', type: 'u32' },
  { name: 'imageSha256', type: 'bytes', length: 32 },
  { name: 'crc32', type: 'u32' },
] as const);

export type UpdateProgress = Omit<StructOf<typeof updateProgressCodec.layout.fields>, 'magic' | 'crc32'>;

export const historyEntryLayout = defineLayout('HistoryEntry', [
  { name: 'sequence', type: 'u32', doc: 'increasing; the entry lives in variable History.(sequence mod 32)' },
  { name: 'time', type: 'u64' },
  { name: 'action', type: 'text', length: 12 },
  { name: 'fromVersion', type: 'u32' },
  { name: 'toVersion', type: 'u32' },
  { name: 'status', type: 'u32' },
  { name: 'detail', type: 'text', length: 40 },
] as const);

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

  bootState(): BootState {
    const b = this.store.get(VARIABLE.BOOT_STATE);
    if (!b) throw new FwupError('NVRAM_CORRUPT', 'BootState variable is missing');
    return bootStateCodec.decode(b);
  }

  setBootState(s: BootState): void {
    this.store.set(VARIABLE.BOOT_STATE, bootStateCodec.encode(s));
  }

  securityVersion(): number {
    const b = this.store.get(VARIABLE.SECURITY_VERSION);
    return b ? securityVersionCodec.decode(b).value : 0;
  }

  /** Monotonic: the security version never goes down. */
  raiseSecurityVersion(v: number): void {
    if (v > this.securityVersion()) this.store.set(VARIABLE.SECURITY_VERSION, securityVersionCodec.encode({ value: v }));
  }

  lastAttempt(): LastAttempt | null {
    const b = this.store.get(VARIABLE.LAST_ATTEMPT);
    return b ? lastAttemptCodec.decode(b) : null;
  }

  setLastAttempt(a: LastAttempt): void {
    this.store.set(VARIABLE.LAST_ATTEMPT, lastAttemptCodec.encode(a));
  }

  progress(): UpdateProgress | null {
    const b = this.store.get(VARIABLE.UPDATE_PROGRESS);
    return b ? updateProgressCodec.decode(b) : null;
  }

  setProgress(p: UpdateProgress): void {
    this.store.set(VARIABLE.UPDATE_PROGRESS, updateProgressCodec.encode(p));
  }

  clearProgress(): boolean {
    return this.store.delete(VARIABLE.UPDATE_PROGRESS);
  }

  /** The bounded history, oldest first: one small variable per entry, so adding one rewrites ~100 bytes. */
  history(): HistoryEntry[] {
    const entries = this.store
      .names()
      .filter((n) => n.startsWith(HISTORY_PREFIX))
      .map((n) => historyEntryLayout.parse(this.store.get(n)!))
      .sort((a, b) => a.sequence - b.sequence);
    return entries.map(({ sequence: _s, ...e }) => e);
  }

  /** Append, overwriting the oldest of HISTORY_MAX entries. */
  addHistory(e: HistoryEntry): void {
    let last = -1;
    for (const n of this.store.names()) {
      if (n.startsWith(HISTORY_PREFIX)) last = Math.max(last, historyEntryLayout.parse(this.store.get(n)!).sequence);
    }
    const sequence = last + 1;
    this.store.set(`${HISTORY_PREFIX}${String(sequence % HISTORY_MAX).padStart(2, '0')}`, historyEntryLayout.serialize({ sequence, ...e }));
  }
}
