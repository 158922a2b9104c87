import type { InstallStrategy } from '../../src/storage/key-store.js';

/** The install strategies every apply, power-cut, fuzz and firmware suite runs over (one table, no copied bodies). */
export const STRATEGIES: readonly InstallStrategy[] = ['copy', 'in-place'];

/** The downtime phases of a warm apply: staged in place, nothing is programmed in the downtime. */
export function applyPhases(install: InstallStrategy): string[] {
  return ['rendezvous', 'save', 'reset', 'verify', ...(install === 'copy' ? ['program'] : []), 'activate', 'restore', 'resume'];
}

/** Where `stage` puts a .fwup image on a machine whose active slot is A. */
export function stagedRegion(install: InstallStrategy): 'STAGING' | 'SLOT_B' {
  return install === 'copy' ? 'STAGING' : 'SLOT_B';
}
