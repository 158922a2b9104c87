import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FwupError } from '../../../errors/fwup-error.js';
import type { LiveMachine } from '../live-machine.js';
import { emuStatus } from '../emu-status.js';
import type { BmcCredentials } from './bmc-credentials.js';
import { HttpError, readJson, sendEmpty, sendError, sendJson } from './bmc-http.js';
import * as R from './bmc-resources.js';
import { BmcSessions } from './bmc-sessions.js';
import { BmcTasks, monitorUri, taskJson } from './bmc-tasks.js';
import { BmcUpdates, type BmcEngine } from './bmc-updates.js';
import { selfSignedCertificate } from './self-signed.js';

export interface BmcOptions {
  host: string;
  port: number;
  tls: boolean;
  credentials: BmcCredentials;
  engine: BmcEngine;
  /** Take unsigned images (the machine must be a development machine as well). */
  allowUnsigned: boolean;
  applyTimeoutMs: number;
  bmcVersion: string;
  now: () => Date;
}

export interface RunningBmc {
  url: string;
  /** The self-signed certificate clients trust with --ca (tls only). */
  certFile: string | null;
  close(): Promise<void>;
}

const JSON_LIMIT = 64 * 1024;
const MAX_CONNECTIONS = 32;

/**
 * The Redfish service of a live emulated machine (`fwup machine start --redfish HOST:PORT`). Only the
 * service root (and /redfish) answer without credentials; everything else takes a session token or
 * HTTP Basic. Request bodies, connections and their time are bounded.
 */
export async function startBmc(live: LiveMachine, o: BmcOptions): Promise<RunningBmc> {
  const sessions = new BmcSessions(o.credentials);
  const tasks = new BmcTasks(o.now);
  // Reading the machine's state verifies its slots (hashes the flash): cached while flash.img is unchanged.
  let cached: { key: string; at: number; v: ReturnType<typeof readState> } | null = null;
  const flashKey = () => {
    const st = statSync(join(live.dir, 'flash.img'));
    return `${st.mtimeMs}/${st.size}/${st.ino}`;
  };
  const state = () => {
    const key = flashKey();
    if (!cached || cached.key !== key || Date.now() - cached.at > 2000) cached = { key, at: Date.now(), v: readState() };
    return cached.v;
  };
  const readState = () =>
    live.read((p) => {
      let lowest: number | null = null;
      try {
        lowest = p.services.activeFirmware().lowestSupportedVersion;
      } catch {
        /* a damaged active slot: the status says so */
      }
      return { status: emuStatus(p, `emu:${live.dir}`), lowestSupported: lowest, createdAt: p.hardware.createdAt, maxImageBytes: p.map.STAGING.size };
    });
  const view = () => {
    const v = state();
    return { ...v, powerState: updates.resetting ?? live.powerState(), bmcVersion: o.bmcVersion, pushApplyTime, user: o.credentials.user, sessionTimeoutS: sessions.timeoutS };
  };
  let pushApplyTime: R.ApplyTime = 'Immediate';
  const maxImageBytes = live.read((p) => p.map.STAGING.size);
  const updates = new BmcUpdates(live, tasks, o.engine, { dir: live.dir, maxImageBytes, allowUnsigned: o.allowUnsigned, applyTimeoutMs: o.applyTimeoutMs, log: (m) => live.log(m) });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://bmc');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    const method = req.method ?? 'GET';
    const get = (body: () => object | null) => {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'OperationNotAllowed', [], { Allow: 'GET, HEAD' });
      const b = body();
      if (!b) throw new HttpError(404, 'ResourceNotFound', ['Resource', path]);
      sendJson(res, 200, b);
    };
    // Unauthenticated: the version document, the service root, and logging in.
    if (path === '/redfish') return get(() => ({ v1: '/redfish/v1/' }));
    if (path === '/redfish/v1') return get(() => R.serviceRoot(view()));
    if (path === R.URI.sessions && method === 'POST') return login(req, res);
    const who = sessions.authenticate(req);
    if (!who) throw new HttpError(401, 'NoValidSession');

    // Read the machine only for the resources made from it (not for every task-monitor poll).
    const v = () => view();
    const post = async (fn: (body: Record<string, unknown>) => Promise<void> | void) => {
      if (method !== 'POST') throw new HttpError(405, 'OperationNotAllowed', [], { Allow: 'POST' });
      await fn(await readJson(req, JSON_LIMIT));
    };
    const accepted = (t: ReturnType<BmcUpdates['simpleUpdate']>) => sendJson(res, 202, taskJson(t), { Location: monitorUri(t.id) });
    switch (path) {
      case R.URI.systems: return get(() => R.systems());
      case R.URI.system: return get(() => R.system(v()));
      case R.URI.managers: return get(() => R.managers());
      case R.URI.manager: return get(() => R.manager(v()));
      case R.URI.updateService:
        if (method === 'PATCH') return patchUpdateService(await readJson(req, JSON_LIMIT), res);
        return get(() => R.updateService(v()));
      case R.URI.inventory: return get(() => R.inventory(v()));
      case R.URI.sessionService: return get(() => R.sessionService(v()));
      case R.URI.sessions: return get(() => R.sessions(sessions.list()));
      case R.URI.accountService: return get(() => R.accountService());
      case R.URI.accounts: return get(() => R.accounts());
      case R.URI.account: return get(() => R.account(v()));
      case R.URI.taskService: return get(() => R.taskService());
      case R.URI.tasks: return get(() => R.tasks(tasks.all().map((t) => t.id)));
      case R.URI.reset:
        return post((b) => {
          const type = b.ResetType ?? 'ForceRestart';
          if (typeof type !== 'string' || !(R.RESET_TYPES as readonly string[]).includes(type)) {
            throw new HttpError(400, 'ActionParameterValueNotInList', [String(type), 'ResetType', 'ComputerSystem.Reset']);
          }
          updates.reset(type as R.ResetType);
          sendEmpty(res, 204);
        });
      case R.URI.simpleUpdate: return post((b) => accepted(updates.simpleUpdate(b)));
      case R.URI.startUpdate: return post(() => accepted(updates.startUpdate()));
      case R.URI.push:
        if (method !== 'POST') throw new HttpError(405, 'OperationNotAllowed', [], { Allow: 'POST' });
        return accepted(await updates.receivePush(req, pushApplyTime));
      case R.URI.multipart:
        if (method !== 'POST') throw new HttpError(405, 'OperationNotAllowed', [], { Allow: 'POST' });
        return accepted(await updates.receiveMultipart(req, 'Immediate'));
    }
    let m = /^\/redfish\/v1\/UpdateService\/FirmwareInventory\/([\w-]+)$/.exec(path);
    if (m) return get(() => R.inventoryItem(v(), m![1]!));
    m = /^\/redfish\/v1\/TaskService\/Tasks\/(\d+)$/.exec(path);
    if (m) {
      const t = tasks.get(m[1]!);
      if (t && method === 'DELETE') {
        await updates.cancel(t);
        return sendEmpty(res, 204);
      }
      return get(() => (t ? taskJson(t) : null));
    }
    m = /^\/redfish\/v1\/TaskService\/TaskMonitors\/(\d+)$/.exec(path);
    if (m) {
      // The task monitor: 202 while the task runs (or waits), then the task as the operation's result.
      const t = tasks.get(m[1]!);
      if (!t) throw new HttpError(404, 'ResourceNotFound', ['TaskMonitor', path]);
      if (method !== 'GET') throw new HttpError(405, 'OperationNotAllowed', [], { Allow: 'GET' });
      if (t.end === null) return sendJson(res, 202, taskJson(t), { Location: monitorUri(t.id), 'Retry-After': '1' });
      return sendJson(res, 200, taskJson(t));
    }
    m = /^\/redfish\/v1\/SessionService\/Sessions\/([\w-]+)$/.exec(path);
    if (m) {
      const s = sessions.get(m[1]!);
      if (!s) throw new HttpError(404, 'ResourceNotFound', ['Session', m[1]!]);
      if (method === 'DELETE') {
        sessions.close(s.id);
        return sendEmpty(res, 204);
      }
      return get(() => R.session(s));
    }
    throw new HttpError(404, 'ResourceNotFound', ['Resource', path]);
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const b = await readJson(req, JSON_LIMIT);
    if (!sessions.check(b.UserName, b.Password)) throw new HttpError(401, 'NoValidSession');
    const s = sessions.open(String(b.UserName));
    if (!s) throw new HttpError(503, 'ServiceTemporarilyUnavailable', ['30'], { 'Retry-After': '30' });
    sendJson(res, 201, R.session(s), { 'X-Auth-Token': s.token, Location: `${R.URI.sessions}/${s.id}` });
  }

  function patchUpdateService(b: Record<string, unknown>, res: ServerResponse): void {
    const opts = b.HttpPushUriOptions as { HttpPushUriApplyTime?: { ApplyTime?: unknown } } | undefined;
    const at = opts?.HttpPushUriApplyTime?.ApplyTime;
    if (typeof at !== 'string' || !(R.APPLY_TIMES as readonly string[]).includes(at)) {
      throw new HttpError(400, 'PropertyValueNotInList', [String(at), 'HttpPushUriOptions/HttpPushUriApplyTime/ApplyTime']);
    }
    pushApplyTime = at as R.ApplyTime;
    sendJson(res, 200, R.updateService(view()));
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof HttpError) {
        // A refused upload is not read to its end: close the connection instead of draining it.
        if (e.status === 413 || req.readableEnded === false) res.setHeader('Connection', 'close');
        sendError(res, e);
      } else {
        live.log(`bmc: ${req.method} ${req.url}: ${e instanceof Error ? e.message : String(e)}`);
        sendError(res, new HttpError(500, 'GeneralError', [e instanceof FwupError ? e.message : 'internal error (see machine.log)']));
      }
    });
  };

  let server: Server;
  let certFile: string | null = null;
  if (o.tls) {
    const { certPem, keyPem } = await selfSignedCertificate(o.host, o.now());
    certFile = join(live.dir, 'redfish-tls.crt');
    writeFileSync(certFile, certPem);
    server = createHttpsServer({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' }, handler);
  } else {
    server = createHttpServer(handler);
  }
  server.maxConnections = MAX_CONNECTIONS;
  server.headersTimeout = 10_000;
  server.requestTimeout = 300_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 64;
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      fail(new FwupError(e.code === 'EADDRINUSE' ? 'TARGET_BUSY' : 'MACHINE_FAILURE', `the BMC cannot listen on ${o.host}:${o.port}: ${e.message}`, { hint: 'choose another --redfish HOST:PORT' })),
    );
    server.listen(o.port, o.host, () => ok());
  });
  const port = (server.address() as { port: number }).port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  const url = `${o.tls ? 'https' : 'http'}://${host}:${port}`;
  writeFileSync(join(live.dir, 'redfish.json'), `${JSON.stringify({ url, certFile, pid: process.pid })}\n`);
  live.log(`bmc: Redfish on ${url}${certFile ? ` (self-signed certificate ${certFile})` : ''}`);
  return {
    url,
    certFile,
    close: () =>
      new Promise<void>((done) => {
        rmSync(join(live.dir, 'redfish.json'), { force: true });
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
