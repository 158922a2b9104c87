import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Where Debian's fwupd package puts the LVFS CA certificates, below the file-system root. */
export const LVFS_CA_DIR = 'etc/pki/fwupd';

/**
 * The LVFS CA certificates (PEM) that fwupd ships: `${root}/etc/pki/fwupd/*.pem`, sorted; [] when the
 * folder is absent. `root` is '/' on a host and a fake tree in tests. The folder also holds GPG keys
 * (GPG-KEY-*), which fwup does not use (see docs/cabinet-format.md, "Jcat").
 */
export function lvfsCaFiles(root: string): string[] {
  const dir = join(root, LVFS_CA_DIR);
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isFile() && d.name.endsWith('.pem')).map((d) => d.name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw e;
  }
  return names.sort().map((n) => join(dir, n));
}
