import { REGION_NAMES, type FlashMap } from '../../storage/flash-map.js';
import type { FlashOp } from '../../storage/recording-flash.js';
import type { PlannedAction } from '../plan.js';

/**
 * The flash writes of a command as plan actions: consecutive operations on one region become one
 * action (its bytes programmed, and erased). Built from what the code did (recorded below the flash
 * controller), so the plan a dry run prints is the plan a real run performs.
 */
export function flashPlan(map: FlashMap, ops: readonly FlashOp[]): PlannedAction[] {
  const out: Array<{ region: string; offset: number; programmed: number; erased: number; count: number }> = [];
  for (const o of ops) {
    const region = REGION_NAMES.find((n) => o.offset >= map[n].offset && o.offset < map[n].offset + map[n].size) ?? 'unmapped';
    let last = out[out.length - 1];
    if (!last || last.region !== region) {
      last = { region, offset: o.offset, programmed: 0, erased: 0, count: 0 };
      out.push(last);
    }
    last.count++;
    if (o.op === 'program') last.programmed += o.length;
    else last.erased += o.length;
  }
  return out.map((a) => ({
    kind: 'flash' as const,
    region: a.region,
    offset: a.offset,
    length: a.programmed,
    purpose: `${WHAT[a.region] ?? a.region}: ${[a.erased ? `${a.erased} bytes erased` : '', a.programmed ? `${a.programmed} bytes programmed` : ''].filter(Boolean).join(', ')} in ${a.count} operation${a.count > 1 ? 's' : ''}`,
  }));
}

const WHAT: Record<string, string> = {
  MAP: 'the flash map',
  MAP_BACKUP: 'the flash map (second copy)',
  KEYSTORE: 'the key store',
  BOOTREC: 'the boot record',
  NVRAM: 'NVRAM variables',
  NVRAM_SPARE: 'NVRAM spare (reclaim)',
  SLOT_A: 'firmware slot A',
  SLOT_B: 'firmware slot B',
  RECOVERY: 'the recovery copy',
  STAGING: 'STAGING (the staged image)',
};
