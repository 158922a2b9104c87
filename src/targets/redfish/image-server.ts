import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { basename } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';

export interface ServedImage {
  url: string;
  /** GET requests served in full, and the SHA-256 of the bytes of the last one. */
  served: number;
  lastSha256: string | null;
  /** Resolves true once a GET was served in full, false after `ms` without one. */
  waitServed(ms: number): Promise<boolean>;
  close(): Promise<void>;
}

/** The address this host uses to reach `host:port` (what a BMC can reach back), found by connecting. */
export function localAddressTowards(host: string, port: number, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    const timer = setTimeout(() => s.destroy(new Error('timeout')), timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      const a = s.localAddress;
      s.destroy();
      if (a) resolve(a);
      else reject(new Error('no local address'));
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/**
 * A short-lived HTTP server for SimpleUpdate's ImageURI: it serves one file, under an unguessable path,
 * to GET and HEAD only, bound to one address; everything else is 404. Stopped when the BMC has it.
 */
export async function serveImage(file: string, size: number, address: string, port = 0, name = basename(file)): Promise<ServedImage> {
  // Under the image's own name: BMCs tell an image's kind by its file name (iLO, iDRAC look at the extension).
  const path = `/fwup-${randomBytes(12).toString('hex')}/${encodeURIComponent(basename(name).replace(/^\.|\.tmp$/g, '') || 'image.bin')}`;
  const waiters: Array<() => void> = [];
  const state: ServedImage = {
    url: '', served: 0, lastSha256: null, close: async () => {},
    waitServed: (ms) => state.served > 0 ? Promise.resolve(true) : new Promise<boolean>((done) => {
      const timer = setTimeout(() => done(false), ms);
      waiters.push(() => {
        clearTimeout(timer);
        done(true);
      });
    }),
  };
  const server = createServer((req, res) => {
    if (req.url !== path || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Length': '0' }).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size), 'Cache-Control': 'no-store' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const h = createHash('sha256');
    const rs = createReadStream(file);
    let sha: string | null = null;
    rs.on('data', (c) => h.update(c));
    rs.on('end', () => (sha = h.digest('hex')));
    // Served once the response has gone to the socket, not when the file was read: closing the server
    // right after must not cut the BMC's download short.
    res.on('finish', () => {
      if (sha === null) return;
      state.served++;
      state.lastSha256 = sha;
      waiters.splice(0).forEach((w) => w());
    });
    rs.pipe(res);
  });
  server.requestTimeout = 600_000;
  await new Promise<void>((ok, fail) => {
    server.once('error', (e) => fail(new FwupError('NET_FAILED', `cannot serve the image on ${address}:${port}: ${e.message}`, { hint: 'give --serve-address ADDRESS[:PORT] that the BMC can reach and this host can bind' })));
    server.listen(port, address, () => ok());
  });
  const bound = server.address() as { port: number };
  state.url = `http://${address.includes(':') ? `[${address}]` : address}:${bound.port}${path}`;
  state.close = () =>
    new Promise<void>((done) => {
      server.close(() => done());
      server.closeAllConnections();
    });
  return state;
}
