import { createHash } from 'node:crypto';
import { FwupError } from '../errors/fwup-error.js';
import { defineLayout } from '../util/layout.js';
import type { Flash, FlashGeometry } from './flash.js';
import { regionCopies, type Region } from './flash-map.js';

/**
 * The trust anchors, provisioned into the KEYSTORE region at `machine init` (as keys are fused into a
 * real platform) and checked by the firmware at every boot: the keys images must be signed with, the
 * certificates capsules must chain to, the platform and image type, the development flag, and the
 * hardware the machine was made with (machine.json is checked against it). Two copies, each with a
 * header holding the body's length and SHA-256 and its own CRC; only the firmware writes them (the
 * region is locked before the OS runs), and only to repair one copy from the other.
 */
export const KEY_STORE_MAGIC = 0x534b5746; // "FWKS"

export const keyStoreHeaderLayout = defineLayout('KeyStoreHeader', [
  { name: 'magic', type: 'u32', equals: KEY_STORE_MAGIC },
  { name: 'formatVersion', type: 'u16', equals: 1 },
  { name: 'reserved', type: 'u16', equals: 0 },
  { name: 'bodyLength', type: 'u32', min: 2 },
  { name: 'bodySha256', type: 'bytes', length: 32 },
  { name: 'crc32', type: 'u32' },
] as const, { code: 'TARGET_CORRUPT', crc: 'crc32' });

/**
 * How the firmware installs an update: `copy` (the image is staged in STAGING and the pre-OS firmware
 * copies it into the inactive slot) or `in-place` (the OS writes the inactive slot itself and the
 * firmware only verifies and activates it). A property of the platform, provisioned with the trust
 * anchors: machine.json mirrors it, and an edit there grants nothing.
 */
export type InstallStrategy = 'copy' | 'in-place';
export const INSTALL_STRATEGIES: readonly InstallStrategy[] = ['copy', 'in-place'];

export interface HardwareDescription {
  cpus: number;
  ramBytes: number;
  flash: FlashGeometry;
  /** Absent on machines made before the strategies existed: those copy. */
  install?: InstallStrategy;
}

export interface TrustAnchors {
  platform: string;
  /** The FMP image type GUID capsules must name (upper case). */
  imageTypeId: string;
  /** Unsigned images allowed (with --allow-unsigned). */
  development: boolean;
  /** Ed25519 public keys: SPKI DER, base64. */
  keys: Array<{ name: string; keyId: string; spki: string }>;
  /** X.509 certificates: DER, base64. */
  certs: Array<{ name: string; der: string }>;
  hardware: HardwareDescription;
  provisionedAt: string;
}

export interface KeyStoreRead {
  /** null when no copy checks, or the two valid copies disagree: then nothing is trusted. */
  anchors: TrustAnchors | null;
  /** Per copy: null when it checks, else why not. */
  problems: [string | null, string | null];
  /** The exact bytes of a good copy, to repair the other from. */
  good: Buffer | null;
}

export function encodeKeyStore(anchors: TrustAnchors): Buffer {
  const body = Buffer.from(JSON.stringify(anchors), 'utf8');
  const header = keyStoreHeaderLayout.serialize({
    magic: KEY_STORE_MAGIC, formatVersion: 1, reserved: 0, bodyLength: body.length,
    bodySha256: createHash('sha256').update(body).digest(), crc32: 0,
  });
  return Buffer.concat([header, body]);
}

/** Program one copy (erase it first), then read it back. */
export function writeKeyStoreCopy(flash: Flash, region: Region, copy: 0 | 1, bytes: Buffer): void {
  const c = regionCopies(region)[copy];
  if (bytes.length > c.size) {
    throw new FwupError('USAGE', `the trust anchors take ${bytes.length} bytes; the key store holds ${c.size}`, { hint: 'trust fewer or smaller certificates' });
  }
  flash.erase(c.offset, c.size);
  flash.program(c.offset, bytes);
  if (!flash.read(c.offset, bytes.length).equals(bytes)) {
    throw new FwupError('FLASH_VERIFY', `read-back of key store copy ${copy + 1} differs`, { hint: 'the flash did not keep what was written' });
  }
}

export function readKeyStore(flash: Flash, region: Region): KeyStoreRead {
  const problems: [string | null, string | null] = [null, null];
  const found: Array<{ anchors: TrustAnchors; bytes: Buffer } | null> = regionCopies(region).map((c, i) => {
    try {
      return readCopy(flash, c);
    } catch (e) {
      problems[i] = e instanceof Error ? e.message : String(e);
      return null;
    }
  });
  const [a, b] = found;
  if (a && b && !a.bytes.equals(b.bytes)) {
    return { anchors: null, problems: ['the two copies differ', 'the two copies differ'], good: null };
  }
  const good = a ?? b;
  return { anchors: good?.anchors ?? null, problems, good: good?.bytes ?? null };
}

function readCopy(flash: Flash, c: Region): { anchors: TrustAnchors; bytes: Buffer } {
  const h = keyStoreHeaderLayout.parse(flash.read(c.offset, keyStoreHeaderLayout.size));
  if (keyStoreHeaderLayout.size + h.bodyLength > c.size) throw new Error(`body of ${h.bodyLength} bytes runs past the copy`);
  const bytes = flash.read(c.offset, keyStoreHeaderLayout.size + h.bodyLength);
  const body = bytes.subarray(keyStoreHeaderLayout.size);
  if (!createHash('sha256').update(body).digest().equals(h.bodySha256)) throw new Error('body SHA-256 mismatch');
  return { anchors: checkAnchors(JSON.parse(body.toString('utf8'))), bytes };
}

const GUID = /^[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict shape check: every field present with its type and bounds, nothing else. */
function checkAnchors(v: unknown): TrustAnchors {
  const bad = (why: string): never => {
    throw new Error(`trust anchors: ${why}`);
  };
  const o = v as Partial<TrustAnchors>;
  if (!o || typeof o !== 'object') bad('not an object');
  if (typeof o.platform !== 'string' || !o.platform || Buffer.byteLength(o.platform) > 32) bad('platform');
  if (typeof o.imageTypeId !== 'string' || !GUID.test(o.imageTypeId)) bad('imageTypeId');
  if (typeof o.development !== 'boolean') bad('development');
  if (!Array.isArray(o.keys) || !o.keys.every((k) => typeof k?.name === 'string' && /^[0-9a-f]{16}$/.test(k.keyId) && typeof k.spki === 'string' && B64.test(k.spki))) bad('keys');
  if (!Array.isArray(o.certs) || !o.certs.every((c) => typeof c?.name === 'string' && typeof c.der === 'string' && B64.test(c.der))) bad('certs');
  const hw = o.hardware;
  if (!hw || !Number.isInteger(hw.cpus) || !Number.isInteger(hw.ramBytes) || !hw.flash || ![hw.flash.size, hw.flash.blockSize, hw.flash.programAlign].every(Number.isInteger)) bad('hardware');
  if (hw!.install !== undefined && !INSTALL_STRATEGIES.includes(hw!.install)) bad('hardware.install');
  if (typeof o.provisionedAt !== 'string') bad('provisionedAt');
  return o as TrustAnchors;
}
