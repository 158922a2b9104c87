import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FwupError } from '../src/errors/fwup-error.js';
import { quietContext } from '../src/core/context.js';
import { rebootCommand } from '../src/core/settings.js';
import { displayArgv } from '../src/targets/exec.js';
import { parseTargetSpec } from '../src/targets/open-target.js';
import { findRegion, ifdRegions, parseLayoutFile } from '../src/targets/flashrom/flash-regions.js';
import { chipStateAfterFailure, flashromError } from '../src/targets/flashrom/flashrom-errors.js';
import { loaderRefusal, loaderWriteError } from '../src/targets/uefi/capsule-delivery.js';
import { judgeEntry, overallState, type AttemptBaseline } from '../src/targets/uefi/attempt-outcome.js';
import type { EsrtEntry } from '../src/targets/uefi/esrt.js';
import { stateName } from '../src/targets/state-records.js';

test('target specs: emu:DIR, flashrom:PROGRAMMER[:PARAMS] (the rest is flashrom -p), uefi; anything else is refused', () => {
  assert.deepEqual(parseTargetSpec('flashrom:internal', '/w'), { kind: 'flashrom', programmer: 'internal' });
  assert.deepEqual(parseTargetSpec('flashrom:dummy:emulate=W25Q128FV,image=/tmp/c.bin', '/w'), { kind: 'flashrom', programmer: 'dummy:emulate=W25Q128FV,image=/tmp/c.bin' });
  assert.deepEqual(parseTargetSpec('uefi', '/w'), { kind: 'uefi' });
  assert.deepEqual(parseTargetSpec('emu:m', '/w'), { kind: 'emu', dir: '/w/m', isDefault: false });
  for (const bad of ['flashrom:', 'flashrom:-p x', 'uefi:x', 'tpm:0']) {
    assert.throws(() => parseTargetSpec(bad, '/w'), (e: unknown) => e instanceof FwupError && e.code === 'TARGET_INVALID', bad);
  }
});

test('state directory names are safe file names and tell similar specs apart', () => {
  const a = stateName('dummy:emulate=W25Q128FV,image=/tmp/a b/chip.bin');
  assert.match(a, /^[A-Za-z0-9._-]+$/);
  assert.notEqual(a, stateName('dummy:emulate=W25Q128FV,image=/tmp/a_b/chip.bin'));
  assert.match(stateName('/'), /^root-[0-9a-f]{8}$/);
});

test('layout files: flashrom syntax only, END inclusive; a region must be inside the chip', () => {
  const r = parseLayoutFile('00000000:00000fff fd\n0x00800000:0x00ffffff bios\n\n', 'l.txt');
  assert.deepEqual(r, [{ name: 'fd', start: 0, end: 0xfff }, { name: 'bios', start: 0x800000, end: 0xffffff }]);
  assert.throws(() => parseLayoutFile('# comment\n', 'l.txt'), /l\.txt:1: not a layout line/);
  assert.throws(() => parseLayoutFile('1000:0fff x\n', 'l.txt'), /ends before it starts/);
  assert.throws(() => findRegion(r, 'bios', 8 << 20, 'l.txt'), /ends beyond the 8388608-byte chip/);
  assert.throws(() => findRegion(r, 'me', 16 << 20, 'l.txt'), /no region "me"/);
});

test('IFD: region count follows the descriptor generation, unused regions are skipped, no signature is refused', () => {
  const desc = (flmap0: number, flmap1: number, flmap2: number, flumap1: number, regs: number[]) => {
    const b = Buffer.alloc(8192);
    b.writeUInt32LE(0x0ff0a55a, 0x10);
    b.writeUInt32LE(flmap0 >>> 0, 0x14);
    b.writeUInt32LE(flmap1 >>> 0, 0x18);
    b.writeUInt32LE(flmap2 >>> 0, 0x1c);
    b.writeUInt32LE(flumap1 >>> 0, 4096 - 256 - 4);
    regs.forEach((r, i) => b.writeUInt32LE(r >>> 0, 0x40 + 4 * i));
    return b;
  };
  const reg = (base: number, limit: number) => ((limit >>> 12) << 16) | (base >>> 12);
  // 0x7fff (base above limit) is how a descriptor marks a region unused.
  const regs = [reg(0, 0xfff), reg(0x400000, 0x7fffff), reg(0x1000, 0x3fffff), 0x7fff, 0x7fff, 0x7fff, 0x7fff, 0x7fff, 0x7fff, reg(0x10000, 0x1ffff), 0x7fff, 0x7fff, 0x7fff, 0x7fff, 0x7fff, reg(0x20000, 0x2ffff)];
  // Ibex Peak style: NR=2 -> 3 regions (reg9 is beyond them and ignored).
  assert.deepEqual(ifdRegions(desc((2 << 24) | (4 << 16), 0x10 << 24, 0x20, 0, regs)).map((x) => x.name), ['fd', 'bios', 'me']);
  // 300 series and newer (ICCRIBA set, MDTBA set): 16 regions, NR ignored.
  assert.deepEqual(ifdRegions(desc(4 << 16, 0x10 << 24, 0x34 << 16, 0x01 << 24, regs)).map((x) => x.name), ['fd', 'bios', 'me', 'reg9', 'reg15']);
  // Sunrise Point (ICCRIBA 0x31, no MDTBA): 10 regions, so reg15 is not one.
  assert.deepEqual(ifdRegions(desc(4 << 16, 0x10 << 24, (0x31 << 16) | 0x30, 0, regs)).map((x) => x.name), ['fd', 'bios', 'me', 'reg9']);
  assert.throws(() => ifdRegions(Buffer.alloc(8192, 0xff)), /no descriptor signature/);
});

test('flashrom failures: each recognised sentence names its error; the chip state follows flashrom\'s own verdict', () => {
  const argv = ['flashrom', '-p', 'internal', '-w', 'x'];
  const cases: Array<[string, string]> = [
    ['Error: Unknown programmer "foo". Valid choices are:', 'TARGET_INVALID'],
    ['Must be root to access /dev/mem', 'PERMISSION_DENIED'],
    ['No EEPROM/flash device found.', 'TARGET_NOT_FOUND'],
    ["Error: Image size (1000 B) doesn't match the expected size (16777216 B)!", 'IMAGE_SIZE_MISMATCH'],
    ['Block protection could not be disabled!', 'FLASH_WRITE_PROTECTED'],
    ['Error: Programmer initialization failed.', 'HELPER_FAILED'],
    ['sudo: a password is required', 'PERMISSION_DENIED'],
    ['something nobody has seen before', 'HELPER_FAILED'],
  ];
  for (const [out, code] of cases) assert.equal(flashromError(argv, 1, out).code, code, out);
  assert.equal(chipStateAfterFailure('Reading old flash chip contents... done.\nError parsing layout file.'), 'unchanged');
  assert.equal(chipStateAfterFailure("Erasing and writing flash chip... FAILED!\nGood, writing to the flash chip apparently didn't do anything."), 'unchanged');
  assert.equal(chipStateAfterFailure('Erasing and writing flash chip... FAILED!\nYour flash chip is in an unknown state.'), 'unknown');
});

test('capsule loader: the flags the kernel refuses, and each errno the kernel returns, become clear errors', () => {
  assert.equal(loaderRefusal(0x10000), null);
  assert.equal(loaderRefusal(0x30000), null);
  assert.match(loaderRefusal(0x50000)!, /InitiateReset/);
  assert.match(loaderRefusal(0x10001)!, /OEM flags 0x0001/);
  const err = (code: string, phase: 'open' | 'write' = 'write') => loaderWriteError(Object.assign(new Error(code), { code }), '/dev/efi_capsule_loader', phase);
  const table: Array<[string, 'open' | 'write', string, RegExp]> = [
    ['EACCES', 'open', 'PERMISSION_DENIED', /needs root/],
    ['ENOENT', 'open', 'TARGET_UNSUPPORTED', /capsule loader is not available/],
    ['EBUSY', 'open', 'TARGET_BUSY', /in use/],
    ['EINVAL', 'write', 'CAPSULE_REJECTED', /rejected its header or flags/],
    ['ENOSPC', 'write', 'CAPSULE_REJECTED', /larger than the firmware accepts/],
    ['ENOMEM', 'write', 'CAPSULE_REJECTED', /could not allocate/],
    ['ECANCELED', 'write', 'CAPSULE_REJECTED', /ended before the whole capsule/],
    ['EROFS', 'write', 'CAPSULE_REJECTED', /write-protected/],
    ['EACCES', 'write', 'CAPSULE_REJECTED', /security violation/],
    ['EIO', 'write', 'CAPSULE_REJECTED', /device error/],
    ['EPIPE', 'write', 'FILE_IO', /writing \/dev\/efi_capsule_loader failed/],
  ];
  for (const [code, phase, want, msg] of table) {
    const e = err(code, phase);
    assert.equal(e.code, want, `${phase} ${code}`);
    assert.match(e.message, msg, `${phase} ${code}`);
  }
});

test('attempt outcome: the decision table over (rebooted?, what the ESRT says)', () => {
  const base: AttemptBaseline = { esrt: 'entry0', fwClass: 'G', targetVersion: 0x20a, fwVersionBefore: 0x200, lastAttemptVersionBefore: 0x200, lastAttemptStatusBefore: 0 };
  const now = (lav: number, las: number, fw = 0x200): EsrtEntry => ({
    name: 'entry0', fwClass: 'G', fwType: 1, fwVersion: fw, lowestSupportedFwVersion: 0, capsuleFlags: 0, lastAttemptVersion: lav, lastAttemptStatus: las,
  });
  const cases: Array<[ReturnType<typeof now> | undefined, 'yes' | 'no' | 'unknown', string]> = [
    [now(0x200, 0), 'no', 'awaiting-reboot'],
    [now(0x20a, 0, 0x20a), 'no', 'awaiting-reboot'],
    [now(0x200, 0), 'yes', 'not-attempted'],
    [now(0x20a, 0, 0x20a), 'yes', 'success'],
    [now(0x20a, 3), 'yes', 'failed'],
    [now(0x20b, 0, 0x20b), 'yes', 'other-attempt'],
    [now(0x200, 0), 'unknown', 'awaiting-reboot'],
    [now(0x20a, 5), 'unknown', 'failed'],
    [undefined, 'yes', 'not-attempted'],
  ];
  for (const [e, rebooted, state] of cases) assert.equal(judgeEntry(base, e, rebooted).state, state, `${rebooted} ${JSON.stringify(e && [e.lastAttemptVersion, e.lastAttemptStatus])}`);
  // The same version installed again with the same result is still our attempt once the machine rebooted.
  const again = { ...base, targetVersion: 0x200, lastAttemptVersionBefore: 0x200 };
  assert.equal(judgeEntry(again, now(0x200, 0), 'yes').state, 'success');
  assert.equal(judgeEntry(base, now(0x20a, 6), 'yes').statusName, 'pwr-evt-ac');
  assert.equal(overallState([judgeEntry(base, now(0x20a, 0, 0x20a), 'yes'), judgeEntry(base, now(0x20a, 1), 'yes')]), 'failed');
});

test('FWUP_REBOOT_COMMAND: a JSON array or words; anything else is a usage error', () => {
  const ctx = (v: string) => quietContext('/w', { FWUP_REBOOT_COMMAND: v });
  assert.equal(rebootCommand(quietContext('/w')), null);
  assert.deepEqual(rebootCommand(ctx('systemctl reboot --firmware-setup')), ['systemctl', 'reboot', '--firmware-setup']);
  assert.deepEqual(rebootCommand(ctx('["/opt/my reboot", "now"]')), ['/opt/my reboot', 'now']);
  assert.throws(() => rebootCommand(ctx('["x", 1]')), /not a JSON array of non-empty strings/);
  assert.equal(displayArgv(['/opt/my reboot', "it's", 'now']), `'/opt/my reboot' 'it'\\''s' now`);
});
