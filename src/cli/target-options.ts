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
  delivery: { flags: '--capsule-delivery <how>', description: 'uefi: auto (loader if present, else capsule on disk, else fwupd\'s UEFI helper), loader, disk or fwupd-efi', default: 'auto' },
  esp: { flags: '--esp <dir>', description: 'uefi: mount point of the EFI system partition inside the sysroot (default: /boot/efi, /efi, /boot)' },
  ignorePower: { flags: '--ignore-power', description: 'uefi: stage even on battery power or with the battery below 10% (a power loss while the firmware writes may brick the machine)' },
  credentials: { flags: '--credentials <file>', description: 'redfish: the BMC account, {"user","password"} or two lines, mode 0600 (default: FWUP_REDFISH_USER/FWUP_REDFISH_PASSWORD)' },
  ca: { flags: '--ca <pem>', description: 'redfish: trust this CA certificate for the BMC\'s TLS instead of the system store' },
  insecure: { flags: '--insecure', description: 'redfish: do not verify the BMC\'s TLS certificate (a password then crosses unprotected)' },
  allowHttp: { flags: '--allow-http', description: 'redfish: allow a plain http:// BMC' },
  serveAddress: { flags: '--serve-address <address>', description: 'redfish: where fwup serves the image for SimpleUpdate (default: the address that reaches the BMC)' },
  component: { flags: '--component <id>', description: 'redfish: the FirmwareInventory item to update (default: the system\'s firmware); uefi unstage: the ESRT entry (fw_class GUID) whose capsule goes (default: every capsule)' },
  pushMethod: { flags: '--push-method <how>', description: 'redfish: auto (multipart, else SimpleUpdate, else HTTP push), multipart, simple-update or http-push', default: 'auto' },
  taskTimeout: { flags: '--task-timeout <seconds>', description: 'redfish: how long the BMC\'s task may go without progress while staging (default 600)' },
  applyTime: { flags: '--apply-time <when>', description: 'redfish: Immediate, OnReset or OnStartUpdateRequest (default: the latest the BMC offers; apply sets it off)' },
} satisfies Record<string, OptionSpec>;

/** The options every command that talks to a BMC takes. */
export const REDFISH_OPTIONS: OptionSpec[] = [HW_OPTIONS.credentials, HW_OPTIONS.ca, HW_OPTIONS.insecure, HW_OPTIONS.allowHttp, HW_OPTIONS.component];

/** Build TargetOptions from a command's parsed options (any subset of HW_OPTIONS). */
export function targetOptionsFrom(opts: Record<string, unknown>): TargetOptions {
  const delivery = typeof opts.capsuleDelivery === 'string' ? opts.capsuleDelivery : 'auto';
  if (delivery !== 'auto' && delivery !== 'loader' && delivery !== 'disk' && delivery !== 'fwupd-efi') {
    throw new FwupError('USAGE', `--capsule-delivery ${delivery}: choose auto, loader, disk or fwupd-efi`, {
      hint: 'auto uses the kernel loader when present, else a capsule on the ESP, else fwupd\'s UEFI helper',
    });
  }
  const push = typeof opts.pushMethod === 'string' ? opts.pushMethod : 'auto';
  if (!['auto', 'multipart', 'simple-update', 'http-push'].includes(push)) {
    throw new FwupError('USAGE', `--push-method ${push}: choose auto, multipart, simple-update or http-push`, { hint: 'auto uses MultipartHttpPushUri when the BMC has it' });
  }
  if (typeof opts.applyTime === 'string' && !['Immediate', 'OnReset', 'OnStartUpdateRequest'].includes(opts.applyTime)) {
    throw new FwupError('USAGE', `--apply-time ${opts.applyTime}: choose Immediate, OnReset or OnStartUpdateRequest`, { hint: 'these are the @Redfish.OperationApplyTime values' });
  }
  const taskTimeout = opts.taskTimeout === undefined ? undefined : Number(opts.taskTimeout);
  if (taskTimeout !== undefined && !(taskTimeout > 0)) throw new FwupError('USAGE', `--task-timeout ${String(opts.taskTimeout)} is not a positive number of seconds`, { hint: 'e.g. --task-timeout 1800 for a slow BMC' });
  return {
    ...DEFAULT_TARGET_OPTIONS,
    ...(taskTimeout !== undefined ? { taskTimeoutMs: taskTimeout * 1000 } : {}),
    insecure: Boolean(opts.insecure),
    allowHttp: Boolean(opts.allowHttp),
    pushMethod: push as TargetOptions['pushMethod'],
    ...(typeof opts.credentials === 'string' ? { credentials: opts.credentials } : {}),
    ...(typeof opts.ca === 'string' ? { ca: opts.ca } : {}),
    ...(typeof opts.serveAddress === 'string' ? { serveAddress: opts.serveAddress } : {}),
    ...(typeof opts.component === 'string' ? { component: opts.component } : {}),
    ...(typeof opts.applyTime === 'string' ? { applyTime: opts.applyTime } : {}),
    ...(opts.ignorePower ? { ignorePower: true } : {}),
    sudo: Boolean(opts.sudo),
    ifd: Boolean(opts.ifd),
    capsuleDelivery: delivery,
    ...(typeof opts.region === 'string' ? { region: opts.region } : {}),
    ...(typeof opts.layout === 'string' ? { layout: opts.layout } : {}),
    ...(typeof opts.esp === 'string' ? { esp: opts.esp } : {}),
  };
}
