import { createServer as createHttpServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  /** Body bytes this server wrote in answer (headers excluded). */
  bytesSent: number;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, rec: RecordedRequest) => void | Promise<void>;

export interface TestServer {
  origin: string;
  port: number;
  url(path: string): string;
  requests: RecordedRequest[];
  /** Replace the route table (path -> handler); an unknown path answers 404. */
  routes: Map<string, Handler>;
  close(): Promise<void>;
}

/** A real HTTP (or HTTPS) server on 127.0.0.1 and a free port, recording every request it gets. */
export async function startServer(tls?: { key: Buffer; cert: Buffer }): Promise<TestServer> {
  const routes = new Map<string, Handler>();
  const requests: RecordedRequest[] = [];
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const rec: RecordedRequest = { path, headers: req.headers, bytesSent: 0 };
    requests.push(rec);
    // Count body bytes on their way out, so a test can assert that only the rest was sent.
    const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (chunk instanceof Uint8Array || typeof chunk === 'string') rec.bytesSent += Buffer.byteLength(chunk as Buffer);
      return write(chunk, ...rest);
    }) as ServerResponse['write'];
    const handler = routes.get(path);
    if (!handler) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such file');
      return;
    }
    Promise.resolve(handler(req, res, rec)).catch((e: unknown) => {
      res.destroy(e as Error);
    });
  };
  const server: Server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }, listener) : createHttpServer(listener);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as { port: number }).port;
  const origin = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  return {
    origin,
    port,
    url: (p) => `${origin}${p}`,
    requests,
    routes,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

export interface ServeOptions {
  etag?: string | null;
  lastModified?: string | null;
  /** Answer `Range` requests with 206 (when If-Range still matches); false: always send everything. */
  ranges?: boolean;
  /** Send no Content-Length (chunked transfer encoding). */
  chunked?: boolean;
  /** After this many body bytes, wait for `stopWhen` and then do what `then` says. */
  stopAfter?: number;
  stopWhen?: Promise<void>;
  then?: 'cut' | 'stall';
}

/** Serve `body` like a static file server would: ETag, Last-Modified, Range with If-Range. */
export function serveBytes(body: Buffer, opts: ServeOptions = {}): Handler {
  const etag = opts.etag === undefined ? '"v1"' : opts.etag;
  const lastModified = opts.lastModified === undefined ? null : opts.lastModified;
  return async (req, res) => {
    const validators: Record<string, string> = {};
    if (etag) validators.etag = etag;
    if (lastModified) validators['last-modified'] = lastModified;
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    const ifRange = req.headers['if-range'];
    const stillSame = ifRange === undefined || ifRange === etag || ifRange === lastModified;
    if (opts.ranges !== false && range && stillSame && Number(range[1]) < body.length) {
      start = Number(range[1]);
      res.writeHead(206, {
        ...validators,
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
        ...(opts.chunked ? {} : { 'content-length': String(body.length - start) }),
      });
    } else {
      res.writeHead(200, { ...validators, ...(opts.chunked ? {} : { 'content-length': String(body.length) }), 'accept-ranges': 'bytes' });
    }
    const rest = body.subarray(start);
    if (opts.stopAfter === undefined) {
      // write() then end(), not end(rest): end() bypasses the byte count above.
      res.write(rest);
      res.end();
      return;
    }
    await new Promise<void>((done) => res.write(rest.subarray(0, opts.stopAfter), () => done()));
    await opts.stopWhen;
    if (opts.then === 'cut') res.socket?.destroy();
    // 'stall': keep the connection open without sending anything more (closed by server.close()).
  };
}

/** Answer with a redirect to `location`. */
export function redirectTo(location: string, status = 302): Handler {
  return (_req, res) => {
    res.writeHead(status, { location }).end();
  };
}

/** A port on 127.0.0.1 where nothing listens (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((done) => s.listen(0, '127.0.0.1', done));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((done) => s.close(() => done()));
  return port;
}

/**
 * A self-signed certificate for 127.0.0.1 made with the openssl command-line tool, or null when it is
 * not installed (CI installs it; see .ci/run).
 */
export async function selfSignedCert(dir: string): Promise<{ key: Buffer; cert: Buffer; certPath: string } | null> {
  const openssl = ['/usr/bin/openssl', '/usr/local/bin/openssl'].find((p) => existsSync(p));
  if (!openssl) return null;
  const keyPath = join(dir, 'server.key');
  const certPath = join(dir, 'server.crt');
  execFileSync(openssl, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return { key: await readFile(keyPath), cert: await readFile(certPath), certPath };
}
