import { FwupError } from '../../errors/fwup-error.js';
import type { PlannedAction } from '../plan.js';
import type { RedfishCredentials } from './credentials.js';
import type { HttpRequest, HttpResponse, HttpTransport } from './redfish-http.js';

export type Json = Record<string, unknown>;

export interface RedfishReply {
  status: number;
  headers: HttpResponse['headers'];
  json: Json | null;
}

export interface ClientOptions {
  timeoutMs: number;
  dryRun: boolean;
  log: { verbose(m: string): void };
}

const SECRET = /pass(word)?|token|secret|credential/i;

/** A request body as it may be shown or recorded: every secret-looking property replaced. */
export function redact(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redact);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SECRET.test(k) ? '***' : redact(x)]));
  return v;
}

/** The extended-info messages of a Redfish error body, in words. */
export function errorText(json: Json | null): string | null {
  const err = json?.error as { message?: unknown; '@Message.ExtendedInfo'?: Array<{ Message?: unknown; MessageId?: unknown }> } | undefined;
  if (!err) return null;
  const infos = (err['@Message.ExtendedInfo'] ?? []).map((m) => (typeof m.Message === 'string' ? m.Message : typeof m.MessageId === 'string' ? m.MessageId : '')).filter(Boolean);
  return infos.length ? infos.join(' ') : typeof err.message === 'string' ? err.message : null;
}

/**
 * One conversation with a BMC: a Redfish session (X-Auth-Token, deleted at the end) or HTTP Basic when
 * the service has no session service; JSON in and out; every request recorded for the plan. With
 * dryRun, requests that change the BMC are recorded and not sent (reads still go out).
 */
export class RedfishClient {
  readonly plan: PlannedAction[] = [];
  private token: string | null = null;
  private sessionUri: string | null = null;
  private basic: string | null = null;
  /** How the client authenticated: a session, or Basic. */
  auth: 'session' | 'basic' | null = null;

  constructor(readonly origin: string, private readonly transport: HttpTransport, private readonly creds: RedfishCredentials, private readonly o: ClientOptions) {}

  get dryRun(): boolean {
    return this.o.dryRun;
  }

  /** Log in: a session at `sessionsPath`, else Basic (when the service has no session service). */
  async login(sessionsPath: string): Promise<void> {
    const body = { UserName: this.creds.user, Password: this.creds.password };
    const res = await this.raw('POST', sessionsPath, { body: Buffer.from(JSON.stringify(body)), type: 'application/json', auth: false });
    this.plan.push({ kind: 'http', method: 'POST', url: this.url(sessionsPath).href, body: redact(body), purpose: 'log in (a Redfish session)' });
    if (res.status === 401 || res.status === 403) throw this.authError(res.status);
    const token = res.headers['x-auth-token'];
    if ((res.status === 200 || res.status === 201) && typeof token === 'string' && token) {
      this.token = token;
      const loc = res.headers.location;
      this.sessionUri = typeof loc === 'string' ? new URL(loc, this.origin).pathname : null;
      this.auth = 'session';
      return;
    }
    // No session service (404/405/501): HTTP Basic on every request, checked on the first one.
    this.basic = `Basic ${Buffer.from(`${this.creds.user}:${this.creds.password}`).toString('base64')}`;
    this.auth = 'basic';
    this.o.log.verbose(`redfish: no session (${res.status} from ${sessionsPath}); using HTTP Basic`);
  }

  async logout(): Promise<void> {
    if (!this.token || !this.sessionUri) return;
    const uri = this.sessionUri;
    this.sessionUri = null;
    try {
      await this.raw('DELETE', uri, {});
      this.plan.push({ kind: 'http', method: 'DELETE', url: this.url(uri).href, purpose: 'log out (end the session)' });
    } catch {
      /* the session times out on the BMC anyway */
    } finally {
      this.token = null;
    }
  }

  /** Log out and let the connections go. */
  async close(): Promise<void> {
    await this.logout();
    this.transport.close?.();
  }

  /** GET a resource; 404 → null when `optional`. */
  async get(path: string, opts: { optional?: boolean; accept?: number[] } = {}): Promise<RedfishReply | null> {
    const res = await this.raw('GET', path, {});
    if (opts.optional && res.status === 404) return null;
    return this.checked('GET', path, res, opts.accept);
  }

  /** GET a resource that must be a JSON object. */
  async resource(path: string): Promise<Json> {
    const r = await this.get(path);
    if (!r?.json) throw new FwupError('REDFISH_PROTOCOL', `${this.origin}${path} is not a JSON resource`);
    return r.json;
  }

  /** A request that changes the BMC: recorded for the plan; not sent in a dry run (null then). */
  async change(method: 'POST' | 'PATCH' | 'DELETE', path: string, purpose: string, body?: Json, opts: { accept?: number[] } = {}): Promise<RedfishReply | null> {
    this.plan.push({ kind: 'http', method, url: this.url(path).href, ...(body !== undefined ? { body: redact(body) } : {}), purpose });
    if (this.o.dryRun) return null;
    const res = await this.raw(method, path, body !== undefined ? { body: Buffer.from(JSON.stringify(body)), type: 'application/json' } : {});
    return this.checked(method, path, res, opts.accept);
  }

  /** An upload (multipart or raw) of `length` bytes: recorded with its size; not sent in a dry run. */
  async upload(path: string, purpose: string, type: string, length: number, chunks: () => AsyncIterable<Buffer>, shown: unknown): Promise<RedfishReply | null> {
    this.plan.push({ kind: 'http', method: 'POST', url: this.url(path).href, bytes: length, ...(shown !== undefined ? { body: redact(shown) } : {}), purpose });
    if (this.o.dryRun) return null;
    const res = await this.raw('POST', path, { body: { length, chunks }, type, timeoutMs: Math.max(this.o.timeoutMs, 600_000) });
    return this.checked('POST', path, res);
  }

  /**
   * A BMC's own URLs only: a Location or @odata.id naming another host would receive the session token
   * (or the Basic credentials) with the next request, so it is refused.
   */
  url(path: string): URL {
    const u = new URL(path, this.origin);
    if (u.origin !== this.origin) {
      throw new FwupError('REDFISH_PROTOCOL', `the BMC at ${this.origin} pointed fwup to ${u.origin}: fwup sends its credentials to the BMC only`, {
        hint: 'a BMC links to its own resources; check the BMC (or what answers in its place)',
      });
    }
    return u;
  }

  private async raw(method: HttpRequest['method'], path: string, o: { body?: HttpRequest['body']; type?: string; auth?: boolean; timeoutMs?: number }): Promise<HttpResponse> {
    const headers: Record<string, string> = { Accept: 'application/json', 'OData-Version': '4.0', 'User-Agent': 'fwup' };
    if (o.auth !== false) {
      if (this.token) headers['X-Auth-Token'] = this.token;
      else if (this.basic) headers.Authorization = this.basic;
    }
    if (o.body !== undefined) {
      headers['Content-Type'] = o.type ?? 'application/json';
      headers['Content-Length'] = String(Buffer.isBuffer(o.body) ? o.body.length : o.body.length);
    }
    this.o.log.verbose(`redfish: ${method} ${path}`);
    return this.transport({ method, url: this.url(path), headers, ...(o.body !== undefined ? { body: o.body } : {}), timeoutMs: o.timeoutMs ?? this.o.timeoutMs });
  }

  private checked(method: string, path: string, res: HttpResponse, accept: number[] = []): RedfishReply {
    let json: Json | null = null;
    if (res.body.length) {
      const type = String(res.headers['content-type'] ?? '');
      try {
        const v: unknown = JSON.parse(res.body.toString('utf8'));
        json = v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null;
      } catch {
        if (/json/i.test(type) || (res.status >= 200 && res.status < 300 && method === 'GET')) {
          throw new FwupError('REDFISH_PROTOCOL', `${method} ${this.origin}${path} answered ${res.status} with a body that is not JSON`, { hint: 'check that the URL is the BMC\'s Redfish service' });
        }
      }
    }
    if (res.status === 401 || res.status === 403) throw this.authError(res.status);
    if (res.status >= 400 && !accept.includes(res.status)) {
      const text = errorText(json) ?? `HTTP ${res.status}`;
      if (res.status === 503) {
        const retry = res.headers['retry-after'];
        throw new FwupError('BMC_BUSY', `${method} ${path}: the BMC is busy: ${text}`, { hint: `it is running another update${retry ? `; it asks to retry in ${String(retry)} s` : ''}: wait, then run the command again`, details: { status: 503 } });
      }
      throw new FwupError('REDFISH_REFUSED', `${method} ${path}: the BMC answered ${res.status}: ${text}`, { details: { status: res.status, error: json?.error ?? null } });
    }
    return { status: res.status, headers: res.headers, json };
  }

  private authError(status: number): FwupError {
    return new FwupError('REDFISH_AUTH', `the BMC at ${this.origin} refused the account ${JSON.stringify(this.creds.user)} (HTTP ${status})`, {
      hint: `check the user and password (from ${this.creds.source}); the BMC may also lock the account after failed attempts`,
    });
  }
}
