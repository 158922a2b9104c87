import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FwupError } from '../src/errors/fwup-error.js';
import { EXIT } from '../src/errors/exit-codes.js';
import { quietContext } from '../src/core/context.js';
import { loadFlashTiming } from '../src/core/machine-init.js';
import { builtinFlashTiming, parseFlashTiming, W25Q128JV, type FlashTimingSpec } from '../src/storage/flash-timing.js';
import { addErase, addProgram, addRead, eraseCommands, pagesTouched, TimedFlash, zeroTime } from '../src/storage/timed-flash.js';
import { MemoryFlash } from '../src/storage/memory-flash.js';
import { onlyClearsBits } from '../src/storage/flash.js';
import { parseMachineConfig } from '../src/machine/config.js';
import { fwup, json, tempDir, REPO_ROOT } from './helpers/cli.js';
import { initMachine } from './helpers/machine.js';

const MiB = 1024 * 1024;
const CHIP = 16 * MiB;
const IMAGE = join(REPO_ROOT, 'fixtures', 'images', 'fw-2.0.0-signed.fwup');
/** The same chip with 4 KiB sector erase only (no block or chip erase). */
const SECTORS_ONLY: FlashTimingSpec = { ...W25Q128JV, block32EraseMs: undefined, block64EraseMs: undefined, chipEraseMs: undefined };

function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-6 * Math.max(1, expected), `${what}: ${actual} is not ${expected}`);
}

test('flash timing: the W25Q128JV table is the datasheet\'s (256-byte pages, 4 KiB sectors, tPP 0.4/3 ms, tSE 45/400 ms, tBE 120/1600 and 150/2000 ms, tCE 40/200 s, 66.5 MB/s)', () => {
  assert.deepEqual(
    [W25Q128JV.pageBytes, W25Q128JV.sectorBytes, W25Q128JV.pageProgramMs, W25Q128JV.sectorEraseMs, W25Q128JV.block32EraseMs, W25Q128JV.block64EraseMs, W25Q128JV.chipEraseMs, W25Q128JV.readBytesPerSecond],
    [256, 4096, { typical: 0.4, max: 3 }, { typical: 45, max: 400 }, { typical: 120, max: 1600 }, { typical: 150, max: 2000 }, { typical: 40_000, max: 200_000 }, 66_500_000],
  );
  assert.equal(builtinFlashTiming('w25q128jv'), W25Q128JV, 'names are case-insensitive');
  // The table passes its own validation (it is what machine.json stores).
  assert.deepEqual(parseFlashTiming(JSON.parse(JSON.stringify(W25Q128JV)), 'x'), W25Q128JV);
});

test('flash timing: erasing 16 MiB in 4 KiB sectors is 4096 × 45 ms typical, 4096 × 400 ms worst', () => {
  const t = zeroTime();
  addErase(t, SECTORS_ONLY, 0, CHIP, 2 * CHIP);
  assert.equal(t.erases.sector, 4096);
  close(t.typicalMs, 184_320, 'typical'); // 3 min 4 s
  close(t.worstMs, 1_638_400, 'worst'); // 27 min 18 s
});

test('flash timing: with 64 KiB block erase the same 16 MiB is 256 × 150 ms typical, 256 × 2000 ms worst; the whole chip is one chip erase', () => {
  const t = zeroTime();
  addErase(t, W25Q128JV, 0, CHIP, 2 * CHIP);
  assert.deepEqual(t.erases, { sector: 0, block32: 0, block64: 256, chip: 0 });
  close(t.typicalMs, 38_400, 'typical');
  close(t.worstMs, 512_000, 'worst');
  const whole = zeroTime();
  addErase(whole, W25Q128JV, 0, CHIP, CHIP);
  assert.deepEqual(whole.erases, { sector: 0, block32: 0, block64: 0, chip: 1 });
  close(whole.typicalMs, 40_000, 'chip typical');
  close(whole.worstMs, 200_000, 'chip worst');
});

test('flash timing: the erase granularity is the largest aligned block that fits, as a SPI NOR driver issues it', () => {
  // [4 KiB, 132 KiB): 7 sectors up to 32 KiB, a 32 KiB block, a 64 KiB block at 64 KiB, a last sector.
  const cmds = eraseCommands(W25Q128JV, 4096, 128 * 1024, CHIP);
  assert.deepEqual(cmds.map((c) => c.unit), ['sector', 'sector', 'sector', 'sector', 'sector', 'sector', 'sector', 'block32', 'block64', 'sector']);
  assert.deepEqual(cmds.map((c) => c.at), [4096, 8192, 12288, 16384, 20480, 24576, 28672, 32768, 65536, 131072]);
  const t = zeroTime();
  addErase(t, W25Q128JV, 4096, 128 * 1024, CHIP);
  close(t.typicalMs, 8 * 45 + 120 + 150, 'typical');
  close(t.worstMs, 8 * 400 + 1600 + 2000, 'worst');
  // A chip without 32 KiB erase uses sectors where a 32 KiB block would have gone.
  const no32 = eraseCommands({ ...W25Q128JV, block32EraseMs: undefined }, 4096, 128 * 1024, CHIP);
  assert.deepEqual(no32.map((c) => c.unit).filter((u) => u !== 'sector'), ['block64']);
  assert.equal(no32.length, 7 + 8 + 1 + 1);
  // An erase smaller than a sector (a chip with 512-byte blocks) costs the whole sector it lies in.
  assert.deepEqual(eraseCommands(W25Q128JV, 512, 512, CHIP), [{ unit: 'sector', at: 0, bytes: 4096 }]);
  // The flash controller's erases are what RegionWriter issues: runs of up to 64 KiB at 64 KiB boundaries of a slot.
  assert.deepEqual(eraseCommands(W25Q128JV, 8 * MiB, 64 * 1024, CHIP).map((c) => c.unit), ['block64']);
});

test('flash timing: programming 16 MiB is 65,536 pages × 0.4 ms typical, × 3 ms worst; a partial page costs a page', () => {
  const t = zeroTime();
  addProgram(t, W25Q128JV, 0, CHIP);
  assert.equal(t.pagesProgrammed, 65_536);
  close(t.typicalMs, 26_214.4, 'typical');
  close(t.worstMs, 196_608, 'worst');
  assert.equal(pagesTouched(W25Q128JV, 0, 1), 1);
  assert.equal(pagesTouched(W25Q128JV, 0, 256), 1);
  assert.equal(pagesTouched(W25Q128JV, 0, 257), 2);
  assert.equal(pagesTouched(W25Q128JV, 255, 2), 2, 'two bytes across a page boundary are two page programs');
  assert.equal(pagesTouched(W25Q128JV, 100, 256), 2);
  assert.equal(pagesTouched(W25Q128JV, 0, 0), 0);
  const part = zeroTime();
  addProgram(part, W25Q128JV, 10, 20);
  close(part.typicalMs, 0.4, 'one partial page typical');
  close(part.worstMs, 3, 'one partial page worst');
});

test('flash timing: a read of N bytes takes N / bandwidth, the same typical and worst; command overheads add per command', () => {
  const t = zeroTime();
  addRead(t, W25Q128JV, 66_500_000);
  close(t.typicalMs, 1000, 'one bandwidth-second');
  addRead(t, W25Q128JV, CHIP);
  close(t.typicalMs, 1000 + (CHIP / 66_500_000) * 1000, '16 MiB more');
  assert.equal(t.worstMs, t.typicalMs);
  const slow: FlashTimingSpec = { ...W25Q128JV, writeEnableUs: 10, statusPollUs: 5 };
  const o = zeroTime();
  addProgram(o, slow, 0, 1024); // 4 page programs
  addErase(o, slow, 0, 4096, CHIP); // 1 sector erase
  close(o.typicalMs, 4 * (0.4 + 0.015) + 45 + 0.015, 'typical with overheads');
  close(o.worstMs, 4 * (3 + 0.015) + 400 + 0.015, 'worst with overheads');
});

test('flash timing: TimedFlash counts what reaches the chip and nothing a refused operation did', () => {
  const inner = new MemoryFlash({ size: 1 * MiB, blockSize: 4096, programAlign: 1 });
  const f = new TimedFlash(inner, W25Q128JV);
  f.erase(0, 64 * 1024);
  f.program(0, Buffer.alloc(300, 0x00));
  f.read(0, 1000);
  const before = f.elapsed();
  assert.throws(() => f.program(0, Buffer.from([0x01])), (e: unknown) => e instanceof FwupError && e.code === 'FLASH_VIOLATION');
  assert.deepEqual(f.elapsed(), before, 'a refused program costs nothing');
  assert.deepEqual(before.erases, { sector: 0, block32: 0, block64: 1, chip: 0 });
  assert.equal(before.pagesProgrammed, 2);
  assert.equal(before.bytesRead, 1000);
  close(before.typicalMs, 150 + 2 * 0.4 + (1000 / 66_500_000) * 1000, 'typical');
  close(before.worstMs, 2000 + 2 * 3 + (1000 / 66_500_000) * 1000, 'worst');
});

test('onlyClearsBits: erased bytes take any data, whole words with the top bit set included (a signed and unsigned comparison made every such block an erase)', () => {
  const erased = Buffer.alloc(4096, 0xff);
  const data = Buffer.alloc(4096, 0x80); // 0x80808080 words: the top bit of every word set
  assert.equal(onlyClearsBits(erased, data), true);
  assert.equal(onlyClearsBits(Buffer.alloc(4096, 0x7f), data), false, '0x7f -> 0x80 needs a bit set');
  const oneUp = Buffer.alloc(4096, 0x00);
  oneUp[4095] = 0x01;
  assert.equal(onlyClearsBits(Buffer.alloc(4096, 0x00), oneUp), false);
});

function rejects(raw: unknown, pattern: RegExp): void {
  assert.throws(() => parseFlashTiming(raw, 'chip.json'), (e: unknown) => {
    assert.ok(e instanceof FwupError, String(e));
    assert.equal(e.code, 'USAGE');
    assert.match(e.message, pattern);
    assert.ok(e.hint && e.hint.length > 0, 'a hint');
    return true;
  });
}

test('flash timing: a JSON file is checked field by field (missing, negative, non-number, max below typical, unknown field)', () => {
  const good = JSON.parse(JSON.stringify(W25Q128JV)) as Record<string, unknown>;
  const without = (k: string) => Object.fromEntries(Object.entries(good).filter(([key]) => key !== k));
  rejects(without('pageBytes'), /"pageBytes" is missing/);
  rejects(without('sectorEraseMs'), /"sectorEraseMs" is missing/);
  rejects(without('readBytesPerSecond'), /"readBytesPerSecond" is missing/);
  rejects(without('chip'), /"chip" must be a name/);
  rejects({ ...good, pageProgramMs: { typical: 0.4 } }, /"pageProgramMs.max" is missing/);
  rejects({ ...good, sectorEraseMs: { typical: -45, max: 400 } }, /"sectorEraseMs.typical" must be positive, not -45/);
  rejects({ ...good, readBytesPerSecond: -1 }, /must be positive/);
  rejects({ ...good, statusPollUs: -5 }, /"statusPollUs" must not be negative/);
  rejects({ ...good, pageBytes: '256' }, /"pageBytes" must be a number, not "256"/);
  rejects({ ...good, block64EraseMs: { typical: '150', max: 2000 } }, /"block64EraseMs.typical" must be a number/);
  rejects({ ...good, block64EraseMs: 150 }, /"block64EraseMs" must be \{"typical": ms, "max": ms\}/);
  rejects({ ...good, pageBytes: 300 }, /power of two/);
  rejects({ ...good, sectorEraseMs: { typical: 400, max: 45 } }, /max 45 is below typical 400/);
  rejects({ ...good, eraseMs: 1 }, /unknown field "eraseMs"/);
  rejects([], /not a JSON object/);
  // Optional figures may be left out.
  const minimal = parseFlashTiming({ chip: 'X', pageBytes: 256, pageProgramMs: { typical: 1, max: 2 }, sectorBytes: 4096, sectorEraseMs: { typical: 10, max: 20 }, readBytesPerSecond: 1e6 }, 'x');
  assert.equal(minimal.block64EraseMs, undefined);
  assert.deepEqual(eraseCommands(minimal, 0, 64 * 1024, CHIP).map((c) => c.unit), new Array(16).fill('sector'));
});

test('flash timing: --flash-timing resolves a built-in name or a FILE.json; an unknown chip, a missing file and bad JSON are refused with a hint', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const ctx = quietContext(dir);
    assert.equal(await loadFlashTiming(ctx, 'W25Q128JV'), W25Q128JV);
    await assert.rejects(loadFlashTiming(ctx, 'W25Q999XX'), (e: unknown) => e instanceof FwupError && e.code === 'USAGE' && /unknown flash chip "W25Q999XX"/.test(e.message) && /W25Q128JV/.test(e.hint ?? ''));
    const mine = { ...W25Q128JV, chip: 'MyChip', sectorEraseMs: { typical: 30, max: 300 } };
    await writeFile(join(dir, 'mine.json'), JSON.stringify(mine));
    assert.deepEqual(await loadFlashTiming(ctx, 'mine.json'), mine);
    await assert.rejects(loadFlashTiming(ctx, 'absent.json'), (e: unknown) => e instanceof FwupError && e.code === 'FILE_NOT_FOUND');
    await writeFile(join(dir, 'broken.json'), '{ "chip": ');
    await assert.rejects(loadFlashTiming(ctx, 'broken.json'), (e: unknown) => e instanceof FwupError && e.code === 'USAGE' && /not valid JSON/.test(e.message) && Boolean(e.hint));
  } finally {
    await cleanup();
  }
});

test('flash timing: machine.json keeps the figures; a damaged copy there is the target\'s fault (TARGET_CORRUPT)', () => {
  const base = { format: 'fwup-machine', version: 2, cpus: 2, ramBytes: 16 * MiB, flash: { size: 2 * MiB, blockSize: 4096, programAlign: 1 }, createdAt: 'x' };
  assert.deepEqual(parseMachineConfig(JSON.stringify({ ...base, flashTiming: W25Q128JV }), 'm.json').flashTiming, W25Q128JV);
  assert.equal(parseMachineConfig(JSON.stringify(base), 'm.json').flashTiming, undefined, 'off by default');
  assert.throws(() => parseMachineConfig(JSON.stringify({ ...base, flashTiming: { ...W25Q128JV, pageBytes: -1 } }), 'm.json'), (e: unknown) => e instanceof FwupError && e.code === 'TARGET_CORRUPT' && /flashTiming/.test(e.message) && Boolean(e.hint));
});

test('machine init --flash-timing: a bad file creates nothing; an unknown chip exits 4 (usage) with a hint', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ ...W25Q128JV, pageProgramMs: { typical: -1, max: 3 } }));
    const r = await fwup(['machine', 'init', join(dir, 'm'), '--flash-size', '2M', '--flash-timing', 'bad.json', '--json'], { cwd: dir });
    assert.equal(r.code, EXIT.USAGE, r.stdout + r.stderr);
    assert.match(json<{ error: { message: string } }>(r).error.message, /pageProgramMs.typical" must be positive/);
    assert.equal(existsSync(join(dir, 'm')), false, 'no machine was created');
    const u = await fwup(['machine', 'init', join(dir, 'm'), '--flash-size', '2M', '--flash-timing', 'W25Q64XX', '--json'], { cwd: dir });
    assert.equal(u.code, EXIT.USAGE);
    const err = json<{ error: { code: string; message: string; hint: string } }>(u).error;
    assert.match(err.message, /unknown flash chip/);
    assert.match(err.hint, /W25Q128JV/);
    assert.equal(existsSync(join(dir, 'm')), false);
  } finally {
    await cleanup();
  }
});

interface ApplyJson {
  report: {
    ok: boolean;
    downtimeMs: number;
    phases: Array<{ name: string; ms: number }>;
    flashTiming: { chip: string; typicalMs: number; worstMs: number; phases: Array<{ name: string; typicalMs: number; worstMs: number }> } | null;
  };
}

test('apply --warm on a machine with --flash-timing W25Q128JV reports the modelled downtime of what it programmed', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    // By copy: the firmware programs the slot in the downtime, which is what this test computes.
    const t = await initMachine(dir, ['--flash-timing', 'W25Q128JV', '--install', 'copy']);
    const config = JSON.parse(await readFile(join(dir, 'm', 'machine.json'), 'utf8')) as { flashTiming: unknown };
    assert.deepEqual(config.flashTiming, W25Q128JV, 'machine.json holds the figures');
    assert.equal((await fwup(['stage', IMAGE, '--target', t], { cwd: dir })).code, 0);
    const r = await fwup(['apply', '--warm', '--target', t, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const rep = json<ApplyJson>(r).report;
    assert.ok(rep.ok);
    const ft = rep.flashTiming!;
    assert.equal(ft.chip, 'W25Q128JV');
    assert.deepEqual(ft.phases.map((p) => p.name), rep.phases.map((p) => p.name), 'one figure per downtime phase');
    close(ft.typicalMs, ft.phases.reduce((a, p) => a + p.typicalMs, 0), 'the phases add up (typical)');
    close(ft.worstMs, ft.phases.reduce((a, p) => a + p.worstMs, 0), 'the phases add up (worst)');

    // Computed from the image alone: slot B of a new machine is erased, so the program phase programs
    // every page of the image (no erase), reads it from STAGING, reads the slot before writing and reads
    // it back: 3 passes over the image, plus less than a 64 KiB group and a header of rounding.
    const len = (await stat(IMAGE)).size;
    const pages = Math.ceil(len / 256);
    const readMs = (n: number) => (n / 66_500_000) * 1000;
    const program = ft.phases.find((p) => p.name === 'program')!;
    assert.ok(program.typicalMs >= pages * 0.4 + readMs(3 * len) - 1e-9, `program typical ${program.typicalMs} ms covers ${pages} pages`);
    assert.ok(program.typicalMs <= pages * 0.4 + readMs(3 * len + 128 * 1024), `program typical ${program.typicalMs} ms has no erase in it`);
    assert.ok(program.worstMs >= pages * 3 + readMs(3 * len) - 1e-9 && program.worstMs <= pages * 3 + readMs(3 * len + 128 * 1024), `program worst ${program.worstMs} ms`);
    // The firmware reads the whole staged image to verify it before anything is written.
    assert.ok(ft.phases.find((p) => p.name === 'verify')!.typicalMs >= readMs(len));
    // Rendezvous and resume do not touch the flash.
    for (const name of ['rendezvous', 'resume']) assert.equal(ft.phases.find((p) => p.name === name)!.typicalMs, 0, name);
  } finally {
    await cleanup();
  }
});

test('apply: without --flash-timing the report has flashTiming null and the text no modelled line; with it, the text says typical and worst', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const t = await initMachine(dir);
    await fwup(['stage', IMAGE, '--target', t], { cwd: dir });
    const r = await fwup(['apply', '--warm', '--target', t, '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json<ApplyJson>(r).report.flashTiming, null);
    const m2 = join(dir, 'm2');
    assert.equal((await fwup(['machine', 'init', m2, '--flash-size', '2M', '--cpus', '2', '--flash-timing', 'W25Q128JV'], { cwd: dir })).code, 0);
    await fwup(['stage', IMAGE, '--target', `emu:${m2}`], { cwd: dir });
    const txt = await fwup(['apply', '--warm', '--target', `emu:${m2}`], { cwd: dir });
    assert.equal(txt.code, 0, txt.stderr);
    assert.match(txt.stdout, /downtime on this chip \(W25Q128JV, modelled\): typical \d+\.\d+ s, worst \d+\.\d+ s/);
  } finally {
    await cleanup();
  }
});
