import { FwupError } from '../../errors/fwup-error.js';
import type { Delivery } from './capsule-delivery.js';
import type { RecordSet } from './uefi-records.js';
import type { UefiPending } from './uefi-results.js';

/**
 * Who may share the machine with the fwupd-efi fallback. Its boot entry, BootNext and the helper's copy
 * on the ESP belong to the machine, not to one ESRT entry, and the helper resets the machine itself once
 * it has handed its capsule over: so a capsule through fwupd's helper takes the next boot alone.
 * - A stage through fwupd-efi is refused while any other capsule waits for the next boot (staged, cut
 *   half-way, or applied and not rebooted yet), and while another entry holds a fwupd-efi delivery at all
 *   (even after its reboot: the boot entry and the helper are in that entry's record until unstaged).
 * - Any stage is refused while a fwupd-efi capsule waits for the next boot or was cut half-way, and a stage
 *   of the fwupd-efi entry itself while its capsule is staged, or by another delivery after its reboot (the
 *   fallback's files would stay behind).
 * The one stage that takes a fwupd-efi delivery over: its own entry's, again through fwupd-efi, after the
 * reboot (the same files and variables, rewritten; what they were before fwup stays recorded).
 */
export async function fwupdEfiSharing(all: RecordSet, key: string, delivery: Delivery, awaitingReboot: (p: UefiPending) => Promise<boolean>): Promise<FwupError | null> {
  const records = [
    ...all.intents.map((r) => ({ ...r, kind: 'intent' as const })),
    ...all.requests.map((r) => ({ ...r, kind: 'request' as const })),
    ...all.pendings.map((r) => ({ ...r, kind: 'pending' as const })),
  ];
  for (const r of records) {
    const mine = r.key === key;
    const waits = r.kind !== 'pending' || (await awaitingReboot(r.record as UefiPending));
    const what = r.kind === 'intent' ? 'a cut stage' : r.kind === 'request' ? 'staged' : waits ? 'applied, awaiting the reboot' : 'applied, after its reboot';
    const unstage = `fwup unstage --target uefi --component ${r.key}`;
    if (r.record.delivery === 'fwupd-efi') {
      if (mine && r.kind === 'pending' && !waits && delivery === 'fwupd-efi') continue;
      if (waits || mine || delivery === 'fwupd-efi') {
        return new FwupError('TARGET_BUSY', `the capsule for ${r.key} (${what}) goes through fwupd's helper: its boot entry and BootNext are the machine's, and it takes the next boot alone`, {
          hint: `unstage it first (${unstage})${waits && r.kind === 'pending' ? ', or reboot to let the helper install it' : ''}; nothing was written`,
          details: { entry: r.key, record: r.kind, delivery: r.record.delivery },
        });
      }
    } else if (delivery === 'fwupd-efi' && waits) {
      return new FwupError('TARGET_BUSY', `fwupd's helper takes the next boot alone, and the capsule for ${r.key} (${what}, by ${r.record.delivery}) waits for it too`, {
        hint: `${r.kind === 'pending' ? 'reboot first to let the firmware install it, or unstage' : 'unstage'} it first (${unstage}); nothing was written`,
        details: { entry: r.key, record: r.kind, delivery: r.record.delivery },
      });
    }
  }
  return null;
}
