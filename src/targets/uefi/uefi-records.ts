import { readdir } from 'node:fs/promises';
import type { HostState } from '../host-state.js';
import type { UefiPending, UefiRequest } from './uefi-results.js';

/**
 * The uefi target's records, one set per ESRT entry: a capsule is staged for the entry its first
 * payload targets (its key, the entry's fw_class GUID), and each entry has its own
 * `intent-<GUID>.json`, `request-<GUID>.json` and `pending-<GUID>.json`, each written atomically (the
 * HostState way). fwup before several capsules per reboot kept one set without the key
 * (`intent.json`, `request.json`, `pending.json`): those are still read, keyed by the entry they name,
 * and go the first time their entry's record is written or removed.
 */
export type RecordKind = 'intent' | 'request' | 'pending';

const WHAT: Record<RecordKind, string> = { intent: 'delivery intent', request: 'staged request', pending: 'pending attempt' };
const GUID = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;

export interface Keyed<T> {
  key: string;
  /** The file it was read from (a legacy one, or the keyed one). */
  name: string;
  record: T;
}

/** The key of a record: the fw_class of the entry its capsule's first payload targets. */
export function keyOf(r: Pick<UefiRequest, 'entries'>): string {
  return (r.entries[0]?.fwClass ?? 'NONE').toUpperCase();
}

export function isKey(text: string): boolean {
  return GUID.test(text.toUpperCase());
}

export class UefiRecords {
  constructor(readonly state: HostState) {}

  name(kind: RecordKind, key: string): string {
    return `${kind}-${key.toUpperCase()}.json`;
  }

  path(kind: RecordKind, key: string): string {
    return this.state.path(this.name(kind, key));
  }

  /** Every record of a kind, by key (ordered by key); a keyed record wins over a legacy one for the same entry. */
  /** `tolerant`: a damaged record is skipped instead of refused (an intent is advisory: what it names is undone if readable). */
  async list<T extends UefiRequest = UefiRequest>(kind: RecordKind, tolerant = false): Promise<Array<Keyed<T>>> {
    const names = await readdir(this.state.dir).catch(() => [] as string[]);
    const out = new Map<string, Keyed<T>>();
    const prefix = `${kind}-`;
    for (const n of names.filter((x) => x.startsWith(prefix) && x.endsWith('.json')).sort()) {
      const key = n.slice(prefix.length, -'.json'.length);
      if (!isKey(key)) continue;
      const record = await this.state.read<T>(n, WHAT[kind]).catch((e: unknown) => {
        if (tolerant) return null;
        throw e;
      });
      if (record) out.set(key, { key, name: n, record });
    }
    const legacy = await this.legacy<T>(kind).catch((e: unknown) => {
      if (tolerant) return null;
      throw e;
    });
    if (legacy && !out.has(legacy.key)) out.set(legacy.key, legacy);
    return [...out.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  async get<T extends UefiRequest = UefiRequest>(kind: RecordKind, key: string): Promise<T | null> {
    const k = key.toUpperCase();
    const own = await this.state.read<T>(this.name(kind, k), WHAT[kind]);
    if (own) return own;
    const legacy = await this.legacy<T>(kind);
    return legacy?.key === k ? legacy.record : null;
  }

  async write<T extends UefiRequest>(kind: RecordKind, key: string, record: T): Promise<void> {
    await this.state.write(this.name(kind, key), record);
    await this.dropLegacy(kind, key);
  }

  async remove(kind: RecordKind, key: string): Promise<void> {
    await this.state.remove(this.name(kind, key));
    await this.dropLegacy(kind, key);
  }

  /** The record of the previous layout, when there is one. */
  private async legacy<T extends UefiRequest>(kind: RecordKind): Promise<Keyed<T> | null> {
    const name = `${kind}.json`;
    const record = await this.state.read<T>(name, WHAT[kind]);
    return record ? { key: keyOf(record), name, record } : null;
  }

  /** The keyed record now stands for its entry: a legacy one for the same entry goes (written first, removed second: a crash between leaves the keyed one, which wins). */
  private async dropLegacy(kind: RecordKind, key: string): Promise<void> {
    const legacy = await this.legacy(kind).catch(() => null);
    if (legacy && legacy.key === key.toUpperCase()) await this.state.remove(legacy.name);
  }
}

/** Staged and pending records of every entry, read once: what a stage, an apply, an unstage work from. */
export interface RecordSet {
  requests: Array<Keyed<UefiRequest>>;
  pendings: Array<Keyed<UefiPending>>;
  intents: Array<Keyed<UefiRequest>>;
}

export async function readAll(records: UefiRecords): Promise<RecordSet> {
  return {
    requests: await records.list<UefiRequest>('request'),
    pendings: await records.list<UefiPending>('pending'),
    intents: await records.list<UefiRequest>('intent', true),
  };
}
