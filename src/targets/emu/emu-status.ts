import { existsSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';
import type { Platform } from '../../machine/platform.js';
import { formatById } from '../../image/registry.js';
import { readHeader } from '../../image/formats/fwup.js';
import { parseFwupHeader } from '../../image/fwup-format.js';
import { RegionSource } from '../../storage/region-source.js';
import { lastAttemptStatusName, REQUEST_FLAGS, slotName, type UpdateRequest } from '../../storage/variables.js';
import { processAlive } from '../process-alive.js';
import type { HistoryItem, StagedSummary } from '../target.js';
import type { EmuStatus } from './emu-results.js';
import { POWER_LATCH } from './power-latch.js';
import { runningServicePid } from './service-files.js';

/** The staged request as every target reports one (the payload digest is read from the staged header where there is one). */
export function requestSummary(r: UpdateRequest): StagedSummary {
  return {
    version: r.version,
    versionNumber: r.versionNumber,
    format: formatById(r.imageFormat)?.name ?? 'raw',
    size: r.imageLength,
    fileSha256: r.imageSha256.toString('hex'),
    payloadSha256: formatById(r.imageFormat)?.name === 'raw' ? r.imageSha256.toString('hex') : null,
    stagedAt: new Date(Number(r.stagedAt)).toISOString(),
    flags: Object.entries(REQUEST_FLAGS).filter(([, b]) => r.flags & b).map(([n]) => n),
  };
}

/** Everything `fwup status` shows of an emulated machine, damage included, read without the lock. */
export function emuStatus(p: Platform, spec: string): EmuStatus {
  const s = p.services;
  const fw = s.status();
  const trust = s.trust();
  const warnings = [...fw.warnings];
  let staged: StagedSummary | null = null;
  let stagedProblem: string | null = null;
  let stagedIn: string | null = null;
  try {
    const r = s.request();
    if (r) {
      staged = requestSummary(r);
      if (r.imageFormat === 1) staged.payloadSha256 = stagedPayloadSha(p, r);
      stagedIn = r.regionOffset === p.map.STAGING.offset ? 'STAGING' : r.regionOffset === p.map.SLOT_A.offset ? 'SLOT_A' : r.regionOffset === p.map.SLOT_B.offset ? 'SLOT_B' : null;
    }
  } catch (e) {
    if (!(e instanceof FwupError)) throw e;
    stagedProblem = e.message;
    warnings.push(`the update request is damaged (${e.message}): the next boot discards it; stage the image again`);
  }
  const last = s.lastAttempt();
  const nv = fw.nvram;
  const record = fw.record;
  const lockPid = readPid(join(p.dir, 'lock'));
  const poweredOff = existsSync(join(p.dir, POWER_LATCH));
  if (poweredOff) warnings.push('an injected power cut left the machine off: the next command runs the recovery boot');
  const active = record ? fw.slots[slotName(record.active)] : null;
  return {
    target: spec,
    kind: 'emu',
    machine: {
      dir: p.dir, platform: trust.platform || '(key store damaged)', cpus: p.hardware.cpus, ramBytes: p.hardware.ramBytes, flashBytes: p.hardware.flash.size,
      development: trust.development, imageTypeId: trust.imageTypeId, install: trust.install,
      trustedKeys: trust.keys.map((k) => ({ name: k.name, keyId: k.keyId })), trustedCerts: trust.certs.map((c) => ({ name: c.name })),
      runningPid: runningServicePid(p.dir), busyPid: lockPid !== null && processAlive(lockPid) ? lockPid : null, poweredOff,
    },
    firmware: record && active
      ? {
          activeSlot: slotName(record.active), version: active.version, versionNumber: active.versionNumber, trial: record.trial === 1,
          previousSlot: slotName(record.previous), slots: { A: fw.slots.A, B: fw.slots.B }, recovery: fw.slots.recovery,
          rollback: fw.rollback,
        }
      : null,
    staged,
    stagedIn,
    stagedProblem,
    lastAttempt: last
      ? { status: last.status, statusName: lastAttemptStatusName(last.status), version: last.version, versionNumber: last.versionNumber, time: new Date(Number(last.time)).toISOString() }
      : null,
    securityVersion: fw.securityVersion,
    nvram: { size: nv.size, used: nv.used, free: nv.free, live: nv.live, variables: nv.variables, generation: nv.generation },
    warnings,
  };
}

export function emuHistory(p: Platform): HistoryItem[] {
  return p.services.history().map((h) => ({
    time: new Date(Number(h.time)).toISOString(),
    action: h.action,
    fromVersion: h.fromVersion,
    toVersion: h.toVersion,
    fromDisplay: h.fromDisplay || String(h.fromVersion),
    toDisplay: h.toDisplay || String(h.toVersion),
    status: h.status,
    statusName: lastAttemptStatusName(h.status),
    detail: h.detail,
  }));
}

function stagedPayloadSha(p: Platform, r: UpdateRequest): string | null {
  const region = [p.map.STAGING, p.map.SLOT_A, p.map.SLOT_B].find((g) => g.offset === r.regionOffset);
  if (!region) return null;
  try {
    return parseFwupHeader(readHeader(new RegionSource(p.flash, region, r.imageOffset, r.imageLength))).payloadSha256;
  } catch {
    return null;
  }
}

function readPid(path: string): number | null {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}
