/** The fixture world of the uefi tests: a sysroot with an ESRT, fwup's state directory, fwup's own capsule fixtures. */
import { test, type TestContext } from 'node:test';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, fwup, hashTree, tempDir, type RunResult } from './cli.js';
import { EFIVARS, makeSysroot, type EsrtFixture, type SysrootOptions } from './sysroot.js';
import { OWN_DIR } from './capsule-fixtures.js';
import { EFI_CAPSULE_REPORT_GUID, capsuleResultFmpLayout, capsuleResultHeaderLayout } from '../../src/targets/uefi/capsule-results.js';

export const CAPS = OWN_DIR;
export const CAP = (n: string) => join(CAPS, n);
export const RECORDER = join(REPO_ROOT, 'dist', 'test', 'helpers', 'record-argv.js');

// The fixtures' payload GUIDs and versions (fixtures/capsules/manifest.json; the same as in the edk2 corpus).
export const SYS_FW = '050B1160-7519-4C47-A2DE-1C97EA5F5406'; // unsigned-4k 0x20A, unsigned-persist 0x20B
export const DEV_FW = 'B9013687-CD7C-4981-AFD7-255F0F32FE17'; // unsigned-persist-reset 0x30001 (InitiateReset)
export const SIGNED_FW = '969DFDB3-EEDA-47C5-899E-698081F8189F'; // signed-sha256-mc 0x310, lsv 0x300

export const ESRT: EsrtFixture[] = [
  { fwClass: SYS_FW, fwVersion: 0x200, lowestSupportedFwVersion: 0x100 },
  { fwClass: DEV_FW, fwType: 2, fwVersion: 0x30000, lowestSupportedFwVersion: 0x20000 },
  { fwClass: SIGNED_FW, fwVersion: 0x300, lowestSupportedFwVersion: 0x300 },
];

/** A machine with two firmware resources (system firmware and a signed device): one capsule each per reboot. */
export const TWO_ENTRIES: EsrtFixture[] = [ESRT[0]!, ESRT[2]!];

/** The firmware's Capsule#### result variables (EFI_CAPSULE_RESULT_VARIABLE_HEADER and its FMP extension). */
export const DEVICE_ERROR = (1n << 63n) | 7n;

/** The bytes of a Capsule#### variable as edk2's capsule runtime writes it: header, FMP extension, two CHAR16 strings. */
export function resultData(o: { guid: string; status: bigint; payloadTypeId?: string; fileName?: string }): Buffer {
  const strings = Buffer.concat([Buffer.from(`${o.fileName ?? 'fwup-capsule.cap'}\0`, 'utf16le'), Buffer.from('\0', 'utf16le')]);
  const fmp = o.payloadTypeId ? Buffer.concat([capsuleResultFmpLayout.serialize({ Version: 1, PayloadIndex: 0, UpdateImageIndex: 1, UpdateImageTypeId: o.payloadTypeId }), strings]) : Buffer.alloc(0);
  const header = capsuleResultHeaderLayout.serialize({
    VariableTotalSize: capsuleResultHeaderLayout.size + fmp.length, Reserved: 0, CapsuleGuid: o.guid,
    Year: 2026, Month: 12, Day: 2, Hour: 7, Minute: 30, Second: 5, Pad1: 0, Nanosecond: 0, TimeZone: 0x7ff, Daylight: 0, Pad2: 0, CapsuleStatus: o.status,
  });
  return Buffer.concat([header, fmp]);
}

export async function writeResult(w: World, n: number, data: Buffer, last = true): Promise<void> {
  const name = `Capsule${n.toString(16).toUpperCase().padStart(4, '0')}`;
  const attrs = Buffer.alloc(4);
  attrs.writeUInt32LE(0x7);
  await writeFile(join(w.root, EFIVARS, `${name}-${EFI_CAPSULE_REPORT_GUID}`), Buffer.concat([attrs, data]));
  if (last) await writeFile(join(w.root, EFIVARS, `CapsuleLast-${EFI_CAPSULE_REPORT_GUID}`), Buffer.concat([attrs, Buffer.from(name, 'utf16le')]));
}

/** The sysroot's SMBIOS strings as the kernel shows them (sys/class/dmi/id): what the quirk table matches. */
export async function setDmi(w: World, fields: Record<string, string>): Promise<void> {
  const d = join(w.root, 'sys/class/dmi/id');
  await mkdir(d, { recursive: true });
  for (const [k, v] of Object.entries(fields)) await writeFile(join(d, k), `${v}\n`);
}

/** A uefi test: it runs on fwup's own capsule fixtures, so it needs nothing beyond Node. */
export function uefiTest(name: string, fn: (t: TestContext) => Promise<void>): void {
  test(name, fn);
}

export interface World {
  dir: string;
  root: string;
  env: Record<string, string>;
  cleanup: () => Promise<void>;
  run: (args: string[], extraEnv?: Record<string, string>) => Promise<RunResult>;
  /** Hash of the sysroot and of fwup's state directory together. */
  snapshot: () => Promise<string>;
}

export async function world(o: Partial<SysrootOptions> = {}): Promise<World> {
  const { dir, cleanup } = await tempDir('fwup-uefi-');
  const root = await makeSysroot(join(dir, 'root'), { esrt: ESRT, loader: 'file', osIndicationsSupported: 0x4n | 0x1n, ...o });
  await mkdir(join(dir, 'state'));
  const env = { XDG_STATE_HOME: join(dir, 'state') };
  return {
    dir,
    root,
    env,
    cleanup,
    run: (args, extraEnv = {}) => fwup([...args, '--target', 'uefi', '--sysroot', root], { cwd: dir, env: { ...env, ...extraEnv } }),
    snapshot: async () => `${await hashTree(root)}/${await hashTree(join(dir, 'state'))}`,
  };
}

/** The name of an ESRT entry's record (intent, request, pending) in fwup's state directory. */
export const recordName = (kind: 'intent' | 'request' | 'pending', fwClass: string = SYS_FW): string => `${kind}-${fwClass.toUpperCase()}.json`;

export function stateFile(w: World, name: string): Promise<string | null> {
  return readdir(join(w.dir, 'state', 'fwup', 'uefi')).then(
    (d) => readFile(join(w.dir, 'state', 'fwup', 'uefi', d[0]!, name), 'utf8').catch(() => null),
    () => null,
  );
}

