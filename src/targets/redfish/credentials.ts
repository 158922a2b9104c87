import { readFile, stat } from 'node:fs/promises';
import { FwupError, fromSystemError } from '../../errors/fwup-error.js';

export interface RedfishCredentials {
  user: string;
  password: string;
  /** Where they came from (for messages; never the secret itself). */
  source: string;
}

/**
 * The BMC account: `--credentials FILE` (JSON {"user","password"} or two lines, refused unless mode 0600
 * or stricter), else FWUP_REDFISH_USER / FWUP_REDFISH_PASSWORD. Never from the command line.
 */
export async function loadCredentials(file: string | undefined, fromEnv: { user?: string; password?: string }): Promise<RedfishCredentials> {
  if (file) {
    const st = await stat(file).catch((e: unknown) => {
      throw fromSystemError(e, file, 'read');
    });
    if (st.mode & 0o077) {
      throw new FwupError('CREDENTIALS_INSECURE', `${file} is readable or writable by others (mode ${(st.mode & 0o777).toString(8)}): fwup does not use a password file others can read`, { hint: `chmod 600 ${file}` });
    }
    const text = (await readFile(file, 'utf8')).trim();
    let user: unknown;
    let password: unknown;
    if (text.startsWith('{')) {
      try {
        ({ user, password } = JSON.parse(text) as { user?: unknown; password?: unknown });
      } catch {
        /* reported below */
      }
    } else {
      [user, password] = text.split(/\r?\n/);
    }
    if (typeof user !== 'string' || typeof password !== 'string' || !user || !password) {
      throw new FwupError('CREDENTIALS_MISSING', `${file} holds no account: write {"user": "…", "password": "…"} or the user and the password on two lines`, { hint: 'the file must be mode 0600' });
    }
    return { user, password, source: file };
  }
  if (fromEnv.user && fromEnv.password) return { user: fromEnv.user, password: fromEnv.password, source: 'FWUP_REDFISH_USER/FWUP_REDFISH_PASSWORD' };
  throw new FwupError('CREDENTIALS_MISSING', 'no BMC account: the redfish target needs a user and a password', {
    hint: 'set FWUP_REDFISH_USER and FWUP_REDFISH_PASSWORD, or give --credentials FILE (mode 0600); never on the command line',
  });
}
