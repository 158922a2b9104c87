import { FwupError } from '../errors/fwup-error.js';

/**
 * The one place where what Node's fetch (undici) throws becomes a FwupError. fetch rejects with a
 * TypeError ("fetch failed", or "terminated" when the body is cut) whose `cause` carries the system or
 * undici error code; a host with several addresses can put an AggregateError there instead. Found by
 * experiment on Node 20 (test/download.test.ts exercises each case against a real local server):
 *   DNS failure          cause.code ENOTFOUND (EAI_AGAIN when the resolver is unreachable)
 *   nothing listening    cause.code ECONNREFUSED
 *   untrusted cert       cause.code DEPTH_ZERO_SELF_SIGNED_CERT, CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID…
 *   https to a plain port cause.code ERR_SSL_WRONG_VERSION_NUMBER
 *   connection cut       TypeError "terminated", cause.code UND_ERR_SOCKET ("other side closed") or ECONNRESET
 *   blocked port (25…)   cause.message "bad port"
 */

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'EAI_NODATA']);
const UNREACHABLE_CODES = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL']);
const CUT_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_CLOSED', 'UND_ERR_ABORTED']);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
// OpenSSL verification errors (X509_V_ERR_* without the prefix), Node's own TLS codes, and OpenSSL
// protocol errors surface as ERR_SSL_*.
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|UNABLE_TO_|ERR_OSSL_)|_CERT(_|$)|^HOSTNAME_MISMATCH$/;

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** Every error in the cause chain (and inside AggregateErrors), outermost first. */
function causes(e: unknown): ErrorLike[] {
  const out: ErrorLike[] = [];
  const seen = new Set<unknown>();
  const visit = (x: unknown): void => {
    if (x === null || typeof x !== 'object' || seen.has(x) || out.length > 16) return;
    seen.add(x);
    const el = x as ErrorLike;
    out.push(el);
    if (Array.isArray(el.errors)) for (const inner of el.errors) visit(inner);
    visit(el.cause);
  };
  visit(e);
  return out;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export interface NetErrorContext {
  /** The URL the failing request went to (after redirects). */
  url: string;
  /** Bytes of the body already in the part file when the error happened; null before the body. */
  bytesSoFar: number | null;
  /** Whether the part file was kept with what the next attempt needs to resume. */
  resumable: boolean;
}

/** Map anything fetch or reading its body threw to a FwupError with a code and a hint. */
export function networkError(e: unknown, at: NetErrorContext): FwupError {
  if (e instanceof FwupError) return e;
  const chain = causes(e);
  const codes = chain.map((c) => (typeof c.code === 'string' ? c.code : '')).filter(Boolean);
  const messages = chain.map((c) => (typeof c.message === 'string' ? c.message : ''));
  const detail = messages.filter((m) => m && m !== 'fetch failed').at(-1) ?? String(e);
  const host = hostOf(at.url);
  const details = { url: at.url, cause: codes[0] ?? detail };
  const has = (set: Set<string>) => codes.some((c) => set.has(c));

  if (has(DNS_CODES)) {
    return new FwupError('NET_DNS', `cannot resolve host ${host} (${codes.find((c) => DNS_CODES.has(c))})`, {
      hint: 'check the host name in the URL, and the DNS settings and network connection of this machine',
      cause: e,
      details,
    });
  }
  if (codes.includes('ECONNREFUSED')) {
    return new FwupError('NET_REFUSED', `connection to ${host} refused`, {
      hint: 'nothing listens on that port: check the port in the URL and that the server is running',
      cause: e,
      details,
    });
  }
  if (has(UNREACHABLE_CODES)) {
    return new FwupError('NET_UNREACHABLE', `${host} is unreachable (${codes.find((c) => UNREACHABLE_CODES.has(c))})`, {
      hint: 'check the network connection, routes and any proxy or firewall between this machine and the server',
      cause: e,
      details,
    });
  }
  const tls = codes.find((c) => TLS_CODE.test(c));
  if (tls) {
    return new FwupError('NET_TLS', `TLS connection to ${host} failed: ${detail} (${tls})`, {
      hint: tls.startsWith('ERR_SSL_')
        ? 'the server did not speak TLS on that port: check http:// versus https:// and the port'
        : "the server's certificate is not trusted for this host name; for a private CA, start fwup with NODE_EXTRA_CA_CERTS=ca.pem",
      cause: e,
      details,
    });
  }
  if (has(TIMEOUT_CODES)) {
    return new FwupError('NET_TIMEOUT', `connection to ${host} timed out (${codes.find((c) => TIMEOUT_CODES.has(c))})`, {
      hint: 'the server or the network is slow or down; try again, or raise --timeout',
      cause: e,
      details,
    });
  }
  if (has(CUT_CODES) || messages.includes('terminated')) {
    const after = at.bytesSoFar === null ? 'before the response arrived' : `after ${at.bytesSoFar} bytes`;
    return new FwupError('NET_INTERRUPTED', `connection to ${host} was cut ${after}`, {
      hint: at.resumable
        ? 'run the same command again: the download resumes where it stopped'
        : 'run the same command again to retry (this server does not allow resuming, so it starts from the beginning)',
      cause: e,
      details: { ...details, bytes: at.bytesSoFar, resumable: at.resumable },
    });
  }
  if (messages.includes('bad port')) {
    return new FwupError('USAGE', `fetch refuses to connect to port ${new URL(at.url).port} of ${host} (a port reserved for other protocols)`, {
      hint: 'serve the image on another port, such as 80, 443 or 8080',
      details,
    });
  }
  return new FwupError('NET_FAILED', `request to ${host} failed: ${detail}`, {
    hint: 'run with --verbose for details; check the URL and the network',
    cause: e,
    details,
  });
}

const STATUS_HINTS: ReadonlyArray<[(s: number) => boolean, string]> = [
  [(s) => s === 404 || s === 410, 'the server has no file at that URL: check the URL'],
  [(s) => s === 401 || s === 403, 'the server refused access: check the URL, or whether it needs credentials fwup does not send'],
  [(s) => s === 429 || s >= 500, 'the server is overloaded or failing: try again later'],
  [() => true, 'the server refused the request: check the URL'],
];

/** A response that is neither a success nor a redirect. */
export function httpStatusError(status: number, statusText: string, url: string): FwupError {
  const hint = STATUS_HINTS.find(([match]) => match(status))![1];
  return new FwupError('NET_HTTP_STATUS', `GET ${url}: HTTP ${status}${statusText ? ` ${statusText}` : ''}`, {
    hint,
    details: { url, status },
  });
}
