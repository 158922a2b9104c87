/**
 * The pre-OS firmware's decisions, as data (MCUboot's habit): a boot is described by a few facts and the
 * first matching row says what to do. `firmware.ts` establishes the facts and performs the actions.
 */
export type ResetCause = 'power-on' | 'warm' | 'cold';
/** none; staged (no apply asked); apply-warm / apply-cold; invalid (the record failed validation). */
export type RequestKind = 'none' | 'staged' | 'apply-warm' | 'apply-cold' | 'rollback-warm' | 'invalid';
export type Validity = 'valid' | 'invalid' | 'n/a';

export interface BootFacts {
  cause: ResetCause;
  request: RequestKind;
  image: Validity;
  state: Validity;
}

export type BootAction =
  /** verify nothing more; write the staged image into the inactive slot and activate it on trial */
  | 'install'
  /** activate the other slot (on trial) if it verifies and the security version allows it */
  | 'switch-slot'
  /** record why the staged image was refused; slots untouched; request cleared */
  | 'reject'
  /** drop the warm part of a request whose saved state cannot be used (the image stays staged) */
  | 'drop-warm'
  /** restore every CPU from its saved slot and continue the OS */
  | 'resume'
  /** start every CPU from the reset vector: the OS boots from scratch, RAM contents are not trusted */
  | 'cold-boot';

export interface BootRow {
  when: Partial<BootFacts>;
  then: BootAction[];
  say: string;
}

export const BOOT_TABLE: readonly BootRow[] = [
  { when: { cause: 'warm', request: 'apply-warm', image: 'valid', state: 'valid' }, then: ['install', 'resume'], say: 'warm start with a staged update: install it, then resume the OS' },
  { when: { cause: 'warm', request: 'apply-warm', image: 'invalid', state: 'valid' }, then: ['reject', 'resume'], say: 'the staged image failed verification: slots untouched, resume the OS on the installed firmware' },
  { when: { cause: 'warm', request: 'rollback-warm', state: 'valid' }, then: ['switch-slot', 'resume'], say: 'warm start with a rollback request: activate the previous slot, then resume the OS' },
  { when: { cause: 'warm', request: 'rollback-warm' }, then: ['reject', 'cold-boot'], say: 'a saved CPU state failed its check and is never loaded: rollback abandoned, cold boot' },
  { when: { request: 'rollback-warm' }, then: ['reject', 'cold-boot'], say: 'a warm rollback was asked but RAM was lost: rollback abandoned' },
  { when: { cause: 'warm', request: 'apply-warm', state: 'invalid' }, then: ['drop-warm', 'cold-boot'], say: 'a saved CPU state failed its check and is never loaded: cold boot on the installed firmware (the update stays staged)' },
  { when: { cause: 'warm', request: 'invalid' }, then: ['reject', 'cold-boot'], say: 'the update request failed validation: it is discarded, and the state it points to is not trusted: cold boot' },
  { when: { cause: 'warm', state: 'valid' }, then: ['resume'], say: 'warm start without an update: resume the OS' },
  { when: { cause: 'warm' }, then: ['cold-boot'], say: 'warm start without usable saved state: cold boot' },
  { when: { request: 'apply-cold', image: 'valid' }, then: ['install', 'cold-boot'], say: 'cold start with a staged update: install it, then boot the OS' },
  { when: { request: 'apply-cold', image: 'invalid' }, then: ['reject', 'cold-boot'], say: 'the staged image failed verification: slots untouched, boot the installed firmware' },
  { when: { request: 'apply-warm' }, then: ['drop-warm', 'cold-boot'], say: 'a warm update was asked but RAM was lost (power cut or cold reset): boot the installed firmware, the update stays staged' },
  { when: { request: 'invalid' }, then: ['reject', 'cold-boot'], say: 'the update request failed validation: it is discarded' },
  { when: {}, then: ['cold-boot'], say: 'boot the installed firmware' },
];

/** Which facts a row needs, so the firmware verifies the image and the state only when a row asks. */
export function decide(facts: BootFacts): BootRow {
  const row = BOOT_TABLE.find((r) => Object.entries(r.when).every(([k, v]) => facts[k as keyof BootFacts] === v));
  return row!; // the last row matches everything
}
