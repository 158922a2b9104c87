import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';

/** Below this battery level a system firmware update is refused (fwupd's default BatteryThreshold). */
export const BATTERY_THRESHOLD_PERCENT = 10;

export interface PowerState {
  /** Mains adapters: null when the system has none (a desktop or a server: always on mains). */
  ac: boolean | null;
  /** The lowest level of the system's batteries (scope System or unset), null without one. */
  batteryPercent: number | null;
  supplies: Array<{ name: string; type: string; online: boolean | null; capacity: number | null; status: string | null }>;
}

const read = (p: string) => readFile(p, 'utf8').then((t) => t.trim(), () => null);

/** What <sysroot>/sys/class/power_supply says, as the kernel's power_supply class writes it. */
export async function readPower(sysroot: string): Promise<PowerState> {
  const dir = join(sysroot, 'sys/class/power_supply');
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  const supplies: PowerState['supplies'] = [];
  for (const name of names) {
    const type = (await read(join(dir, name, 'type'))) ?? 'Unknown';
    // A mouse's or a headset's battery (scope Device) says nothing about the system's power.
    if ((await read(join(dir, name, 'scope'))) === 'Device') continue;
    const online = await read(join(dir, name, 'online'));
    const capacity = await read(join(dir, name, 'capacity'));
    supplies.push({ name, type, online: online === null ? null : online === '1', capacity: capacity === null || !/^\d+$/.test(capacity) ? null : Number(capacity), status: await read(join(dir, name, 'status')) });
  }
  const mains = supplies.filter((s) => s.type === 'Mains' || s.type === 'USB' || s.type === 'USB_PD');
  const batteries = supplies.filter((s) => s.type === 'Battery' && s.capacity !== null);
  const charging = batteries.some((b) => b.status === 'Charging' || b.status === 'Full');
  return {
    ac: mains.length ? mains.some((m) => m.online === true) || charging : batteries.length ? charging : null,
    batteryPercent: batteries.length ? Math.min(...batteries.map((b) => b.capacity!)) : null,
    supplies,
  };
}

/**
 * fwupd refuses a system firmware update on battery or with the battery nearly empty: a machine that
 * loses power while the firmware writes its flash may not boot again. `--ignore-power` overrides.
 */
export function powerRefusal(p: PowerState): FwupError | null {
  if (p.batteryPercent !== null && p.batteryPercent < BATTERY_THRESHOLD_PERCENT) {
    return new FwupError('POWER_TOO_LOW', `the battery is at ${p.batteryPercent}%, below the ${BATTERY_THRESHOLD_PERCENT}% a firmware update needs`, {
      hint: 'charge it (with the AC adapter connected), then stage again; --ignore-power overrides at your own risk',
      details: { ...p },
    });
  }
  if (p.ac === false) {
    return new FwupError('POWER_TOO_LOW', `the system runs on battery (${p.batteryPercent ?? '?'}%): a firmware update needs the AC adapter connected`, {
      hint: 'connect the AC adapter, then stage again; --ignore-power overrides at your own risk',
      details: { ...p },
    });
  }
  return null;
}
