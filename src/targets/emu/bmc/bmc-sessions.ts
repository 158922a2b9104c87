import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { BmcCredentials } from './bmc-credentials.js';

export interface BmcSession {
  id: string;
  token: string;
  user: string;
  created: number;
  lastUsed: number;
}

/** How a request proved who it is: a session token, HTTP Basic, or not at all. */
export type Who = { user: string; session: BmcSession | null } | null;

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison of two secrets of any length (their digests have one length). */
function same(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** The BMC's one account and its sessions (X-Auth-Token), bounded in number and idle time. */
export class BmcSessions {
  private readonly byToken = new Map<string, BmcSession>();

  constructor(private readonly creds: BmcCredentials, readonly timeoutS = 1800, readonly max = 32, private readonly now = () => Date.now()) {}

  check(user: unknown, password: unknown): boolean {
    // Both comparisons always run: the time taken says nothing about which one failed.
    const u = same(typeof user === 'string' ? user : '', this.creds.user);
    const p = same(typeof password === 'string' ? password : '', this.creds.password);
    return u && p;
  }

  /** A new session, or null when the table is full of live sessions. */
  open(user: string): BmcSession | null {
    this.expire();
    if (this.byToken.size >= this.max) return null;
    const t = this.now();
    const s: BmcSession = { id: randomUUID(), token: randomBytes(24).toString('base64url'), user, created: t, lastUsed: t };
    this.byToken.set(s.token, s);
    return s;
  }

  close(id: string): boolean {
    for (const [token, s] of this.byToken) {
      if (s.id === id) {
        this.byToken.delete(token);
        return true;
      }
    }
    return false;
  }

  list(): BmcSession[] {
    this.expire();
    return [...this.byToken.values()];
  }

  get(id: string): BmcSession | null {
    return this.list().find((s) => s.id === id) ?? null;
  }

  authenticate(req: IncomingMessage): Who {
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string' && token) {
      this.expire();
      const s = this.byToken.get(token);
      if (!s) return null;
      s.lastUsed = this.now();
      return { user: s.user, session: s };
    }
    const auth = req.headers.authorization;
    const m = typeof auth === 'string' ? /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(auth) : null;
    if (!m) return null;
    const text = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon < 0) return null;
    const user = text.slice(0, colon);
    return this.check(user, text.slice(colon + 1)) ? { user, session: null } : null;
  }

  private expire(): void {
    const limit = this.now() - this.timeoutS * 1000;
    for (const [token, s] of this.byToken) if (s.lastUsed < limit) this.byToken.delete(token);
  }
}
