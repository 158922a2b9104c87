import { constants, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';
import { CAPSULE_FLAGS, capsuleFlagNames } from '../../image/capsule-layouts.js';
import type { HostFiles } from '../host-files.js';
import type { Route } from '../privilege.js';
import { fileCapsuleDeliverySupported } from './efivars.js';
import { HELPER_PACKAGE, findHelper } from './fwupd-efi.js';

/**
 * The two ways Linux hands a capsule to UEFI firmware:
 * - loader: write the whole capsule to /dev/efi_capsule_loader; on the last byte the kernel calls
 *   UpdateCapsule() and the firmware takes it at the next reset (the kernel then resets through EFI);
 * - disk: copy it to \EFI\UpdateCapsule\ on the EFI system partition and set OsIndications bit 2, so
 *   the firmware picks it up at the next boot (capsule on disk, UEFI 2.10 §8.5.5);
 * - fwupd-efi: for firmware with neither, fwupd's UEFI helper started once through BootNext, which
 *   calls UpdateCapsule() itself (fwupd-efi.ts).
 */
export type Delivery = 'loader' | 'disk' | 'fwupd-efi';

export const LOADER = 'dev/efi_capsule_loader';
export const UPDATE_CAPSULE_DIR = 'EFI/UpdateCapsule';
/** Where an ESP is usually mounted, in the order fwup looks (inside the sysroot). */
export const ESP_CANDIDATES = ['/boot/efi', '/efi', '/boot'];

/**
 * The flags the kernel's loader accepts (efi_capsule_supported: PersistAcrossReset and
 * PopulateSystemTable only). InitiateReset would need the kernel to prepare for a reset it does not
 * control, and OEM bits are unknown to it: it fails such a capsule with EINVAL.
 */
const LOADER_ACCEPTED_FLAGS = CAPSULE_FLAGS.PersistAcrossReset | CAPSULE_FLAGS.PopulateSystemTable;

export interface DeliveryChoice {
  delivery: Delivery;
  loaderPath: string;
  /** The ESP's directory on the host (inside the sysroot), for delivery 'disk'. */
  esp: string | null;
  why: string;
}

async function isPresent(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** Why the loader would refuse these flags, or null. */
export function loaderRefusal(flags: number): string | null {
  const extra = flags & ~LOADER_ACCEPTED_FLAGS;
  if (extra === 0) return null;
  const named = capsuleFlagNames(extra);
  const oem = extra & 0xffff;
  const parts = [...named, ...(oem ? [`OEM flags 0x${oem.toString(16).toUpperCase().padStart(4, '0')}`] : [])];
  return `the kernel's capsule loader refuses capsules with ${parts.join(' and ')} (it accepts only PersistAcrossReset and PopulateSystemTable)`;
}

export async function chooseDelivery(
  sysroot: string,
  requested: 'auto' | Delivery,
  flags: number,
  espOption: string | undefined,
): Promise<DeliveryChoice> {
  const loaderPath = join(sysroot, LOADER);
  const loaderPresent = await isPresent(loaderPath);
  const diskSupported = await fileCapsuleDeliverySupported(sysroot);
  const refusal = loaderRefusal(flags);
  const disk = async (why: string): Promise<DeliveryChoice> => ({ delivery: 'disk', loaderPath, esp: await findEsp(sysroot, espOption), why });
  const noDisk = () =>
    new FwupError('TARGET_UNSUPPORTED', 'the firmware does not take capsules from disk: OsIndicationsSupported lacks EFI_OS_INDICATIONS_FILE_CAPSULE_DELIVERY_SUPPORTED (0x4)', {
      hint: 'deliver it through the kernel: modprobe capsule-loader, then --capsule-delivery loader',
    });

  if (requested === 'loader') {
    if (!loaderPresent) throw noLoader(loaderPath);
    if (refusal) throw rejectedFlags(refusal, diskSupported);
    return { delivery: 'loader', loaderPath, esp: null, why: 'requested with --capsule-delivery loader' };
  }
  if (requested === 'disk') {
    if (!diskSupported) throw noDisk();
    return disk('requested with --capsule-delivery disk');
  }
  if (requested === 'fwupd-efi') return { ...(await disk('requested with --capsule-delivery fwupd-efi')), delivery: 'fwupd-efi' };
  if (loaderPresent && !refusal) return { delivery: 'loader', loaderPath, esp: null, why: `${LOADER} is present` };
  if (diskSupported) return disk(loaderPresent ? `${refusal}; the firmware takes capsules from disk` : `no ${LOADER}; the firmware takes capsules from disk`);
  if (loaderPresent && refusal) throw rejectedFlags(refusal, false);
  const helper = await findHelper(sysroot);
  if (helper.path !== null) {
    return { ...(await disk(`no ${LOADER} and no capsule-on-disk support: fwupd's UEFI helper (${helper.path}) hands it over at the next boot`)), delivery: 'fwupd-efi' };
  }
  throw new FwupError('TARGET_UNSUPPORTED', `no way to hand the capsule to the firmware: no ${loaderPath}, the firmware does not announce capsule-on-disk support, and fwupd's UEFI helper is not installed (no ${helper.searched.find((p) => p.endsWith('.efi.signed')) ?? helper.searched[0]})`, {
    hint: `apt-get install ${HELPER_PACKAGE} (fwupd's signed UEFI helper), or load the kernel module (modprobe capsule-loader), or update the firmware through its setup menu`,
    details: { searched: helper.searched },
  });
}

function noLoader(path: string): FwupError {
  return new FwupError('TARGET_UNSUPPORTED', `${path} does not exist: the kernel's capsule loader is not available`, {
    hint: 'modprobe capsule-loader (CONFIG_EFI_CAPSULE_LOADER), or use --capsule-delivery disk',
  });
}

function rejectedFlags(refusal: string, diskSupported: boolean): FwupError {
  return new FwupError('CAPSULE_REJECTED', `${refusal}: nothing was written`, {
    hint: diskSupported
      ? 'deliver it as a capsule on disk instead: --capsule-delivery disk'
      : 'rebuild the capsule without InitiateReset (fwup pack --capflag PersistAcrossReset)',
  });
}

/** The EFI system partition inside the sysroot: --esp, else the first usual mount point holding EFI/. */
export async function findEsp(sysroot: string, espOption: string | undefined): Promise<string> {
  if (espOption) {
    const dir = join(sysroot, espOption);
    const s = await stat(dir).catch(() => null);
    if (!s?.isDirectory()) throw new FwupError('TARGET_NOT_FOUND', `--esp ${espOption}: ${dir} is not a directory`, { hint: 'give the mount point of the EFI system partition' });
    return dir;
  }
  for (const c of ESP_CANDIDATES) {
    const dir = join(sysroot, c);
    if ((await stat(join(dir, 'EFI')).catch(() => null))?.isDirectory()) return dir;
  }
  throw new FwupError('TARGET_NOT_FOUND', `no EFI system partition found: none of ${ESP_CANDIDATES.map((c) => join(sysroot, c)).join(', ')} holds an EFI directory`, {
    hint: 'mount the ESP, or name its mount point with --esp DIR',
  });
}

/**
 * A failed write to the capsule loader, by errno. The kernel's meanings (capsule-loader.c, capsule.c,
 * efi_status_to_err): EINVAL = a flag or header the kernel or QueryCapsuleCapabilities rejects (or a
 * capsule pending with a different reset type); ENOSPC = larger than the firmware's maximum capsule
 * size (or EFI_OUT_OF_RESOURCES); ENOMEM = the kernel could not allocate the pages; EIO = device
 * error, or an earlier write on this open already failed; ECANCELED (on close) = the upload stopped
 * before CapsuleImageSize bytes; EROFS / EACCES from UpdateCapsule = write-protected / security
 * violation.
 */
export function loaderWriteError(e: unknown, path: string, phase: 'open' | 'write'): FwupError {
  if (e instanceof FwupError) return e;
  const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
  const rejected = (why: string, hint: string) =>
    new FwupError('CAPSULE_REJECTED', `${path}: the capsule was refused (${code}): ${why}`, { hint, details: { errno: code } });
  if (phase === 'open') {
    if (code === 'EACCES' || code === 'EPERM') {
      return new FwupError('PERMISSION_DENIED', `opening ${path} needs root`, { hint: 'run fwup as root, or pass --sudo' });
    }
    if (code === 'ENOENT') return noLoader(path);
    if (code === 'EBUSY') return new FwupError('TARGET_BUSY', `${path} is in use by another process`, { hint: 'wait for the other capsule upload to finish' });
  }
  switch (code) {
    case 'EINVAL':
      return rejected('the kernel or the firmware rejected its header or flags, or a capsule already pending needs a different reset type', 'check the capsule flags (fwup inspect); reboot first if another capsule is pending');
    case 'ENOSPC':
      return rejected('it is larger than the firmware accepts, or the firmware is out of resources', 'the firmware\'s QueryCapsuleCapabilities limit is lower than this capsule');
    case 'ENOMEM':
      return rejected('the kernel could not allocate memory for it', 'free memory and try again');
    case 'ECANCELED':
      return rejected('the upload ended before the whole capsule was written', 'try again; nothing was handed to the firmware');
    case 'EROFS':
      return rejected('the firmware reports the update store as write-protected', 'check the firmware setup for a flash write protection');
    case 'EACCES':
    case 'EPERM':
      return rejected('the firmware reports a security violation', 'the firmware refuses capsules from the OS, or this capsule\'s signature');
    case 'EIO':
      return rejected('device error, or an earlier write on this open failed', 'reboot, then try again');
    default:
      return new FwupError('FILE_IO', `writing ${path} failed: ${(e as Error).message}`, { details: { errno: code } });
  }
}

/**
 * Write the whole capsule to the loader through one open file: the kernel collects the pages and
 * calls UpdateCapsule() when CapsuleImageSize bytes have arrived; closing early cancels the upload.
 */
export async function writeToLoader(path: string, capsule: Buffer, route: Route, files: HostFiles): Promise<void> {
  if (route === 'sudo') {
    await files.writeInPlace(path, capsule, 'sudo', false).catch((e: unknown) => {
      throw loaderWriteError(e, path, 'write');
    });
    return;
  }
  const fh = await open(path, constants.O_WRONLY).catch((e: unknown) => {
    throw loaderWriteError(e, path, 'open');
  });
  try {
    for (let off = 0; off < capsule.length; ) {
      const { bytesWritten } = await fh.write(capsule, off, capsule.length - off, null);
      off += bytesWritten;
    }
  } catch (e) {
    await fh.close().catch(() => {});
    throw loaderWriteError(e, path, 'write');
  }
  await fh.close().catch((e: unknown) => {
    throw loaderWriteError(e, path, 'write');
  });
}
