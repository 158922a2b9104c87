import { FwupError } from '../errors/fwup-error.js';
import type { ErrorCode } from '../errors/codes.js';
import { crc32 } from './crc32.js';

/**
 * Binary layouts declared once. A layout is a list of little-endian fields; `parse`, `serialize`,
 * `offsetOf` and the constant/range checks are all derived from that list, so a format module never
 * hand-writes an offset.
 */
export type FieldType = 'u8' | 'u16' | 'u32' | 'u64' | 'bytes' | 'text' | 'guid';

export interface FieldSpec<N extends string = string, T extends FieldType = FieldType> {
  readonly name: N;
  readonly type: T;
  /** Byte length, required for `bytes` and `text` (NUL-padded UTF-8). */
  readonly length?: number;
  /** A value the field must hold (magic numbers, reserved zeros). */
  readonly equals?: number | bigint | string;
  /** Inclusive bounds for integer fields. */
  readonly min?: number;
  readonly max?: number;
  /** Human description, used in error messages and docs. */
  readonly doc?: string;
}

type ValueOf<T extends FieldType> = T extends 'u64'
  ? bigint
  : T extends 'bytes'
    ? Buffer
    : T extends 'text' | 'guid'
      ? string
      : number;

export type StructOf<F extends readonly FieldSpec[]> = {
  [K in F[number] as K['name']]: ValueOf<K['type']>;
};

const FIXED_SIZES: Record<FieldType, number | undefined> = {
  u8: 1,
  u16: 2,
  u32: 4,
  u64: 8,
  guid: 16,
  bytes: undefined,
  text: undefined,
};

export interface LayoutOptions<N extends string = string> {
  /**
   * The error code of every structural fault (short buffer, wrong constant, out of range): damaged
   * NVRAM is not an "invalid image". Default: IMAGE_TRUNCATED for a short buffer, IMAGE_BAD_FIELD else.
   */
  code?: ErrorCode;
  /**
   * A u32 field holding the CRC-32 of every byte before it: `serialize` fills it in (whatever value was
   * given), `parse` checks it.
   */
  crc?: N;
  /** The code of a CRC mismatch (default: `code`, else IMAGE_HEADER_CRC). */
  crcCode?: ErrorCode;
}

export interface Layout<F extends readonly FieldSpec[]> {
  readonly name: string;
  readonly fields: F;
  readonly size: number;
  offsetOf(name: F[number]['name']): number;
  sizeOf(name: F[number]['name']): number;
  /** Parse at `at`; throws IMAGE_TRUNCATED / IMAGE_BAD_FIELD naming the struct and field. */
  parse(buf: Uint8Array, at?: number): StructOf<F>;
  /** Serialize into a new buffer (or into `into` at `at`). Validates first. */
  serialize(value: StructOf<F>, into?: Buffer, at?: number): Buffer;
  /** The checks `parse` applies, for values built in memory. */
  validate(value: StructOf<F>): void;
}

export function defineLayout<const F extends readonly FieldSpec[]>(
  name: string,
  fields: F,
  options: LayoutOptions<F[number]['name']> = {},
): Layout<F> {
  const offsets = new Map<string, { offset: number; size: number; spec: FieldSpec }>();
  let offset = 0;
  for (const spec of fields) {
    const size = FIXED_SIZES[spec.type] ?? spec.length;
    if (size === undefined || size <= 0) throw new Error(`layout ${name}: field ${spec.name} needs a length`);
    if (offsets.has(spec.name)) throw new Error(`layout ${name}: duplicate field ${spec.name}`);
    offsets.set(spec.name, { offset, size, spec });
    offset += size;
  }
  const total = offset;
  const badField: ErrorCode = options.code ?? 'IMAGE_BAD_FIELD';
  const truncated: ErrorCode = options.code ?? 'IMAGE_TRUNCATED';
  const crcField = options.crc === undefined ? undefined : offsets.get(options.crc);
  if (crcField && crcField.spec.type !== 'u32') throw new Error(`layout ${name}: CRC field ${options.crc} must be a u32`);
  const crcCode: ErrorCode = options.crcCode ?? options.code ?? 'IMAGE_HEADER_CRC';

  const where = (spec: FieldSpec) => `${name}.${spec.name}`;

  function check(spec: FieldSpec, v: unknown): void {
    if (spec.equals !== undefined && v !== spec.equals) {
      throw new FwupError(badField, `${where(spec)} is ${show(v)}, expected ${show(spec.equals)}`);
    }
    if (typeof v === 'number') {
      if (spec.min !== undefined && v < spec.min)
        throw new FwupError(badField, `${where(spec)} is ${v}, below the minimum ${spec.min}`);
      if (spec.max !== undefined && v > spec.max)
        throw new FwupError(badField, `${where(spec)} is ${v}, above the maximum ${spec.max}`);
    }
  }

  const layout: Layout<F> = {
    name,
    fields,
    size: total,
    offsetOf(field) {
      const f = offsets.get(field);
      if (!f) throw new Error(`layout ${name}: no field ${field}`);
      return f.offset;
    },
    sizeOf(field) {
      const f = offsets.get(field);
      if (!f) throw new Error(`layout ${name}: no field ${field}`);
      return f.size;
    },
    parse(input, at = 0) {
      const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
      if (at < 0 || at + total > buf.length) {
        throw new FwupError(
          truncated,
          `${name} needs ${total} bytes at offset ${at}, only ${Math.max(0, buf.length - at)} present`,
        );
      }
      if (crcField) {
        const stored = buf.readUInt32LE(at + crcField.offset);
        const computed = crc32(buf.subarray(at, at + crcField.offset));
        if (stored !== computed) {
          throw new FwupError(crcCode, `${name} CRC-32 mismatch: stored ${show(stored)}, computed ${show(computed)}`);
        }
      }
      const out: Record<string, unknown> = {};
      for (const { offset: o, size, spec } of offsets.values()) {
        const p = at + o;
        let v: unknown;
        switch (spec.type) {
          case 'u8': v = buf.readUInt8(p); break;
          case 'u16': v = buf.readUInt16LE(p); break;
          case 'u32': v = buf.readUInt32LE(p); break;
          case 'u64': v = buf.readBigUInt64LE(p); break;
          case 'guid': v = guidFromBytes(buf, p); break;
          case 'bytes': v = Buffer.from(buf.subarray(p, p + size)); break;
          case 'text': v = decodeText(buf.subarray(p, p + size), where(spec), badField); break;
        }
        check(spec, v);
        out[spec.name] = v;
      }
      return out as StructOf<F>;
    },
    validate(value) {
      const rec = value as Record<string, unknown>;
      for (const { spec, size } of offsets.values()) {
        const v = rec[spec.name];
        if (v === undefined) throw new Error(`${where(spec)} missing`);
        check(spec, v);
        if (spec.type === 'text' && Buffer.byteLength(v as string, 'utf8') > size) {
          throw new FwupError(badField, `${where(spec)} is longer than ${size} bytes`);
        }
        if (spec.type === 'bytes' && (v as Buffer).length !== size) {
          throw new Error(`${where(spec)} must be ${size} bytes`);
        }
      }
    },
    serialize(value, into, at = 0) {
      if (crcField) value = { ...value, [crcField.spec.name]: 0 };
      layout.validate(value);
      const buf = into ?? Buffer.alloc(total);
      const rec = value as Record<string, unknown>;
      for (const { offset: o, size, spec } of offsets.values()) {
        const p = at + o;
        const v = rec[spec.name];
        switch (spec.type) {
          case 'u8': buf.writeUInt8(v as number, p); break;
          case 'u16': buf.writeUInt16LE(v as number, p); break;
          case 'u32': buf.writeUInt32LE(v as number, p); break;
          case 'u64': buf.writeBigUInt64LE(v as bigint, p); break;
          case 'guid': guidToBytes(v as string).copy(buf, p); break;
          case 'bytes': (v as Buffer).copy(buf, p); break;
          case 'text': {
            buf.fill(0, p, p + size);
            buf.write(v as string, p, size, 'utf8');
            break;
          }
        }
      }
      if (crcField) buf.writeUInt32LE(crc32(buf.subarray(at, at + crcField.offset)), at + crcField.offset);
      return buf;
    },
  };
  return layout;
}

function show(v: unknown): string {
  if (typeof v === 'number') return `0x${v.toString(16).toUpperCase()}`;
  if (typeof v === 'bigint') return `0x${v.toString(16).toUpperCase()}`;
  return JSON.stringify(v);
}

/** NUL-padded UTF-8: bytes after the first NUL must all be NUL, and the text must be valid UTF-8. */
function decodeText(bytes: Buffer, where: string, code: ErrorCode): string {
  const nul = bytes.indexOf(0);
  const end = nul === -1 ? bytes.length : nul;
  for (let i = end; i < bytes.length; i++) {
    if (bytes[i] !== 0) throw new FwupError(code, `${where} has bytes after its terminating NUL`);
  }
  const text = bytes.subarray(0, end);
  const s = text.toString('utf8');
  if (!Buffer.from(s, 'utf8').equals(text)) throw new FwupError(code, `${where} is not valid UTF-8`);
  return s;
}

/** UEFI GUID byte order: first three fields little-endian, last eight bytes as written. */
export function guidFromBytes(buf: Buffer, at = 0): string {
  const h = (n: number, w: number) => n.toString(16).toUpperCase().padStart(w, '0');
  const tail = buf.subarray(at + 8, at + 16).toString('hex').toUpperCase();
  return `${h(buf.readUInt32LE(at), 8)}-${h(buf.readUInt16LE(at + 4), 4)}-${h(buf.readUInt16LE(at + 6), 4)}-${tail.slice(0, 4)}-${tail.slice(4)}`;
}

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(s: string): boolean {
  return GUID_RE.test(s);
}

export function guidToBytes(guid: string): Buffer {
  if (!isGuid(guid)) throw new FwupError('USAGE', `not a GUID: ${JSON.stringify(guid)}`, {
    hint: 'write it as 8-4-4-4-12 hex digits, e.g. 6DCBD5ED-E82D-4C44-BDA1-7194199AD92A',
  });
  const hex = guid.replace(/-/g, '');
  const out = Buffer.alloc(16);
  out.writeUInt32LE(parseInt(hex.slice(0, 8), 16), 0);
  out.writeUInt16LE(parseInt(hex.slice(8, 12), 16), 4);
  out.writeUInt16LE(parseInt(hex.slice(12, 16), 16), 6);
  Buffer.from(hex.slice(16), 'hex').copy(out, 8);
  return out;
}

/** CRC-32 of `bytes` as if the u32 at `fieldAt` were zero: for CRCs that cover the field's own struct. */
export function crc32FieldZeroed(bytes: Uint8Array, fieldAt: number): number {
  let crc = crc32(bytes.subarray(0, fieldAt));
  crc = crc32(new Uint8Array(4), crc);
  return crc32(bytes.subarray(fieldAt + 4), crc);
}
