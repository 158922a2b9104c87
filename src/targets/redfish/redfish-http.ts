import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { FwupError } from '../../errors/fwup-error.js';

/** One request to a BMC. A body is bytes, or a stream of a known length (an image upload). */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: URL;
  headers: Record<string, string>;
  body?: Buffer | { length: number; chunks: () => AsyncIterable<Buffer> };
  timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The one way the redfish target talks to the network (injected; tests pass their own). */
export type HttpTransport = ((req: HttpRequest) => Promise<HttpResponse>) & { close?: () => void };

export interface TlsSettings {
  /** PEM of the CA to trust instead of the system store (--ca FILE). */
  ca: Buffer | null;
  /** --insecure: no certificate verification at all. */
  insecure: boolean;
}

/** Responses larger than this are not Redfish resources: refused instead of buffered. */
const MAX_RESPONSE = 8 * 1024 * 1024;

/** node:http(s) with the TLS settings of the target, bounded in time and response size. */
export function nodeTransport(tls: TlsSettings): HttpTransport {
  // One kept-alive connection for the whole conversation: a BMC's TLS handshake is slow.
  const agents = {
    https: new HttpsAgent({ keepAlive: true, maxSockets: 2, rejectUnauthorized: !tls.insecure, ...(tls.ca ? { ca: tls.ca } : {}) }),
    http: new HttpAgent({ keepAlive: true, maxSockets: 2 }),
  };
  const send = (req: HttpRequest) =>
    new Promise<HttpResponse>((resolve, reject) => {
      const secure = req.url.protocol === 'https:';
      const options = {
        method: req.method,
        headers: req.headers,
        agent: secure ? agents.https : agents.http,
        ...(secure ? { rejectUnauthorized: !tls.insecure, ...(tls.ca ? { ca: tls.ca } : {}) } : {}),
      };
      const r = (secure ? httpsRequest : httpRequest)(req.url, options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE) {
            r.destroy(new FwupError('REDFISH_PROTOCOL', `${req.url.href} answered with more than ${MAX_RESPONSE} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', (e) => fail(e));
      });
      let failed = false;
      const fail = (e: unknown) => {
        if (failed) return;
        failed = true;
        clearTimeout(timer);
        reject(transportError(e, req));
      };
      const timer = setTimeout(() => r.destroy(Object.assign(new Error('timeout'), { code: 'FWUP_TIMEOUT' })), req.timeoutMs);
      r.on('error', fail);
      const body = req.body;
      if (!body) {
        r.end();
      } else if (Buffer.isBuffer(body)) {
        r.end(body);
      } else {
        void (async () => {
          try {
            for await (const c of body.chunks()) {
              if (!r.write(c)) await new Promise<void>((ok) => r.once('drain', ok));
            }
            r.end();
          } catch (e) {
            r.destroy(e as Error);
          }
        })();
      }
    });
  return Object.assign(send, {
    close: () => {
      agents.https.destroy();
      agents.http.destroy();
    },
  });
}

/** A transport failure as a FwupError that says which BMC and what to check. */
export function transportError(e: unknown, req: Pick<HttpRequest, 'url' | 'method' | 'timeoutMs'>): FwupError {
  if (e instanceof FwupError) return e;
  const err = e as NodeJS.ErrnoException;
  const code = err.code ?? '';
  const where = `${req.method} ${req.url.href}`;
  const hint = (h: string) => ({ hint: h, details: { url: req.url.href, code } });
  if (code === 'FWUP_TIMEOUT') return new FwupError('NET_TIMEOUT', `${where}: no answer within ${req.timeoutMs / 1000} s`, hint('the BMC is slow or stalled: retry, or raise --timeout'));
  if (code === 'ECONNREFUSED') return new FwupError('NET_REFUSED', `${where}: connection refused`, hint('check the BMC address and port, and that its Redfish service is on'));
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new FwupError('NET_DNS', `${where}: the host name does not resolve`, hint('check the BMC host name'));
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new FwupError('NET_UNREACHABLE', `${where}: no route to the BMC`, hint('check the management network'));
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/i.test(code) || /certificate/i.test(err.message ?? '')) {
    return new FwupError('NET_TLS', `${where}: the BMC's certificate is not trusted: ${err.message}`, hint('give the BMC\'s CA certificate with --ca FILE (or install it in the system store); --insecure skips verification'));
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up/i.test(err.message ?? '')) {
    return new FwupError('NET_INTERRUPTED', `${where}: the BMC closed the connection (${err.message})`, hint('the BMC dropped the request: nothing is staged unless fwup status says so; try again'));
  }
  return new FwupError('NET_FAILED', `${where}: ${err.message ?? String(e)}`, hint('check the BMC address and the network'));
}
