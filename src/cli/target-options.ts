import { FwupError } from '../errors/fwup-error.js';
import { DEFAULT_TARGET_OPTIONS, type TargetOptions } from '../targets/target.js';
import type { OptionSpec } from './command-table.js';

/** Options that say how to reach a hardware target, shared by the commands that touch one. */
export const HW_OPTIONS = {
  sudo: { flags: '--sudo', description: 'run helpers and privileged writes through sudo -n when not root (flashrom, efivars, the capsule loader, the reboot)' },
  dryRun: { flags: '--dry-run', description: 'validate, then print every helper command (argv) and write it would perform; change nothing' },
  region: { flags: '--region <name>', description: 'flashrom: write only this region (needs --layout FILE or --ifd)' },
  layout: { flags: '--layout <file>', description: 'flashrom: the layout file naming the regions (flashrom -l syntax: START:END NAME)' },
  ifd: { flags: '--ifd', description: 'flashrom: take the regions from the chip\'s Intel Flash Descriptor' },
  delivery: { flags: '--capsule-delivery <how>', description: 'uefi: auto (loader if present, else capsule on disk), loader or disk', default: 'auto' },
  esp: { flags: '--esp <dir>', description: 'uefi: mount point of the EFI system partition inside the sysroot (default: /boot/efi, /efi, /boot)' },
} satisfies Record<string, OptionSpec>;

/** Build TargetOptions from a command's parsed options (any subset of HW_OPTIONS). */
export function targetOptionsFrom(opts: Record<string, unknown>): TargetOptions {
  const delivery = typeof opts.capsuleDelivery === 'string' ? opts.capsuleDelivery : 'auto';
  if (delivery !== 'auto' && delivery !== 'loader' && delivery !== 'disk') {
    throw new FwupError('USAGE', `--capsule-delivery ${delivery}: choose auto, loader or disk`, {
      hint: 'auto uses the kernel loader when present, else a capsule on the ESP',
    });
  }
  return {
    ...DEFAULT_TARGET_OPTIONS,
    sudo: Boolean(opts.sudo),
    ifd: Boolean(opts.ifd),
    capsuleDelivery: delivery,
    ...(typeof opts.region === 'string' ? { region: opts.region } : {}),
    ...(typeof opts.layout === 'string' ? { layout: opts.layout } : {}),
    ...(typeof opts.esp === 'string' ? { esp: opts.esp } : {}),
  };
}
