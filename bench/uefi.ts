import { join } from 'node:path';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { makeSysroot } from '../test/helpers/sysroot.js';
import { median, REPO_ROOT, type BenchRow } from './harness.js';

const CAPSULE = join(REPO_ROOT, 'fixtures', 'capsules', 'signed-64k.cap');
/** signed-64k.cap's payload (fixtures/capsules/manifest.json): UpdateImageTypeId and FwVersion. */
const FW_CLASS = '0777B0AD-7BA9-4122-BA99-C7669D5A1587';
const FW_VERSION = 0x01000000;
const TIME = '/usr/bin/time';

/**
 * Staging a 64 KiB signed capsule for the next boot, whole process against whole process, on the same
 * kind of fake sysroot (an ESRT entry for the capsule's GUID, no capsule loader, so both use capsule on
 * disk): `fwup stage --target uefi --capsule-delivery disk` against Debian's `fwupdtool --plugins
 * uefi-capsule install` of the same capsule in a cabinet made by `fwupdtool build-cabinet`. fwupd is
 * pointed at the tree through the variables it honours (as test/uefi-fwupdtool-crosscheck.test.ts
 * does); every run gets a fresh tree for each side, so neither finds its own earlier work. Peak RSS of
 * each process comes from GNU time (package `time`) when it is installed.
 */
export async function uefiBench(runs = 10): Promise<BenchRow[]> {
  const label = 'stage of a 64 KiB signed capsule (capsule on disk): fwup stage --target uefi vs fwupdtool install (whole processes)';
  const probe = spawnSync('fwupdtool', ['--version'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', LC_ALL: 'C.UTF-8' } });
  if (probe.error || probe.status !== 0) {
    return [{ suite: 'uefi', case: label, value: NaN, unit: 'ms', target: '≤ 1.0×', skipped: 'fwupdtool is not installed (apt-get install fwupd)' }];
  }
  const dir = await mkdtemp(join(tmpdir(), 'fwup-bench-uefi-'));
  try {
    const cab = await cabinet(join(dir, 'cab'));
    const bin = join(REPO_ROOT, 'bin', 'fwup.js');
    const withTime = existsSync(TIME);
    const fwupTimes: number[] = [];
    const fwupdTimes: number[] = [];
    const fwupRss: number[] = [];
    const fwupdRss: number[] = [];
    const fwupCpu: number[] = [];
    const fwupdCpu: number[] = [];
    for (let r = 0; r < runs + 1; r++) {
      const mine = await tree(join(dir, `fwup-${r}`));
      const theirs = await tree(join(dir, `fwupd-${r}`));
      const f = run(process.execPath, [bin, 'stage', CAPSULE, '--target', 'uefi', '--sysroot', mine.root, '--capsule-delivery', 'disk'], mine.dir, mine.fwupEnv, withTime);
      const g = run('fwupdtool', ['--plugins', 'uefi-capsule', 'install', cab, '--force', '--no-reboot-check', '--no-safety-check'], theirs.dir, theirs.fwupdEnv, withTime);
      for (const [who, t] of [['fwup', mine], ['fwupdtool', theirs]] as const) {
        if (!existsSync(join(t.root, 'boot/efi/EFI/UpdateCapsule'))) throw new Error(`${who} wrote no capsule under EFI/UpdateCapsule`);
      }
      if (r === 0) continue; // the first round warms the page cache and fwupd's own caches
      fwupTimes.push(f.ms);
      fwupdTimes.push(g.ms);
      if (f.rssKiB !== null) fwupRss.push(f.rssKiB);
      if (g.rssKiB !== null) fwupdRss.push(g.rssKiB);
      if (f.cpuMs !== null && g.cpuMs !== null) {
        fwupCpu.push(f.cpuMs);
        fwupdCpu.push(g.cpuMs);
      }
      await rm(mine.dir, { recursive: true, force: true });
      await rm(theirs.dir, { recursive: true, force: true });
    }
    const f = median(fwupTimes);
    const g = median(fwupdTimes);
    const mib = (kib: number[]) => (kib.length ? Math.round((median(kib) / 1024) * 10) / 10 : null);
    return [
      {
        suite: 'uefi', case: label, value: f, unit: 'ms',
        baseline: { name: 'fwupdtool install', value: g }, ratio: f / g, ratioMeaning: 'of fwupdtool',
        target: '≤ 1.0×', pass: f / g <= 1,
        extra: { runs, fwupPeakRssMiB: mib(fwupRss), fwupdtoolPeakRssMiB: mib(fwupdRss), fwupMs: fwupTimes, fwupdtoolMs: fwupdTimes, fwupdtool: /^runtime\s+org\.freedesktop\.fwupd\s+(\S+)/m.exec(probe.stdout)?.[1] ?? null },
      },
      // fwupdtool spends much of its wall time waiting (its own timeouts and main loop), so the CPU both use is shown too.
      ...(fwupCpu.length
        ? [{
            suite: 'uefi', case: 'CPU time (user + system) of the same stage: fwup vs fwupdtool', value: median(fwupCpu), unit: 'ms',
            baseline: { name: 'fwupdtool install', value: median(fwupdCpu) }, ratio: median(fwupCpu) / median(fwupdCpu), ratioMeaning: 'of fwupdtool',
            extra: { runs, resolutionMs: 10 },
          }]
        : []),
      ...(fwupRss.length && fwupdRss.length
        ? [{
            suite: 'uefi', case: 'peak RSS of the same stage: fwup vs fwupdtool', value: mib(fwupRss)!, unit: 'MiB',
            baseline: { name: 'fwupdtool install', value: mib(fwupdRss)! }, ratio: median(fwupRss) / median(fwupdRss), ratioMeaning: 'of fwupdtool',
          }]
        : []),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface Tree {
  dir: string;
  root: string;
  fwupEnv: NodeJS.ProcessEnv;
  fwupdEnv: NodeJS.ProcessEnv;
}

/** A fresh sysroot with the capsule's ESRT entry and DMI (fwupd reads it), and each program's private state. */
async function tree(dir: string): Promise<Tree> {
  const root = await makeSysroot(join(dir, 'root'), { esrt: [{ fwClass: FW_CLASS, fwVersion: 0x100, lowestSupportedFwVersion: 1 }], loader: 'none', osIndicationsSupported: 0x4n | 0x1n });
  const dmi = join(root, 'sys/class/dmi/id');
  await mkdir(dmi, { recursive: true });
  for (const [k, v] of Object.entries({ sys_vendor: 'Fwup Bench', product_name: 'Fake Machine', bios_vendor: 'Fwup Bench', bios_version: '1.0', chassis_type: '3' })) await writeFile(join(dmi, k), `${v}\n`);
  const f = { var: join(dir, 'fwupd/var'), state: join(dir, 'fwupd/var/lib/fwupd'), cache: join(dir, 'fwupd/cache'), run: join(dir, 'fwupd/run'), lock: join(dir, 'fwupd/lock'), home: join(dir, 'fwupd/home') };
  for (const p of Object.values(f)) await mkdir(p, { recursive: true });
  await mkdir(join(dir, 'state'), { recursive: true });
  const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C.UTF-8' };
  return {
    dir, root,
    fwupEnv: { ...base, HOME: dir, XDG_STATE_HOME: join(dir, 'state') },
    fwupdEnv: {
      ...base, HOME: f.home, FWUPD_LOCALSTATEDIR: f.var, STATE_DIRECTORY: f.state, CACHE_DIRECTORY: f.cache, RUNTIME_DIRECTORY: f.run, FWUPD_RUNDIR: f.run, FWUPD_LOCKDIR: f.lock,
      FWUPD_SYSFSFWDIR: join(root, 'sys/firmware'), FWUPD_SYSFSDMIDIR: dmi, FWUPD_SYSFSFWATTRIBDIR: join(root, 'sys/class/firmware-attributes'),
      FWUPD_UEFI_ESP_PATH: join(root, 'boot/efi'), FWUPD_EFIAPPDIR: join(root, 'usr/libexec/fwupd/efi'), FWUPD_UEFI_TEST: '1',
    },
  };
}

/** The capsule in an LVFS-style cabinet for its payload GUID, made by fwupdtool itself. */
async function cabinet(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'firmware.metainfo.xml'), `<?xml version="1.0" encoding="UTF-8"?>
<component type="firmware">
  <id>org.fwup.bench</id>
  <name>Bench</name>
  <summary>The capsule fwup stages, for fwupd</summary>
  <provides><firmware type="flashed">${FW_CLASS.toLowerCase()}</firmware></provides>
  <metadata_license>CC0-1.0</metadata_license>
  <project_license>proprietary</project_license>
  <developer_name>fwup</developer_name>
  <custom><value key="LVFS::VersionFormat">number</value></custom>
  <releases><release urgency="high" version="${FW_VERSION}" date="2026-01-01"><checksum filename="firmware.bin" target="content"/><description><p>bench</p></description></release></releases>
</component>
`);
  await copyFile(CAPSULE, join(dir, 'firmware.bin'));
  const r = spawnSync('fwupdtool', ['build-cabinet', 'firmware.cab', 'firmware.bin', 'firmware.metainfo.xml'], { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir, LC_ALL: 'C.UTF-8' }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`fwupdtool build-cabinet failed: ${r.stdout}${r.stderr}`);
  if (!(await readFile(join(dir, 'firmware.cab'))).length) throw new Error('fwupdtool build-cabinet wrote an empty cabinet');
  return join(dir, 'firmware.cab');
}

/** Wall time of a whole process and, under GNU time, its peak RSS (both measured the same way for each side). */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, withTime: boolean): { ms: number; rssKiB: number | null; cpuMs: number | null } {
  const out = join(cwd, 'time.out');
  const [file, argv] = withTime ? [TIME, ['-f', '%M %U %S', '-o', out, cmd, ...args]] : [cmd, args];
  const t = process.hrtime.bigint();
  const r = spawnSync(file, argv, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  if (!withTime) return { ms, rssKiB: null, cpuMs: null };
  const [rss, user, sys] = (readFileSync(out, 'utf8').trim().split('\n').pop() ?? '').split(' ').map(Number);
  return { ms, rssKiB: rss && rss > 0 ? rss : null, cpuMs: user !== undefined && sys !== undefined && Number.isFinite(user + sys) ? (user + sys) * 1000 : null };
}
