import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FwupError } from '../../../errors/fwup-error.js';

export interface BmcCredentials {
  user: string;
  password: string;
  /** Where they came from: the environment, a file of an earlier start, or generated just now. */
  source: 'environment' | 'file' | 'generated';
  file: string | null;
}

export const CREDENTIALS_FILE = 'redfish-credentials.json';

/**
 * The BMC's account: FWUP_REDFISH_USER / FWUP_REDFISH_PASSWORD, else the one stored (mode 0600) in the
 * machine directory, else a new one generated and stored there (the caller prints it, once).
 */
export function bmcCredentials(dir: string, env: Readonly<Record<string, string | undefined>>, create: boolean): BmcCredentials {
  const user = env.FWUP_REDFISH_USER;
  const password = env.FWUP_REDFISH_PASSWORD;
  if (user || password) {
    if (!user || !password) {
      throw new FwupError('USAGE', 'FWUP_REDFISH_USER and FWUP_REDFISH_PASSWORD go together: one of them is empty', { hint: 'set both, or neither (a generated account is then stored in the machine directory)' });
    }
    return { user, password, source: 'environment', file: null };
  }
  const file = join(dir, CREDENTIALS_FILE);
  if (existsSync(file)) {
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) {
      throw new FwupError('CREDENTIALS_INSECURE', `${file} is readable by others (mode ${mode.toString(8)}): the BMC will not use it`, { hint: `chmod 600 ${file}` });
    }
    let v: { user?: unknown; password?: unknown };
    try {
      v = JSON.parse(readFileSync(file, 'utf8')) as typeof v;
    } catch {
      v = {};
    }
    if (typeof v.user !== 'string' || typeof v.password !== 'string' || !v.user || !v.password) {
      throw new FwupError('TARGET_CORRUPT', `${file} does not hold {"user": …, "password": …}`, { hint: `remove it: the next machine start generates a new account` });
    }
    return { user: v.user, password: v.password, source: 'file', file };
  }
  if (!create) throw new FwupError('NOT_STAGED', `the BMC has no account: ${file} is missing`, { hint: 'start the machine with fwup machine start --redfish HOST:PORT, which creates one' });
  const made = { user: 'admin', password: randomBytes(18).toString('base64url') };
  writeFileSync(file, `${JSON.stringify(made)}\n`, { mode: 0o600, flag: 'wx' });
  return { ...made, source: 'generated', file };
}
