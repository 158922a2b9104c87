import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, get as httpGet, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

// A BMC that answers with the recorded response shapes of one vendor family (a Profile), on a real
// HTTP(S) server on 127.0.0.1, recording every request for the test's assertions. It models only what
// fwup's client sees: resources, login, the upload, the task's progress poll by poll, the reset and the
// inventory afterwards.

export type Json = Record<string, unknown>;
const DONE = new Set(['Completed', 'Exception', 'Killed', 'Cancelled']);

/** One state of the task, as the next poll shows it. */
export interface TaskStep {
  state: string;
  percent?: number;
  status?: 'OK' | 'Warning' | 'Critical';
  messages?: Json[];
  /** Vendor extensions of the Task (iDRAC: Oem.Dell.JobState). */
  oem?: Json;
}

export interface Profile {
  name: string;
  user: string;
  password: string;
  /** GET path → resource. Paths are compared without a trailing slash (iLO writes them with one). */
  resources: Record<string, Json>;
  /** The sessions collection (POST → 201 + X-Auth-Token + Location); null: no session service (404), Basic only. */
  sessions: string | null;
  /** iLO answers a login with an absolute Location. */
  absoluteSessionLocation?: boolean;
  upload: {
    path: string;
    kind: 'multipart' | 'raw' | 'simple-update';
    /** multipart: the part names the BMC requires. */
    parts?: string[];
    /**
     * task+monitor: 202, Location = monitor, Task body; task-in-location: 202, Location = the Task itself, no
     * body (iDRAC); monitor: 202, Location = monitor, no body; sync-200/204: done at once, no task;
     * destroy: the socket is destroyed mid-upload.
     */
    answer: 'task+monitor' | 'task-in-location' | 'monitor' | 'sync-200' | 'sync-204' | 'destroy';
    syncBody?: Json;
  };
  /**
   * The task an accepted upload starts. bmcweb: the monitor answers 202 + a brief Task while running, 204
   * once when done, then 404; idrac: the Task answers 202 while running, 200 when done; dmtf: the monitor
   * answers 202 + Task, then 200 + Task; bare: the monitor answers 202 without a body, then 200 + syncBody.
   */
  task?: { uri: string; monitor: string | null; style: 'bmcweb' | 'idrac' | 'dmtf' | 'bare'; goneAfterDone?: boolean };
  /** The task's states: the upload's answer shows the first, each poll the next; the last repeats. */
  steps: TaskStep[];
  /** The task's states after a ComputerSystem.Reset (an OnReset update goes on). */
  resetSteps?: TaskStep[];
  /** The inventory member fwup updates, and the version it shows once installed. */
  component: string;
  newVersion: string;
  installOn: 'upload' | 'task-done' | 'reset' | 'fetch';
  /** Resources that change once installed (null: gone), e.g. iDRAC's inventory Ids that carry the version. */
  onInstall?: Record<string, Json | null>;
  system: string;
  resetPath: string;
  /** The ResetType values the BMC takes (bmcweb lists them in an ActionInfo, not on the action). */
  resetTypes: string[];
  resetStatus: 200 | 204;
  resetBody?: Json;
  /** GETs of the system after a reset that still show the host Off. */
  offReads?: number;
  /** SHA-256 the image must hash to (the upload, or what the BMC fetched for SimpleUpdate). */
  imageSha256: string;
}

export interface Recorded {
  method: string;
  path: string;
  auth: 'token' | 'basic' | 'none';
  /** Request headers; Authorization keeps only its scheme ("Basic <secret>"), X-Auth-Token is "<secret>". */
  headers: Record<string, string>;
  bytes: number;
  /** The status the fake answered (0: the connection was dropped). */
  status: number;
  parts?: string[];
  json?: unknown;
}

export interface FakeBmc {
  url: string;
  log: Recorded[];
  /** What the upload carried: the multipart UpdateParameters (or the SimpleUpdate body), the image's SHA-256. */
  received: { params: Json | null; sha256: string | null; fileName: string | null };
  /** SimpleUpdate: the BMC's GET of ImageURI. */
  fetches: Array<{ url: string; status: number; sha256: string | null; error: string | null }>;
  version(): string;
  close(): Promise<void>;
}

const trim = (p: string) => (p.length > 1 ? p.replace(/\/+$/, '') : p);
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function errorBody(id: string, text: string): Json {
  return { error: { code: id, message: text, '@Message.ExtendedInfo': [{ MessageId: id, Message: text, MessageSeverity: 'Critical' }] } };
}

function multipart(type: string, body: Buffer): Array<{ name: string; filename: string | null; data: Buffer }> | null {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(type);
  if (!m) return null;
  const sep = Buffer.from(`--${m[1] ?? m[2]!}`);
  const out: Array<{ name: string; filename: string | null; data: Buffer }> = [];
  let at = body.indexOf(sep);
  while (at >= 0) {
    const start = at + sep.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(sep, start);
    if (next < 0) return null;
    const part = body.subarray(start + 2, next - 2); // after CRLF, before the CRLF that precedes the boundary
    const end = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, end).toString('utf8');
    out.push({ name: /;\s*name="([^"]*)"/.exec(head)?.[1] ?? '', filename: /filename="([^"]*)"/.exec(head)?.[1] ?? null, data: part.subarray(end + 4) });
    at = next;
  }
  return out;
}

export async function startFakeBmc(p: Profile, tls?: { key: Buffer; cert: Buffer }): Promise<FakeBmc> {
  const log: Recorded[] = [];
  const received: FakeBmc['received'] = { params: null, sha256: null, fileName: null };
  const fetches: FakeBmc['fetches'] = [];
  const tokens = new Map<string, string>(); // token → session path
  const resources = new Map(Object.entries(clone(p.resources)).map(([k, v]) => [trim(k), v]));
  let version = String((resources.get(trim(p.component)) ?? {}).Version);
  const install = () => {
    version = p.newVersion;
    for (const [k, v] of Object.entries(p.onInstall ?? {})) {
      if (v) resources.set(trim(k), clone(v));
      else resources.delete(trim(k));
    }
  };
  let steps: TaskStep[] | null = null;
  let at = 0;
  let offLeft = 0;
  let taskGone = false;
  let monitorGone = false;
  const basic = `Basic ${Buffer.from(`${p.user}:${p.password}`).toString('base64')}`;

  const step = () => steps![Math.min(at, steps!.length - 1)]!;
  /** A poll sees the current state, then the task moves on. */
  const poll = (): TaskStep => {
    const s = step();
    at++;
    if (s.state === 'Completed' && p.installOn === 'task-done' && version !== p.newVersion) install();
    return s;
  };
  const taskJson = (s: TaskStep): Json => ({
    '@odata.type': '#Task.v1_4_3.Task', '@odata.id': p.task!.uri, Id: p.task!.uri.split('/').pop(), Name: `Task ${p.task!.uri.split('/').pop()}`,
    TaskState: s.state, TaskStatus: s.status ?? 'OK', PercentComplete: s.percent ?? 0, Messages: s.messages ?? [],
    ...(p.task!.monitor ? { TaskMonitor: p.task!.monitor } : {}), ...(s.oem ? { Oem: s.oem } : {}),
  });

  const send = (res: ServerResponse, status: number, body?: Json | null, headers: Record<string, string> = {}) => {
    const text = body ? JSON.stringify(body) : '';
    res.writeHead(status, { ...(text ? { 'Content-Type': 'application/json' } : {}), 'Content-Length': String(Buffer.byteLength(text)), 'OData-Version': '4.0', ...headers }).end(text);
  };

  const fetchImage = (uri: string) => {
    httpGet(uri, (r) => {
      const h = createHash('sha256');
      r.on('data', (c: Buffer) => h.update(c));
      r.on('end', () => {
        const sha = r.statusCode === 200 ? h.digest('hex') : null;
        fetches.push({ url: uri, status: r.statusCode ?? 0, sha256: sha, error: null });
        if (sha === p.imageSha256 && p.installOn === 'fetch') install();
      });
      r.on('error', (e) => fetches.push({ url: uri, status: r.statusCode ?? 0, sha256: null, error: e.message }));
    }).on('error', (e) => fetches.push({ url: uri, status: 0, sha256: null, error: e.message }));
  };

  /** The upload was taken in: answer as the profile says. */
  const accepted = (res: ServerResponse) => {
    steps = p.steps;
    at = 0;
    const a = p.upload.answer;
    if (a === 'sync-200' || a === 'sync-204') {
      if (p.installOn === 'upload') install();
      send(res, a === 'sync-200' ? 200 : 204, a === 'sync-200' ? (p.upload.syncBody ?? {}) : null);
      return;
    }
    const t = p.task!;
    if (a === 'task-in-location') return send(res, 202, null, { Location: t.uri });
    if (a === 'monitor') return send(res, 202, null, { Location: t.monitor! });
    const s = step();
    const body = t.style === 'bmcweb' ? { '@odata.id': t.uri, '@odata.type': '#Task.v1_4_3.Task', Id: t.uri.split('/').pop(), TaskState: s.state, TaskStatus: s.status ?? 'OK' } : taskJson(s);
    send(res, 202, body, { Location: t.monitor ?? t.uri });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = trim(url.pathname);
    const method = req.method ?? 'GET';
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = k === 'authorization' ? String(v).replace(/^(\S+).*/, '$1 <secret>') : k === 'x-auth-token' ? '<secret>' : String(v);
    const token = req.headers['x-auth-token'];
    const auth: Recorded['auth'] = typeof token === 'string' ? 'token' : req.headers.authorization ? 'basic' : 'none';
    const rec: Recorded = { method, path, auth, headers, bytes: 0, status: 0 };
    log.push(rec);
    res.on('finish', () => (rec.status = res.statusCode));

    const isUpload = method === 'POST' && path === trim(p.upload.path);
    const chunks: Buffer[] = [];
    for await (const c of req as AsyncIterable<Buffer>) {
      chunks.push(c);
      rec.bytes += c.length;
      // A BMC that drops the connection mid-upload (its reboot, a proxy's limit).
      if (isUpload && p.upload.answer === 'destroy' && rec.bytes >= 16_384) {
        req.socket.destroy();
        return;
      }
    }
    const body = Buffer.concat(chunks);
    const jsonBody = (): Json | null => {
      try {
        return JSON.parse(body.toString('utf8')) as Json;
      } catch {
        return null;
      }
    };

    if (path === '/redfish' || path === '/redfish/v1') return send(res, 200, path === '/redfish' ? { v1: '/redfish/v1/' } : resources.get('/redfish/v1'));
    if (method === 'POST' && p.sessions === null && path === '/redfish/v1/SessionService/Sessions') return send(res, 404, errorBody('Base.1.8.ResourceNotFound', 'no session service'));
    if (method === 'POST' && p.sessions !== null && path === trim(p.sessions)) {
      const j = jsonBody();
      rec.json = j ? { ...j, Password: '***' } : null;
      if (j?.UserName !== p.user || j.Password !== p.password) return send(res, 401, errorBody('Base.1.8.NoValidSession', 'bad user or password'));
      const id = randomBytes(8).toString('hex');
      const tok = randomBytes(16).toString('hex');
      const where = `${trim(p.sessions)}/${id}`;
      tokens.set(tok, where);
      const host = req.headers.host ?? '127.0.0.1';
      return send(res, 201, { '@odata.id': where, Id: id, UserName: p.user }, { 'X-Auth-Token': tok, Location: p.absoluteSessionLocation ? `${tls ? 'https' : 'http'}://${host}${where}/` : where });
    }
    const ok = (typeof token === 'string' && tokens.has(token)) || req.headers.authorization === basic;
    if (!ok) return send(res, 401, errorBody('Base.1.8.NoValidSession', 'no valid session'));
    if (method === 'DELETE' && typeof token === 'string' && tokens.get(token) === path) {
      tokens.delete(token);
      return send(res, 204);
    }
    if (isUpload) {
      if (p.upload.kind === 'multipart') {
        const parts = multipart(String(req.headers['content-type'] ?? ''), body);
        rec.parts = parts?.map((x) => x.name) ?? [];
        const missing = (p.upload.parts ?? []).filter((n) => !rec.parts!.includes(n));
        if (!parts || missing.length) return send(res, 400, errorBody('Base.1.8.ActionParameterMissing', `multipart parts missing: ${missing.join(', ')}`));
        const params = parts.find((x) => x.name === 'UpdateParameters');
        const file = parts.find((x) => x.name === 'UpdateFile');
        received.params = params ? (JSON.parse(params.data.toString('utf8')) as Json) : null;
        received.sha256 = file ? createHash('sha256').update(file.data).digest('hex') : null;
        received.fileName = file?.filename ?? null;
      } else if (p.upload.kind === 'raw') {
        received.sha256 = createHash('sha256').update(body).digest('hex');
      } else {
        const j = jsonBody();
        received.params = j;
        rec.json = j;
        if (typeof j?.ImageURI !== 'string') return send(res, 400, errorBody('Base.1.8.ActionParameterMissing', 'ImageURI'));
        // The BMC downloads after it has answered (iLO: "the success response only says iLO received the call").
        const uri = j.ImageURI;
        setTimeout(() => fetchImage(uri), 50);
      }
      if (received.sha256 !== null && received.sha256 !== p.imageSha256) return send(res, 400, errorBody('Base.1.8.GeneralError', 'the image is damaged'));
      return accepted(res);
    }
    if (method === 'POST' && path === trim(p.resetPath)) {
      const j = jsonBody();
      rec.json = j;
      if (typeof j?.ResetType !== 'string' || !p.resetTypes.includes(j.ResetType)) return send(res, 400, errorBody('Base.1.8.ActionParameterValueNotInList', `ResetType ${String(j?.ResetType)}`));
      offLeft = p.offReads ?? 2;
      if (p.resetSteps) {
        steps = p.resetSteps;
        at = 0;
      }
      if (p.installOn === 'reset') install();
      return send(res, p.resetStatus, p.resetStatus === 200 ? (p.resetBody ?? {}) : null);
    }
    if (method === 'GET' && p.task && steps && (path === trim(p.task.uri) || path === trim(p.task.monitor ?? '-'))) {
      const t = p.task;
      const isMonitor = t.monitor !== null && path === trim(t.monitor);
      if ((isMonitor && monitorGone) || (!isMonitor && taskGone)) return send(res, 404, errorBody('Base.1.8.ResourceNotFound', path));
      if (!isMonitor) {
        // iDRAC: 202 while the job runs; the Task leaves once its end was read.
        const s = t.style === 'idrac' ? poll() : step();
        if (t.style === 'idrac' && DONE.has(s.state) && t.goneAfterDone) taskGone = true;
        return send(res, t.style === 'idrac' && !DONE.has(s.state) ? 202 : 200, taskJson(s));
      }
      const s = poll();
      if (!DONE.has(s.state)) {
        if (t.style === 'bare') return send(res, 202, null, { 'Retry-After': '1' });
        if (t.style === 'bmcweb') return send(res, 202, { '@odata.id': t.uri, '@odata.type': '#Task.v1_4_3.Task', Id: t.uri.split('/').pop(), TaskState: s.state, TaskStatus: s.status ?? 'OK' }, { Location: t.monitor! });
        return send(res, 202, taskJson(s), { 'Retry-After': '1' });
      }
      if (t.style === 'bmcweb') {
        monitorGone = true; // bmcweb: the monitor answers 204 once, then it is gone
        return send(res, 204);
      }
      return send(res, 200, t.style === 'bare' ? (p.upload.syncBody ?? {}) : taskJson(s));
    }
    const r = resources.get(path);
    if (method !== 'GET' || !r) return send(res, method === 'GET' ? 404 : 405, errorBody('Base.1.8.ResourceNotFound', path));
    const out = clone(r);
    if (path === trim(p.component)) out.Version = version;
    if (path === trim(p.system)) {
      out.PowerState = offLeft > 0 ? 'Off' : 'On';
      if (offLeft > 0) offLeft--;
    }
    return send(res, 200, out);
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e: unknown) => res.destroy(e as Error));
  };
  const server: Server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }, listener) : createHttpServer(listener);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, log, received, fetches, version: () => version,
    close: () => new Promise<void>((ok) => {
      server.close(() => ok());
      server.closeAllConnections();
    }),
  };
}
