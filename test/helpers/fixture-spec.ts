import { createHash } from 'node:crypto';
import type { FwupMetadata } from '../../src/image/fwup-format.js';

/** The committed fixtures under fixtures/, described once (scripts/make-fixtures.mjs builds them from this). */
export interface PayloadSpec {
  name: string;
  label: string;
  size: number;
}

export interface FixtureImage {
  file: string;
  payload: PayloadSpec;
  meta: Omit<FwupMetadata, 'buildTime'>;
  signKey: string | null;
}

/** Payload bytes: SHA-256 counter-mode over a label, like the shared edk2 fixtures. */
export function fixturePayload(p: PayloadSpec): Buffer {
  const out = Buffer.alloc(p.size);
  for (let i = 0, at = 0; at < p.size; i++, at += 32) {
    const c = Buffer.alloc(4);
    c.writeUInt32LE(i);
    createHash('sha256').update(p.label, 'utf8').update(c).digest().copy(out, at);
  }
  return out;
}

const fw2: PayloadSpec = { name: 'fw-2.0.0.bin', label: 'fwup-fixture/fw-2.0.0', size: 96 * 1024 };
const fw3: PayloadSpec = { name: 'fw-3.0.0.bin', label: 'fwup-fixture/fw-3.0.0', size: 128 * 1024 + 17 };
const tiny: PayloadSpec = { name: 'tiny.bin', label: 'fwup-fixture/tiny', size: 1 };

const base = { platform: 'fwup-emu', flags: 0, description: null } as const;

export const FIXTURE_IMAGES: FixtureImage[] = [
  {
    file: 'fw-2.0.0-signed.fwup',
    payload: fw2,
    meta: { ...base, version: '2.0.0', versionNumber: 0x02000000, lowestSupportedVersion: 1, securityVersion: 1, description: 'fwup fixture firmware 2.0.0' },
    signKey: 'test-release',
  },
  {
    file: 'fw-2.0.0-unsigned.fwup',
    payload: fw2,
    meta: { ...base, version: '2.0.0', versionNumber: 0x02000000, lowestSupportedVersion: 1, securityVersion: 1 },
    signKey: null,
  },
  {
    file: 'fw-3.0.0-signed.fwup',
    payload: fw3,
    meta: { ...base, version: '3.0.0', versionNumber: 0x03000000, lowestSupportedVersion: 0x02000000, securityVersion: 2 },
    signKey: 'test-release',
  },
  {
    file: 'fw-2.0.0-other-key.fwup',
    payload: fw2,
    meta: { ...base, version: '2.0.0', versionNumber: 0x02000000, lowestSupportedVersion: 1, securityVersion: 1 },
    signKey: 'test-other',
  },
  {
    file: 'fw-2.0.0-other-platform.fwup',
    payload: fw2,
    meta: { ...base, platform: 'acme-board-7', version: '2.0.0', versionNumber: 0x02000000, lowestSupportedVersion: 1, securityVersion: 1 },
    signKey: 'test-release',
  },
  {
    file: 'tiny-cold-only.fwup',
    payload: tiny,
    meta: { ...base, flags: 1, version: '0x10', versionNumber: 16, lowestSupportedVersion: 0, securityVersion: 0 },
    signKey: null,
  },
];
