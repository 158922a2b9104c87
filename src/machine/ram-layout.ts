import { PAGE_BYTES } from './workload.js';

/** Where things live in the emulated RAM (docs/emulated-platform.md). */
export const RAM_PAGES_BASE = 0;
export const RAM_SAVE_AREA_BASE = 0x0010_0000;

export function pageOffset(cpu: number): number {
  return RAM_PAGES_BASE + cpu * PAGE_BYTES;
}
