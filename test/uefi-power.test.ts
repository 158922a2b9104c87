import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { json } from './helpers/cli.js';
import { CAP, world, type World } from './helpers/uefi-world.js';
import { EXIT } from '../src/errors/exit-codes.js';

// fwupd refuses system firmware on battery or with the battery nearly empty; so does fwup, reading
// /sys/class/power_supply inside the sysroot as the kernel lays it out.

async function supply(w: World, name: string, files: Record<string, string>): Promise<void> {
  const dir = join(w.root, 'sys/class/power_supply', name);
  await mkdir(dir, { recursive: true });
  for (const [f, v] of Object.entries(files)) await writeFile(join(dir, f), `${v}\n`);
}

const stage = (w: World, extra: string[] = []) => w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--capsule-delivery', 'disk', '--json', ...extra]);

test('uefi: power: on battery, or a battery below 10 %, is refused with nothing written; --ignore-power overrides', async () => {
  const cases: Array<{ what: string; supplies: Record<string, Record<string, string>>; ok: boolean; msg?: RegExp }> = [
    { what: 'on battery', supplies: { AC: { type: 'Mains', online: '0' }, BAT0: { type: 'Battery', capacity: '80', status: 'Discharging', scope: 'System' } }, ok: false, msg: /runs on battery \(80%\): .*AC adapter/ },
    { what: 'battery nearly empty, charging', supplies: { AC: { type: 'Mains', online: '1' }, BAT0: { type: 'Battery', capacity: '5', status: 'Charging' } }, ok: false, msg: /battery is at 5%, below the 10%/ },
    { what: 'the lowest of two batteries counts', supplies: { AC: { type: 'Mains', online: '1' }, BAT0: { type: 'Battery', capacity: '90', status: 'Charging' }, BAT1: { type: 'Battery', capacity: '9', status: 'Charging' } }, ok: false, msg: /at 9%/ },
    { what: 'a laptop on AC with a healthy battery', supplies: { AC: { type: 'Mains', online: '1' }, BAT0: { type: 'Battery', capacity: '55', status: 'Charging' } }, ok: true },
    { what: 'a mouse battery says nothing about the system', supplies: { AC: { type: 'Mains', online: '1' }, 'hidpp_battery_0': { type: 'Battery', capacity: '1', status: 'Discharging', scope: 'Device' } }, ok: true },
    { what: 'a desktop (mains only)', supplies: { AC: { type: 'Mains', online: '1' } }, ok: true },
  ];
  for (const c of cases) {
    const w = await world({ loader: 'none' });
    try {
      for (const [name, files] of Object.entries(c.supplies)) await supply(w, name, files);
      const before = await w.snapshot();
      const r = await stage(w);
      if (c.ok) {
        assert.equal(r.code, 0, `${c.what}: ${r.stdout}${r.stderr}`);
        continue;
      }
      assert.equal(r.code, EXIT.TARGET, `${c.what}: ${r.stdout}`);
      const e = json<{ error: { code: string; message: string; hint: string } }>(r).error;
      assert.equal(e.code, 'POWER_TOO_LOW', c.what);
      assert.match(e.message, c.msg!, c.what);
      assert.match(e.hint, /--ignore-power/);
      assert.equal(await w.snapshot(), before, `${c.what}: nothing written`);
      const forced = await stage(w, ['--ignore-power']);
      assert.equal(forced.code, 0, `${c.what} with --ignore-power: ${forced.stdout}${forced.stderr}`);
    } finally {
      await w.cleanup();
    }
  }
  // The power supplies are read when staging, not remembered: plugging in the adapter is enough.
  const w = await world({ loader: 'none' });
  try {
    await supply(w, 'AC', { type: 'Mains', online: '0' });
    await supply(w, 'BAT0', { type: 'Battery', capacity: '70', status: 'Discharging' });
    assert.equal((await stage(w)).code, EXIT.TARGET);
    await rm(join(w.root, 'sys/class/power_supply/AC/online'));
    await writeFile(join(w.root, 'sys/class/power_supply/AC/online'), '1\n');
    assert.equal((await stage(w)).code, 0);
  } finally {
    await w.cleanup();
  }
});
