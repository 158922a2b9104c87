import { readFile, readdir, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';
import { isGuid } from '../../util/layout.js';
import type { EspPartition } from './fwupd-efi-layouts.js';

/**
 * Which partition the ESP is, as the firmware names it in a hard-drive device path: read from the
 * sysroot the way the kernel and udev show it. The mount point's device (proc/self/mountinfo), its
 * number, start and size (sys/dev/block/MAJ:MIN; sysfs counts 512-byte sectors, the device path the
 * disk's logical blocks), and the GPT partition GUID (udev's database in run/udev/data, else the
 * dev/disk/by-partuuid links).
 */
export interface EspPartitionFacts extends EspPartition {
  device: string;
  logicalBlockSize: number;
}

const SECTOR = 512;

const unsupported = (why: string, hint = 'fwup needs the ESP\'s partition to write the boot entry; use --capsule-delivery disk or loader if the firmware offers one') =>
  new FwupError('TARGET_UNSUPPORTED', why, { hint });

/** mountinfo escapes blanks and backslashes in octal (\040). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

const readText = (p: string) => readFile(p, 'utf8').then((t) => t.trim(), () => null);

export async function espPartition(sysroot: string, espDir: string): Promise<EspPartitionFacts> {
  const mountPoint = `/${relative(sysroot, espDir)}`.replace(/\/+$/, '') || '/';
  const mountinfo = await readText(join(sysroot, 'proc/self/mountinfo'));
  if (mountinfo === null) throw unsupported(`cannot tell which partition the ESP is: ${join(sysroot, 'proc/self/mountinfo')} is missing`);
  // The last mount on that point is the one in effect.
  const line = mountinfo.split('\n').map((l) => l.split(' ')).filter((f) => f.length > 5 && unescapeMount(f[4]!) === mountPoint).pop();
  if (!line) throw unsupported(`${mountPoint} is not a mount point (proc/self/mountinfo): the ESP must be mounted to know its partition`, 'mount the EFI system partition, or name its mount point with --esp DIR');
  const majMin = line[2]!;
  const dev = join(sysroot, 'sys/dev/block', majMin);
  const number = Number(await readText(join(dev, 'partition')));
  const start = await readText(join(dev, 'start'));
  const size = await readText(join(dev, 'size'));
  if (!(number > 0) || start === null || size === null || !/^\d+$/.test(start) || !/^\d+$/.test(size)) {
    throw unsupported(`the ESP's device ${majMin} is not a partition with a number, start and size in ${dev}`);
  }
  // The disk is the partition's parent directory in sysfs (sys/dev/block/MAJ:MIN links into sys/devices).
  const disk = dirname(await realpath(dev).catch(() => dev));
  const lbs = Number((await readText(join(disk, 'queue/logical_block_size'))) ?? SECTOR) || SECTOR;
  const device = (await readText(join(dev, 'uevent')))?.match(/^DEVNAME=(.+)$/m)?.[1] ?? basename(await realpath(dev).catch(() => dev));
  const partUuid = await gptPartUuid(sysroot, majMin, device);
  const toBlocks = (sectors: string) => (BigInt(sectors) * BigInt(SECTOR)) / BigInt(lbs);
  return { number, start: toBlocks(start), size: toBlocks(size), partUuid, device, logicalBlockSize: lbs };
}

async function gptPartUuid(sysroot: string, majMin: string, device: string): Promise<string> {
  const udev = await readText(join(sysroot, 'run/udev/data', `b${majMin}`));
  if (udev !== null) {
    const prop = (k: string) => udev.match(new RegExp(`^E:${k}=(.*)$`, 'm'))?.[1] ?? null;
    const scheme = prop('ID_PART_ENTRY_SCHEME');
    const uuid = prop('ID_PART_ENTRY_UUID');
    if (scheme && scheme !== 'gpt') throw mbr(device, scheme);
    if (uuid && isGuid(uuid)) return uuid.toLowerCase();
  }
  const dir = join(sysroot, 'dev/disk/by-partuuid');
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const target = await readlink(join(dir, name)).catch(() => null);
    if (target === null || basename(target) !== device) continue;
    if (isGuid(name)) return name.toLowerCase();
    throw mbr(device, 'dos');
  }
  throw unsupported(`cannot find the GPT partition GUID of the ESP (${device}): neither ${join(sysroot, 'run/udev/data', `b${majMin}`)} nor ${dir} names it`);
}

function mbr(device: string, scheme: string): FwupError {
  return unsupported(`the ESP (${device}) is on a ${scheme} partition table: fwup writes boot entries for GPT disks only`);
}
