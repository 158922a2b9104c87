import { readFile, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';
import { sha256Hex } from '../../util/digest.js';
import { HostFiles } from '../host-files.js';
import type { ActionLog } from '../plan.js';
import { routeForWrite, type Route } from '../privilege.js';
import type { TargetDeps } from '../target.js';
import { CAPSULE_FLAGS } from '../../image/capsule-layouts.js';
import { EFIVARS_DIR, EFI_GLOBAL_VARIABLE, OS_INDICATIONS_ATTRIBUTES, encodeVariable, isEfivarfs, readVariable, variablePath } from './efivars.js';
import { espPartition } from './esp-partition.js';
import { FWUPDATE_GUID, encodeLoadOption, encodeUpdateInfo, espFileDevicePath, loadOptionDescription } from './fwupd-efi-layouts.js';
import { espWriteError, variableWriteError, type UefiWrites } from './uefi-writes.js';

/**
 * The fallback fwupd uses on firmware that takes capsules neither from disk nor from the kernel's
 * loader: fwupd's own UEFI helper (fwupd-efi) is started once by the boot manager and calls
 * UpdateCapsule() itself. fwup installs the helper the distribution ships (Debian: fwupd-amd64-signed)
 * and writes what that helper reads, in fwupd's layout: the capsule as EFI/<os>/fw/fwupd-<guid>.cap,
 * the helper as EFI/<os>/fwupd<arch>.efi, the update-info variable `fwupd-<guid>-0` (FWUPDATE_GUID), a
 * `Boot####` entry "Linux Firmware Updater" starting the helper, and BootNext naming it (written last:
 * the firmware is never sent to a helper whose inputs are not there yet). With Secure Boot on the
 * firmware would start the helper only through shim; fwup does not set up that chain and refuses.
 */
export const HELPER_PACKAGE = 'fwupd-amd64-signed';
/** Where distributions install the helper, inside the sysroot (Debian: libexec; Fedora, Arch: lib). */
export const HELPER_DIRS = ['usr/libexec/fwupd/efi', 'usr/lib/fwupd/efi'];
export const BOOT_DESCRIPTION = 'Linux Firmware Updater';
/** fwupd also recognises its older name when looking for its own entry. */
const OUR_DESCRIPTIONS = [BOOT_DESCRIPTION, 'Linux-Firmware-Updater'];
/** The helper's name suffix by firmware word size (sys/firmware/efi/fw_platform_size). */
const SUFFIXES: Record<string, string[]> = { '64': ['x64', 'aa64', 'riscv64', 'loongarch64'], '32': ['ia32', 'arm'] };
/** PersistAcrossReset | InitiateReset: what fwupd adds on x86-64 when the ESRT entry names neither. */
const RESET_FLAGS = CAPSULE_FLAGS.PersistAcrossReset | CAPSULE_FLAGS.InitiateReset;

/** One variable fwup writes: its file, and the content before (base64; null = it did not exist) and after. */
export interface VariableChange {
  path: string;
  before: string | null;
  after: string;
}

/** What the fallback writes, recorded before the first write so unstage (or a cut delivery) undoes exactly that. */
export interface FwupdEfiRecord {
  esp: string;
  partition: { device: string; number: number; start: string; size: string; partUuid: string };
  helperSource: string;
  helperPath: string;
  /** false: an identical helper was already on the ESP (fwupd's), and it stays there on unstage. */
  helperCopied: boolean;
  capsulePath: string;
  /** Directories the writes create, outermost first: removed on unstage when empty. */
  createdDirs: string[];
  updateInfo: VariableChange;
  boot: VariableChange & { number: number };
  bootNext: VariableChange;
}

export interface FwupdEfiPlan {
  record: FwupdEfiRecord;
  /** Write everything in order; returns the SHA-256 of the capsule file read back. */
  deliver: (log: ActionLog, capsule: Buffer) => Promise<string>;
}

export type HelperSearch = { path: string; suffix: string } | { path: null; searched: string[] };

export async function findHelper(sysroot: string): Promise<HelperSearch> {
  const size = (await readFile(join(sysroot, 'sys/firmware/efi/fw_platform_size'), 'utf8').catch(() => '64')).trim();
  const searched: string[] = [];
  for (const suffix of SUFFIXES[size] ?? SUFFIXES['64']!) {
    for (const dir of HELPER_DIRS) {
      // fwupd prefers the unsigned build when Secure Boot is off; Debian ships only the signed one.
      for (const name of [`fwupd${suffix}.efi`, `fwupd${suffix}.efi.signed`]) {
        const p = join(sysroot, dir, name);
        searched.push(p);
        if ((await stat(p).catch(() => null))?.isFile()) return { path: p, suffix };
      }
    }
  }
  return { path: null, searched };
}

export function helperMissing(search: { searched: string[] }, why: string): FwupError {
  const debian = search.searched.find((p) => p.endsWith('fwupdx64.efi.signed')) ?? search.searched[0];
  return new FwupError('HELPER_NOT_FOUND', `${why}: fwupd's UEFI helper is not installed (looked for ${debian} and ${search.searched.length - 1} other names)`, {
    hint: `apt-get install ${HELPER_PACKAGE} (fwupd-efi's signed helper), or deliver another way (--capsule-delivery loader / disk); nothing was written`,
    details: { searched: search.searched },
  });
}

async function secureBootOn(sysroot: string): Promise<boolean> {
  const v = await readVariable(sysroot, 'SecureBoot');
  return v !== null && v.data.length >= 1 && v.data[0] === 1;
}

/** fwupd's choice of the OS directory on the ESP: systemd-boot's, else the os-release ID's (or an ID_LIKE one) that exists. */
export async function osDirOnEsp(sysroot: string, esp: string): Promise<string> {
  const isDir = async (d: string) => (await stat(join(esp, 'EFI', d)).catch(() => null))?.isDirectory() ?? false;
  if (await isDir('systemd')) return 'EFI/systemd';
  const osRelease = (await readFile(join(sysroot, 'etc/os-release'), 'utf8').catch(() => null)) ?? (await readFile(join(sysroot, 'usr/lib/os-release'), 'utf8').catch(() => ''));
  const key = (k: string) => osRelease.match(new RegExp(`^${k}=["']?([^"'\\n]*)["']?$`, 'm'))?.[1]?.trim() || null;
  const id = key('ID');
  if (id && (await isDir(id))) return `EFI/${id}`;
  for (const like of key('ID_LIKE')?.split(/\s+/) ?? []) if (like && (await isDir(like))) return `EFI/${like}`;
  return `EFI/${id ?? 'fwupd'}`;
}

const b64 = (b: Buffer | null) => (b ? b.toString('base64') : null);

async function readRaw(path: string): Promise<Buffer | null> {
  return readFile(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw new FwupError('FILE_IO', `cannot read the UEFI variable ${path}: ${e.message}`);
  });
}

/** The Boot#### entry to use: fwupd's own if there is one, else the lowest free number. */
async function bootEntryFor(sysroot: string): Promise<{ number: number; before: Buffer | null }> {
  const names = await readdir(join(sysroot, EFIVARS_DIR)).catch(() => [] as string[]);
  const used = new Set<number>();
  const re = new RegExp(`^Boot([0-9A-Fa-f]{4})-${EFI_GLOBAL_VARIABLE}$`);
  for (const name of names.sort()) {
    const m = re.exec(name);
    if (!m) continue;
    const n = parseInt(m[1]!, 16);
    used.add(n);
    const raw = await readRaw(join(sysroot, EFIVARS_DIR, name));
    const desc = raw && raw.length > 4 ? loadOptionDescription(raw.subarray(4)) : null;
    if (desc !== null && OUR_DESCRIPTIONS.includes(desc)) return { number: n, before: raw };
  }
  for (let n = 0; n < 0xffff; n++) if (!used.has(n)) return { number: n, before: null };
  throw new FwupError('NVRAM_FULL', 'every Boot#### number is taken: no room for the firmware updater\'s boot entry', { hint: 'remove unused boot entries (efibootmgr -b XXXX -B)' });
}

export function bootName(n: number): string {
  return `Boot${n.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Every check before the first write: Secure Boot, the helper, the ESP's partition, the names and
 * the variables' present content (for undo), and write permission for each file. `previous`: the
 * fallback attempt this stage replaces; what it found before it wrote is what unstage puts back.
 */
export async function planFwupdEfi(
  deps: TargetDeps, writes: UefiWrites, sudo: boolean,
  esp: string, entry: { fwClass: string; capsuleFlags: number }, previous: FwupdEfiRecord | null,
): Promise<FwupdEfiPlan> {
  const { sysroot } = deps;
  if (await secureBootOn(sysroot)) {
    throw new FwupError('TARGET_UNSUPPORTED', 'Secure Boot is on: the firmware would start fwupd\'s helper only through shim, and fwup does not set up the shim chain', {
      hint: 'use fwupd (fwupdmgr) for this update, or turn Secure Boot off for it; nothing was written',
    });
  }
  const helper = await findHelper(sysroot);
  if (helper.path === null) throw helperMissing(helper, 'the firmware takes capsules neither from disk nor from the kernel\'s loader');
  const part = await espPartition(sysroot, esp);
  const osDir = await osDirOnEsp(sysroot, esp);
  const fwClass = entry.fwClass.toLowerCase();
  const capsuleRel = `${osDir}/fw/fwupd-${fwClass}.cap`;
  const helperRel = `${osDir}/fwupd${helper.suffix}.efi`;
  const capsulePath = join(esp, capsuleRel);
  const helperPath = join(esp, helperRel);
  const helperBytes = await readFile(helper.path);
  const onEsp = await readFile(helperPath).catch(() => null);
  const helperCopied = !(onEsp && onEsp.equals(helperBytes));
  const createdDirs: string[] = [];
  for (let d = esp, parts = capsuleRel.split('/').slice(0, -1), i = 0; i < parts.length; i++) {
    d = join(d, parts[i]!);
    if (!(await stat(d).catch(() => null))) createdDirs.push(d);
  }
  // fwupd takes the flags from the ESRT entry and, on x86-64, adds both reset flags when it names neither.
  const flags = (entry.capsuleFlags & RESET_FLAGS) !== 0 || helper.suffix !== 'x64' ? entry.capsuleFlags : entry.capsuleFlags | RESET_FLAGS;
  const info = encodeVariable(OS_INDICATIONS_ATTRIBUTES, encodeUpdateInfo(fwClass, flags, espFileDevicePath(part, capsuleRel)));
  const boot = await bootEntryFor(sysroot);
  const loadOption = encodeVariable(OS_INDICATIONS_ATTRIBUTES, encodeLoadOption(BOOT_DESCRIPTION, espFileDevicePath(part, helperRel)));
  const next = Buffer.alloc(2);
  next.writeUInt16LE(boot.number);
  const bootNext = encodeVariable(OS_INDICATIONS_ATTRIBUTES, next);
  const infoPath = variablePath(sysroot, `fwupd-${fwClass}-0`, FWUPDATE_GUID);
  const bootPath = variablePath(sysroot, bootName(boot.number));
  const nextPath = variablePath(sysroot, 'BootNext');
  // What the attempt being replaced found is the state before fwup: its writes are not "before" to undo to.
  const before = (path: string, now: Buffer | null, old: VariableChange | undefined) => (old && old.path === path ? old.before : b64(now));
  const record: FwupdEfiRecord = {
    esp, partition: { device: part.device, number: part.number, start: String(part.start), size: String(part.size), partUuid: part.partUuid },
    helperSource: helper.path, helperPath, helperCopied: helperCopied || (previous?.helperPath === helperPath && previous.helperCopied), capsulePath,
    createdDirs: [...new Set([...(previous?.createdDirs ?? []), ...createdDirs])].sort((a, b) => a.length - b.length),
    updateInfo: { path: infoPath, before: before(infoPath, await readRaw(infoPath), previous?.updateInfo), after: b64(info)! },
    boot: { number: boot.number, path: bootPath, before: before(bootPath, boot.before, previous?.boot), after: b64(loadOption)! },
    bootNext: { path: nextPath, before: before(nextPath, await readRaw(nextPath), previous?.bootNext), after: b64(bootNext)! },
  };
  const routes = {
    capsule: await routeForWrite(capsulePath, await isFile(capsulePath), sudo, 'the capsule on the EFI system partition'),
    helper: await routeForWrite(helperPath, onEsp !== null, sudo, 'fwupd\'s UEFI helper on the EFI system partition'),
    info: await routeForWrite(infoPath, await isFile(infoPath), sudo, 'the update-info variable'),
    boot: await routeForWrite(bootPath, await isFile(bootPath), sudo, `the boot entry ${bootName(boot.number)}`),
    next: await routeForWrite(nextPath, await isFile(nextPath), sudo, 'BootNext'),
  };
  const deliver = async (log: ActionLog, capsule: Buffer): Promise<string> => {
    await log.runAll(HostFiles.actions('replace', capsulePath, capsule.length, routes.capsule, 'the capsule, where fwupd\'s helper reads it'), () =>
      writes.files.replaceFile(capsulePath, capsule, routes.capsule).catch((e: unknown) => {
        throw espWriteError(e, capsulePath);
      }),
    );
    const back = log.dryRun ? sha256Hex(capsule) : sha256Hex(await readFile(capsulePath));
    if (helperCopied) {
      await log.runAll(HostFiles.actions('replace', helperPath, helperBytes.length, routes.helper, `fwupd's UEFI helper, from ${helper.path}`), () =>
        writes.files.replaceFile(helperPath, helperBytes, routes.helper).catch((e: unknown) => {
          throw espWriteError(e, helperPath);
        }),
      );
      if (!log.dryRun && !(await readFile(helperPath)).equals(helperBytes)) {
        throw new FwupError('FILE_IO', `${helperPath} does not read back as written`, { hint: 'check the ESP (fsck.vfat)' });
      }
    }
    await putVariable(deps, writes, log, record.updateInfo, routes.info, `the update-info variable fwupd's helper reads (${fwClass}, attempt-update)`);
    if (b64(boot.before) !== record.boot.after) await putVariable(deps, writes, log, record.boot, routes.boot, `${bootName(boot.number)} "${BOOT_DESCRIPTION}": starts ${helperRel}`);
    await putVariable(deps, writes, log, record.bootNext, routes.next, `BootNext = ${bootName(boot.number)}: the next boot runs the helper once`);
    return back;
  };
  return { record, deliver };
}

const isFile = async (p: string) => (await stat(p).catch(() => null))?.isFile() ?? false;

/** Write (or put back) a variable; on a real efivarfs an existing one is immutable until chattr -i. */
export async function putVariable(deps: TargetDeps, writes: UefiWrites, log: ActionLog, change: VariableChange, route: Route, purpose: string, to: 'after' | 'before' = 'after'): Promise<void> {
  const existing = await isFile(change.path);
  const content = change[to];
  const immutable = existing && (await isEfivarfs(deps.sysroot));
  if (immutable) await writes.chattr(log, '-i', change.path, route);
  try {
    if (content === null) {
      if (existing) await log.runAll(HostFiles.actions('remove', change.path, 0, route, purpose), () => writes.files.remove(change.path, route));
      return;
    }
    const bytes = Buffer.from(content, 'base64');
    await log.runAll(HostFiles.actions('in-place', change.path, bytes.length, route, purpose), async () => {
      // efivarfs replaces a variable whole on each write; a plain file (a fixture tree) would keep a longer old tail.
      if (existing && !immutable && (await readFile(change.path)).length > bytes.length) await writes.files.remove(change.path, route);
      await writes.files.writeInPlace(change.path, bytes, route, true).catch((e: unknown) => {
        throw variableWriteError(e, change.path);
      });
    });
  } finally {
    if (immutable && (await isFile(change.path))) await writes.chattr(log, '+i', change.path, route);
  }
}

/** Where the record's paths sit inside the ESP, for messages. */
export function inEsp(rec: FwupdEfiRecord, path: string): string {
  return relative(rec.esp, path);
}
