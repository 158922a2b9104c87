import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fwup, json, tempDir, hashTree, REPO_ROOT } from './helpers/cli.js';
import { initMachine, statusJson, withPlatform } from './helpers/machine.js';
import { EXIT } from '../src/errors/exit-codes.js';
import { Digester } from '../src/util/digest.js';
import { RegionWriter } from '../src/storage/region-writer.js';
import { applyPhases, stagedRegion, STRATEGIES } from './helpers/strategies.js';
import type { InstallStrategy } from '../src/storage/key-store.js';

const FIX = join(REPO_ROOT, 'fixtures');
const IMG = (n: string) => join(FIX, 'images', n);
const KEY = join(FIX, 'keys', 'test-release.pub');

interface Report {
  ok: boolean;
  report: {
    mode: string;
    cpus: number;
    ok: boolean;
    confirmed: boolean;
    reverted: boolean;
    before: { version: string };
    after: { version: string; trial: boolean };
    checks: Array<{ name: string; ok: boolean; detail: string }>;
    ackLatencyMs: number[];
    downtimeMs: number;
    phases: Array<{ name: string; ms: number }>;
    firmware: { decision: string; events: string[]; lastAttempt: { status: number; statusName: string } | null };
    workLostSteps: number;
  };
}

async function applyJson(dir: string, target: string, args: string[] = ['--warm'], env: Record<string, string> = {}) {
  const r = await fwup(['apply', ...args, '--target', target, '--json'], { cwd: dir, env });
  return { code: r.code, out: json<Report & { error?: { code: string; message: string } }>(r), stderr: r.stderr };
}

for (const install of STRATEGIES) for (const cpus of [1, 4, 16]) {
  test(`apply --warm with ${cpus} CPU${cpus > 1 ? 's' : ''}: the version changes, every CPU is restored exactly and continues like the reference [${install}]`, async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const t = await initMachine(dir, ['--install', install, '--cpus', String(cpus), '--trust', KEY]);
      assert.equal((await fwup(['stage', IMG('fw-2.0.0-signed.fwup'), '--target', t], { cwd: dir })).code, 0);
      const { code, out } = await applyJson(dir, t);
      assert.equal(code, 0, JSON.stringify(out));
      const r = out.report;
      assert.equal(r.cpus, cpus);
      assert.deepEqual(r.checks.map((c) => [c.name, c.ok]), [
        ['new version active', true],
        ['every CPU restored exactly', true],
        ['workload matches the reference run', true],
      ]);
      assert.equal(r.before.version, '1');
      assert.equal(r.after.version, '2.0.0');
      assert.equal(r.confirmed, true);
      assert.equal(r.ackLatencyMs.length, cpus);
      assert.deepEqual(r.phases.map((p) => p.name), applyPhases(install));
      assert.ok(Math.abs(r.phases.reduce((a, p) => a + p.ms, 0) - r.downtimeMs) < 0.01, 'the phases add up to the downtime');
      const st = await statusJson(dir, t);
      assert.equal(st.firmware.version, '2.0.0');
      assert.equal(st.firmware.trial, false);
      assert.equal(st.staged, null, 'the request is cleared');
      assert.equal(st.securityVersion, 1, 'raised after confirmation');
      assert.equal(st.lastAttempt.statusName, 'success');
    } finally {
      await cleanup();
    }
  });
}

for (const install of STRATEGIES) {
  test(`apply: text report shows versions, checks and a timeline of the downtime phases [${install}]`, async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const t = await initMachine(dir, ['--install', install, '--cpus', '4']);
      await fwup(['stage', IMG('fw-2.0.0-signed.fwup'), '--target', t], { cwd: dir });
      const r = await fwup(['apply', '--warm', '--target', t], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /warm apply on emu:.*: OK, confirmed/);
      assert.match(r.stdout, /1 \(slot A\) -> 2\.0\.0 \(slot B\)/);
      for (const p of applyPhases(install)) {
        assert.match(r.stdout, new RegExp(`^  ${p}\\s+\\S*█+\\s+[\\d.]+ ms$`, 'm'), p);
      }
    } finally {
      await cleanup();
    }
  });
}

test('apply: IPIs reach idle CPUs as well as busy ones', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir, ['--cpus', '6']);
    await fwup(['stage', IMG('fw-2.0.0-signed.fwup'), '--target', t], { cwd: dir });
    const { code, out } = await applyJson(dir, t, ['--warm'], { FWUP_EMU_IDLE_CPUS: '1,4' });
    assert.equal(code, 0, JSON.stringify(out));
    assert.equal(out.report.ackLatencyMs.length, 6);
    assert.ok(out.report.ackLatencyMs.every((x) => x > 0));
  } finally {
    await cleanup();
  }
});

test('apply: a CPU that never acknowledges makes apply time out with a clear error and change nothing', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir, ['--cpus', '4']);
    await fwup(['stage', IMG('fw-2.0.0-signed.fwup'), '--target', t], { cwd: dir });
    const before = await hashTree(join(dir, 'm'));
    const r = await fwup(['apply', '--warm', '--timeout', '0.3', '--target', t], { cwd: dir, env: { FWUP_EMU_DEAF_CPUS: '2' } });
    assert.equal(r.code, EXIT.TIMEOUT, r.stderr);
    assert.match(r.stderr, /CPU 2 did not acknowledge the rendezvous IPI within 300 ms/);
    assert.match(r.stderr, /hint: nothing was changed/);
    assert.equal(await hashTree(join(dir, 'm')), before, 'the machine is byte-identical');
  } finally {
    await cleanup();
  }
});

for (const install of STRATEGIES) {
  test(`apply: a damaged save slot is never loaded: cold boot on the old firmware, the update stays staged [${install}]`, async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const t = await initMachine(dir, ['--install', install, '--cpus', '4']);
      await fwup(['stage', IMG('fw-2.0.0-signed.fwup'), '--target', t], { cwd: dir });
      const { code, out } = await applyJson(dir, t, ['--warm'], { FWUP_EMU_CORRUPT_SAVE: '3' });
      assert.equal(code, EXIT.OUTCOME);
      assert.equal(out.error?.code, 'OUTCOME_FAILED');
      assert.match(out.report.firmware.decision, /saved CPU state failed its check and is never loaded: cold boot/);
      assert.ok(out.report.firmware.events.some((e) => /CPU 3/.test(e)));
      assert.equal(out.report.after.version, '1');
      const st = await statusJson(dir, t);
      assert.equal(st.firmware.version, '1');
      assert.equal(st.staged.version, '2.0.0', 'still staged (without the warm part)');
      assert.equal(st.lastAttempt.statusName, 'unsuccessful');
      // A clean retry then succeeds.
      assert.equal((await applyJson(dir, t)).code, 0);
    } finally {
      await cleanup();
    }
  });
}

/**
 * Write bytes into STAGING (or, in place, into the inactive slot the firmware releases) and a request
 * record that points at them, bypassing `stage` (a hostile or buggy OS).
 */
function plant(machineDir: string, image: Buffer, over: Partial<Record<string, unknown>> = {}, install: InstallStrategy = 'copy'): void {
  withPlatform(machineDir, (p) => {
    const region = install === 'in-place' ? p.services.releaseInactiveSlot(0) : p.map.STAGING;
    const w = new RegionWriter(p.flash, region);
    w.write(image);
    w.finish();
    const d = new Digester().update(image).digest();
    p.services.setRequest({
      recordVersion: 2, flags: 0, regionOffset: region.offset, imageOffset: 0, imageLength: image.length,
      imageSha256: Buffer.from(d.sha256, 'hex'), imageFormat: 1, reserved0: 0, cpuCount: 0, versionNumber: 0x02000000,
      version: '2.0.0', stateSaveAddress: 0n, stateSaveLength: 0, stateSaveCrc32: 0, stagedAt: 0n, ...over,
    } as never);
  });
}

function slotBytes(machineDir: string, slot: 'SLOT_A' | 'SLOT_B'): string {
  return withPlatform(machineDir, (p) => new Digester().update(p.flash.read(p.map[slot].offset, p.map[slot].size)).digest().sha256);
}

for (const install of STRATEGIES) {
  test(`firmware: a staged image damaged in flash after staging is refused; slots untouched; status recorded [${install}]`, async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const t = await initMachine(dir, ['--install', install, '--cpus', '2', '--trust', KEY]);
      const m = join(dir, 'm');
      await fwup(['stage', IMG('fw-2.0.0-signed.fwup'), '--target', t], { cwd: dir });
      // Damage one payload bit of the staged image (STAGING, or the inactive slot staged in place) in flash.img directly (a bit that was 1 becomes 0).
      withPlatform(m, (p) => {
        // In place the slot is written by the OS after the firmware releases it (a hostile OS can ask again).
        if (install === 'in-place') p.services.releaseInactiveSlot(0);
        const at = p.map[stagedRegion(install)].offset + 60_000;
        const b = p.flash.read(at, 1)[0]!;
        const bit = [0, 1, 2, 3, 4, 5, 6, 7].find((i) => b & (1 << i))!;
        p.flash.program(at, Buffer.of(b & ~(1 << bit)));
      });
      const a = slotBytes(m, 'SLOT_A');
      const b = slotBytes(m, 'SLOT_B');
      const { code, out } = await applyJson(dir, t);
      assert.equal(code, EXIT.OUTCOME);
      assert.match(out.report.firmware.decision, /staged image failed verification: slots untouched/);
      assert.equal(out.report.firmware.lastAttempt?.statusName, 'invalid-format');
      assert.equal(slotBytes(m, 'SLOT_A'), a);
      assert.equal(slotBytes(m, 'SLOT_B'), b);
      assert.ok(out.report.checks.find((c) => c.name === 'every CPU restored exactly')?.ok, 'the OS resumed on the old firmware');
      assert.equal((await statusJson(dir, t)).staged, null);
    } finally {
      await cleanup();
    }
  });
}

for (const install of STRATEGIES) {
  test(`firmware: an image with a bad signature planted in flash is refused with an auth error [${install}]`, async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const t = await initMachine(dir, ['--install', install, '--cpus', '2', '--trust', KEY]);
      const m = join(dir, 'm');
      plant(m, await readFile(IMG('fw-2.0.0-other-key.fwup')), { flags: 0 }, install);
      const b = slotBytes(m, 'SLOT_B');
      const { code, out } = await applyJson(dir, t);
      assert.equal(code, EXIT.OUTCOME);
      assert.equal(out.report.firmware.lastAttempt?.statusName, 'auth-error');
      assert.ok(out.report.firmware.events.some((e) => /not trust/.test(e)));
      assert.equal(slotBytes(m, 'SLOT_B'), b, 'slot B untouched');
    } finally {
      await cleanup();
    }
  });
}

for (const install of STRATEGIES) {
  test(`firmware: a request record pointing outside STAGING is discarded; nothing outside STAGING is read as an image [${install}]`, async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const t = await initMachine(dir, ['--install', install, '--cpus', '2']);
      const m = join(dir, 'm');
      const size = withPlatform(m, (p) => p.map[stagedRegion(install)].size);
      plant(m, await readFile(IMG('fw-2.0.0-signed.fwup')), { imageOffset: size - 16 }, install);
      // Every boot validates the request: the power-on boot of `apply` already discards it.
      const r = await fwup(['apply', '--warm', '--target', t, '--json'], { cwd: dir });
      assert.equal(r.code, EXIT.OUTCOME);
      const e = json<{ error: { code: string; message: string } }>(r).error;
      assert.equal(e.code, 'FIRMWARE_REJECTED');
      assert.match(e.message, new RegExp(`runs outside ${stagedRegion(install)}`));
      const st = await statusJson(dir, t);
      assert.equal(st.lastAttempt.statusName, 'invalid-format');
      assert.equal(st.firmware.version, '1');
      assert.equal(st.staged, null);
    } finally {
      await cleanup();
    }
  });
}

for (const install of STRATEGIES) {
  test(`apply --cold: the firmware is updated, RAM is lost and the OS restarts; the report shows the work lost [${install}]`, async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const t = await initMachine(dir, ['--install', install, '--cpus', '4']);
      await fwup(['stage', IMG('fw-2.0.0-signed.fwup'), '--target', t], { cwd: dir });
      const { code, out } = await applyJson(dir, t, ['--cold']);
      assert.equal(code, 0, JSON.stringify(out));
      assert.equal(out.report.mode, 'cold');
      assert.equal(out.report.after.version, '2.0.0');
      assert.ok(out.report.workLostSteps > 0);
      assert.equal(out.report.checks.find((c) => c.name === 'every CPU restored exactly'), undefined);
    } finally {
      await cleanup();
    }
  });
}

for (const install of STRATEGIES) {
  test(`apply --no-confirm leaves a trial; the next reset reverts it; rollback and its security-version refusal [${install}]`, async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const t = await initMachine(dir, ['--install', install, '--cpus', '2']);
      await writeFile(join(dir, 'v5.bin'), Buffer.alloc(30_000, 5));
      assert.equal((await fwup(['stage', join(dir, 'v5.bin'), '--version', '5', '--allow-unsigned', '--target', t], { cwd: dir })).code, 0);
      let { code, out } = await applyJson(dir, t, ['--warm', '--no-confirm']);
      assert.equal(code, 0, JSON.stringify(out));
      assert.equal(out.report.after.trial, true);
      let st = await statusJson(dir, t);
      assert.equal(st.firmware.trial, true);
      const boot = await fwup(['machine', 'boot', '--target', t], { cwd: dir });
      assert.equal(boot.code, 0, boot.stderr);
      assert.match(boot.stdout, /was on trial and not confirmed: reverted to slot A/);
      st = await statusJson(dir, t);
      assert.equal(st.firmware.version, '1');
      assert.equal(st.lastAttempt.statusName, 'unsuccessful');

      // Install 5 for real, then roll back to 1 by the warm path.
      await fwup(['stage', join(dir, 'v5.bin'), '--version', '5', '--allow-unsigned', '--target', t], { cwd: dir });
      ({ code, out } = await applyJson(dir, t));
      assert.equal(code, 0);
      const rb = await fwup(['rollback', '--target', t, '--json'], { cwd: dir });
      assert.equal(rb.code, 0, rb.stdout);
      const rr = json<Report>(rb).report;
      assert.equal(rr.after.version, '1');
      assert.ok(rr.checks.every((c) => c.ok));
      // A signed image with security version 1: after it, rolling back to version 1 (security version 0) is refused.
      await fwup(['stage', IMG('fw-2.0.0-signed.fwup'), '--target', t], { cwd: dir });
      assert.equal((await applyJson(dir, t)).code, 0);
      const before = await hashTree(join(dir, 'm'));
      const refused = await fwup(['rollback', '--target', t, '--json'], { cwd: dir });
      assert.equal(refused.code, EXIT.POLICY);
      assert.equal(json<{ error: { code: string } }>(refused).error.code, 'POLICY_SECURITY_VERSION');
      assert.equal(await hashTree(join(dir, 'm')), before);
      const h = json<{ entries: Array<{ action: string }> }>(await fwup(['history', '--json', '--target', t], { cwd: dir }));
      assert.deepEqual(h.entries.map((e) => e.action), ['install', 'revert', 'install', 'confirm', 'rollback', 'confirm', 'install', 'confirm']);
    } finally {
      await cleanup();
    }
  });
}

for (const install of STRATEGIES) {
  test(`apply: nothing staged is "not found"; a COLD_ONLY image refuses --warm but takes --cold [${install}]`, async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const t = await initMachine(dir, ['--install', install, '--cpus', '2']);
      let r = await fwup(['apply', '--warm', '--target', t], { cwd: dir });
      assert.equal(r.code, EXIT.NOT_FOUND);
      assert.match(r.stderr, /no update is staged/);
      await fwup(['stage', IMG('tiny-cold-only.fwup'), '--allow-unsigned', '--target', t], { cwd: dir });
      const before = await hashTree(join(dir, 'm'));
      r = await fwup(['apply', '--warm', '--target', t], { cwd: dir });
      assert.equal(r.code, EXIT.POLICY);
      assert.match(r.stderr, /COLD_ONLY/);
      assert.equal(await hashTree(join(dir, 'm')), before);
      assert.equal((await applyJson(dir, t, ['--cold'])).code, 0);
    } finally {
      await cleanup();
    }
  });
}
