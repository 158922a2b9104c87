import { FwupError } from '../../errors/fwup-error.js';
import { crc32 } from '../../util/crc32.js';
import { ERASED, isErased, type Flash } from '../flash.js';
import type { Region } from '../flash-map.js';
import {
  alignUp, MAX_DATA_BYTES, MAX_NAME_BYTES, RECORD_ALIGN, RECORD_START_ID, RECORD_STATE, recordHeaderLayout, recordStatus,
  STORE_FORMAT_VERSION, STORE_MAGIC, STORE_STATE, storeHeaderLayout, type RecordStatus,
} from './store-layout.js';

interface Record {
  offset: number;
  status: RecordStatus;
  state: number;
  name: string;
  data: Buffer;
  crcOk: boolean;
}

interface CopyInfo {
  valid: boolean;
  generation: number;
}

export interface StoreUsage {
  size: number;
  /** Bytes of the log in use (header and every record, live or dead). */
  used: number;
  /** Bytes that live variables would need after a reclaim. */
  live: number;
  free: number;
  generation: number;
  variables: number;
  records: number;
  /** Torn bytes after the log: the next write reclaims first. */
  dirtyTail: boolean;
  /** What the last open found damaged (the next write, or the firmware at boot, repairs it by a reclaim). */
  damage: { header: boolean; skippedBytes: number; badRecords: number };
}

export interface OpenOptions {
  /** Allowed to write: finishes an interrupted reclaim and the deletions an interrupted update left. */
  writable: boolean;
  /** Format a blank region (machine init). */
  format?: boolean;
}

/**
 * The power-fail-safe variable store over the NVRAM region, with the spare region for reclaim.
 *
 * Update of X (old record R): R -> in-deleted-transition; append new record (header+name+data with state
 * 0xFF, then 0x7F header valid, then 0x3F added); R -> deleted. A power cut at any step leaves X with
 * its old value (R, in transition, is still read while no complete new record exists) or its new one.
 *
 * Reclaim: erase spare, write the compacted store there (generation + 1), mark it valid (the commit
 * point), erase the primary, copy back, mark it valid. At open, a valid spare newer than the primary
 * means a reclaim was interrupted after its commit: the copy back is redone.
 */
export class VariableStore {
  private records: Record[] = [];
  private end = 0;
  private dirtyTail = false;
  private generation = 0;
  /** Damage found by the last load: a rebuilt header, bytes skipped between records. */
  private damage = { header: false, skippedBytes: 0, badRecords: 0 };
  /** Set when the live copy is in the spare (read-only open during an interrupted reclaim). */
  private readonly base: Region;

  private constructor(
    private readonly flash: Flash,
    private readonly primary: Region,
    private readonly spare: Region,
    private readonly writable: boolean,
    base: Region,
  ) {
    if (primary.size !== spare.size) throw new FwupError('TARGET_CORRUPT', 'NVRAM and its spare differ in size');
    this.base = base;
  }

  static open(flash: Flash, primary: Region, spare: Region, opts: OpenOptions): VariableStore {
    const p = readCopyInfo(flash, primary);
    const s = readCopyInfo(flash, spare);
    let base = primary;
    let salvage = false;
    if (s.valid && (!p.valid || s.generation > p.generation)) {
      // A reclaim committed to the spare but did not finish copying back (or the primary's header was
      // damaged since a reclaim): the spare is the store.
      if (opts.writable) copyRegion(flash, spare, primary);
      else base = spare;
    } else if (!p.valid) {
      const blank = isErased(flash.read(primary.offset, primary.size));
      if (blank && opts.format && opts.writable) {
        writeStore(flash, primary, 1, []);
      } else if (blank) {
        throw new FwupError('NVRAM_CORRUPT', 'NVRAM is not formatted', { hint: 're-create the machine with `fwup machine init --force`' });
      } else {
        // A damaged store header with no spare to fall back on: every record keeps its own CRC, so
        // they are read as they are, and the next write rebuilds the store around them.
        salvage = true;
      }
    }
    const store = new VariableStore(flash, primary, spare, opts.writable, base);
    store.load(salvage);
    if (salvage && opts.writable) store.reclaim();
    return store;
  }

  get(name: string): Buffer | undefined {
    return this.live().get(name)?.data;
  }

  names(): string[] {
    return [...this.live().keys()].sort();
  }

  /** Atomically replace (or create) a variable. */
  set(name: string, data: Uint8Array): void {
    this.requireWritable();
    checkVariable(name, data);
    this.finishDeletions();
    const old = this.live().get(name);
    if (old && old.crcOk && old.data.equals(data)) return;
    const bytes = encodeRecord(name, Buffer.from(data), 0xff);
    if (this.dirtyTail || this.end + bytes.length > this.base.size) {
      this.reclaim({ name, data: Buffer.from(data) });
      return;
    }
    if (old && old.status === 'added') this.programState(old, old.state & RECORD_STATE.IN_DELETED_TRANSITION_MASK);
    this.append(name, Buffer.from(data), bytes);
    if (old) {
      // Barrier: the new record must be durable before the old one is deleted, or a host crash could
      // keep the deletion and lose the addition (emulated power cuts never reorder; host page caches can).
      this.flash.sync();
      this.programState(old, old.state & RECORD_STATE.DELETED_MASK);
    }
    this.flash.sync();
  }

  /**
   * Sets and deletes as one commit point, in `set`'s order per variable (old records in transition, new
   * ones appended, a barrier, the deletions, a sync): two syncs in all. A cut leaves each variable old or
   * new, as between separate `set`s. One at a time when the store needs a reclaim first.
   */
  commit(ops: ReadonlyArray<{ name: string; data: Uint8Array | null }>): void {
    this.requireWritable();
    for (const o of ops) if (o.data) checkVariable(o.name, o.data);
    if (new Set(ops.map((o) => o.name)).size !== ops.length) throw new Error('one commit names a variable once');
    this.finishDeletions();
    const live = this.live();
    const sets = ops.filter((o): o is { name: string; data: Uint8Array } => o.data !== null && !(live.get(o.name)?.crcOk && live.get(o.name)!.data.equals(o.data)));
    const deletes = ops.filter((o) => o.data === null && live.has(o.name));
    const encoded = sets.map((o) => ({ name: o.name, data: Buffer.from(o.data), bytes: encodeRecord(o.name, Buffer.from(o.data), 0xff) }));
    if (this.dirtyTail || this.end + encoded.reduce((n, e) => n + e.bytes.length, 0) > this.base.size) {
      for (const o of ops) void (o.data ? this.set(o.name, o.data) : this.delete(o.name));
      return;
    }
    const replaced = encoded.map((e) => live.get(e.name)).filter((r): r is Record => r !== undefined);
    for (const old of replaced) if (old.status === 'added') this.programState(old, old.state & RECORD_STATE.IN_DELETED_TRANSITION_MASK);
    for (const e of encoded) this.append(e.name, e.data, e.bytes);
    const olds = [...replaced, ...deletes.map((o) => live.get(o.name)!)];
    if (encoded.length && olds.length) this.flash.sync(); // the barrier
    for (const old of olds) this.programState(old, old.state & RECORD_STATE.DELETED_MASK);
    if (encoded.length || olds.length) this.flash.sync();
  }

  /**
   * Whether `set(name, <dataLength bytes>)` can succeed (through a reclaim if need be), so a caller can
   * refuse before it writes anything else.
   */
  canStore(name: string, dataLength: number): boolean {
    const current = this.live().get(name);
    const live = this.usage().live - (current ? recordSize(name, current.data.length) : 0);
    return live + recordSize(name, dataLength) <= this.base.size;
  }

  /** Delete a variable (one bit: atomic). Returns false when it did not exist. */
  delete(name: string): boolean {
    this.requireWritable();
    this.finishDeletions();
    const old = this.live().get(name);
    if (!old) return false;
    this.programState(old, old.state & RECORD_STATE.DELETED_MASK);
    this.flash.sync();
    return true;
  }

  usage(): StoreUsage {
    const live = [...this.live().values()].reduce((n, r) => n + recordSize(r.name, r.data.length), storeHeaderLayout.size);
    return {
      size: this.base.size,
      used: this.end,
      live,
      free: this.base.size - this.end,
      generation: this.generation,
      variables: this.live().size,
      records: this.records.length,
      dirtyTail: this.dirtyTail,
      damage: { ...this.damage, badRecords: this.damage.badRecords + this.records.filter((r) => !r.crcOk).length },
    };
  }

  /** Compact into the spare and copy back; `pending` is included as the new value of its variable. */
  reclaim(pending?: { name: string; data: Buffer }): void {
    this.requireWritable();
    const live = new Map([...this.live()].map(([k, r]) => [k, r.data]));
    if (pending) live.set(pending.name, pending.data);
    const records = [...live].map(([n, d]) => encodeRecord(n, d, RECORD_STATE.ADDED));
    const needed = storeHeaderLayout.size + records.reduce((n, r) => n + r.length, 0);
    if (needed > this.base.size) {
      throw new FwupError('NVRAM_FULL', `NVRAM is full: live variables need ${needed} of ${this.base.size} bytes`, {
        hint: 'remove variables (e.g. `fwup unstage`) or use a machine with more NVRAM',
      });
    }
    const gen = this.generation + 1;
    writeStore(this.flash, this.spare, gen, records);
    copyRegion(this.flash, this.spare, this.primary);
    this.load();
  }

  private live(): Map<string, Record> {
    const out = new Map<string, Record>();
    const transition = new Map<string, Record>();
    for (const r of this.records) {
      if (!r.crcOk) continue;
      if (r.status === 'added') out.set(r.name, r);
      else if (r.status === 'in-transition') transition.set(r.name, r);
    }
    for (const [name, r] of transition) if (!out.has(name)) out.set(name, r);
    return out;
  }

  /** An interrupted update leaves its old record in transition next to the new one: delete it now. */
  private finishDeletions(): void {
    const live = this.live();
    for (const r of this.records) {
      if (r.status === 'in-transition' && live.get(r.name) !== r) this.programState(r, r.state & RECORD_STATE.DELETED_MASK);
    }
  }

  private append(name: string, data: Buffer, bytes: Buffer): void {
    const at = this.base.offset + this.end;
    // Padding stays erased, so only the record itself is programmed.
    const len = recordHeaderLayout.size + Buffer.byteLength(name) + data.length;
    this.flash.program(at, bytes.subarray(0, len));
    const rec: Record = { offset: this.end, status: 'incomplete', state: 0xff, name, data, crcOk: true };
    this.records.push(rec);
    this.end += bytes.length;
    this.programState(rec, RECORD_STATE.HEADER_VALID);
    this.programState(rec, RECORD_STATE.ADDED);
  }

  private programState(r: Record, state: number): void {
    this.flash.program(this.base.offset + r.offset + recordHeaderLayout.offsetOf('state'), Buffer.of(state));
    r.state = state;
    r.status = recordStatus(state);
  }

  private requireWritable(): void {
    if (!this.writable || this.base !== this.primary) throw new Error('variable store opened read-only');
  }

  private load(salvage = false): void {
    const region = this.flash.read(this.base.offset, this.base.size);
    this.damage = { header: salvage, skippedBytes: 0, badRecords: 0 };
    this.generation = salvage ? 0 : storeHeaderLayout.parse(region).generation;
    this.records = [];
    this.dirtyTail = salvage;
    let at = storeHeaderLayout.size;
    while (at + recordHeaderLayout.size <= region.length) {
      const head = region.subarray(at, at + recordHeaderLayout.size);
      if (isErased(head)) break;
      const h = recordHeaderLayout.parse(head);
      const status = recordStatus(h.state);
      const end = at + recordHeaderLayout.size + h.nameSize + h.dataSize;
      if (h.startId !== RECORD_START_ID || status === 'incomplete' || h.nameSize > MAX_NAME_BYTES || h.dataSize > MAX_DATA_BYTES || end > region.length) {
        // A torn append or a damaged header: its lengths cannot be trusted. Look for the next record
        // start after it (each record is checked by its own CRC), and let the next write reclaim.
        this.dirtyTail = true;
        const next = nextRecordStart(region, at + RECORD_ALIGN);
        if (next < 0) break;
        this.damage.skippedBytes += next - at;
        at = next;
        continue;
      }
      const nameBytes = region.subarray(at + recordHeaderLayout.size, at + recordHeaderLayout.size + h.nameSize);
      const data = Buffer.from(region.subarray(at + recordHeaderLayout.size + h.nameSize, end));
      this.records.push({
        offset: at,
        status,
        state: h.state,
        name: nameBytes.toString('utf8'),
        data,
        crcOk: recordCrc(h.nameSize, h.dataSize, nameBytes, data) === h.crc32,
      });
      at = alignUp(end);
    }
    this.end = Math.min(at, region.length);
    if (!this.dirtyTail && !isErased(region.subarray(this.end))) this.dirtyTail = true;
  }
}

/**
 * The next offset (on the record alignment) that starts a record whose header is complete and whose
 * CRC checks, or -1. Used only after damage, to read on past it.
 */
function nextRecordStart(region: Buffer, from: number): number {
  for (let at = alignUp(from); at + recordHeaderLayout.size <= region.length; at += RECORD_ALIGN) {
    if (region.readUInt16LE(at) !== RECORD_START_ID) continue;
    const h = recordHeaderLayout.parse(region, at);
    const end = at + recordHeaderLayout.size + h.nameSize + h.dataSize;
    if (recordStatus(h.state) === 'incomplete' || h.nameSize > MAX_NAME_BYTES || h.dataSize > MAX_DATA_BYTES || end > region.length) continue;
    const name = region.subarray(at + recordHeaderLayout.size, at + recordHeaderLayout.size + h.nameSize);
    if (recordCrc(h.nameSize, h.dataSize, name, region.subarray(at + recordHeaderLayout.size + h.nameSize, end)) === h.crc32) return at;
  }
  return -1;
}

function checkVariable(name: string, data: Uint8Array): void {
  const n = Buffer.byteLength(name);
  if (n === 0 || n > MAX_NAME_BYTES) throw new Error(`variable name must be 1..${MAX_NAME_BYTES} bytes`);
  if (data.length > MAX_DATA_BYTES) {
    throw new FwupError('NVRAM_FULL', `variable ${name} is ${data.length} bytes, the limit is ${MAX_DATA_BYTES}`);
  }
}

function recordSize(name: string, dataLength: number): number {
  return alignUp(recordHeaderLayout.size + Buffer.byteLength(name) + dataLength);
}

function recordCrc(nameSize: number, dataSize: number, name: Uint8Array, data: Uint8Array): number {
  const sizes = Buffer.alloc(6);
  sizes.writeUInt16LE(nameSize, 0);
  sizes.writeUInt32LE(dataSize, 2);
  return crc32(data, crc32(name, crc32(sizes)));
}

/** A record padded to alignment with erased bytes. */
function encodeRecord(name: string, data: Buffer, state: number): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const out = Buffer.alloc(recordSize(name, data.length), ERASED);
  recordHeaderLayout.serialize(
    {
      startId: RECORD_START_ID,
      state,
      reserved0: 0xff,
      nameSize: nameBytes.length,
      reserved1: 0xffff,
      dataSize: data.length,
      crc32: recordCrc(nameBytes.length, data.length, nameBytes, data),
    },
    out,
  );
  nameBytes.copy(out, recordHeaderLayout.size);
  data.copy(out, recordHeaderLayout.size + nameBytes.length);
  return out;
}

function readCopyInfo(flash: Flash, region: Region): CopyInfo {
  try {
    // The layout checks the magic, the version and the CRC of the header's first 16 bytes.
    const h = storeHeaderLayout.parse(flash.read(region.offset, storeHeaderLayout.size));
    return { valid: h.state === STORE_STATE.VALID && h.regionSize === region.size, generation: h.generation };
  } catch {
    return { valid: false, generation: 0 };
  }
}

/** Write a complete store into an erased-or-not region: erase, header (state 0xFF), records, then commit. */
function writeStore(flash: Flash, region: Region, generation: number, records: Buffer[]): void {
  flash.erase(region.offset, region.size);
  const header = storeHeaderLayout.serialize({
    magic: STORE_MAGIC,
    formatVersion: STORE_FORMAT_VERSION,
    headerSize: 32,
    regionSize: region.size,
    generation,
    crc32: 0,
    state: STORE_STATE.WRITING,
    reserved: Buffer.alloc(11, ERASED),
  });
  const body = Buffer.concat([header, ...records]);
  // Trailing erased padding of the last record need not be programmed.
  flash.program(region.offset, body);
  commit(flash, region);
}

function commit(flash: Flash, region: Region): void {
  flash.sync();
  flash.program(region.offset + storeHeaderLayout.offsetOf('state'), Buffer.of(STORE_STATE.VALID));
  flash.sync();
}

/** Copy a committed store (header written uncommitted, then committed last) into `to`. */
function copyRegion(flash: Flash, from: Region, to: Region): void {
  const bytes = flash.read(from.offset, from.size);
  const stateAt = storeHeaderLayout.offsetOf('state');
  bytes[stateAt] = STORE_STATE.WRITING;
  let used = bytes.length;
  while (used > 0 && bytes[used - 1] === ERASED) used--;
  flash.erase(to.offset, to.size);
  flash.program(to.offset, bytes.subarray(0, Math.max(used, stateAt + 1)));
  commit(flash, to);
}
