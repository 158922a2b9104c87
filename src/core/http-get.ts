import { FwupError } from '../errors/fwup-error.js';
import type { Logger } from './context.js';
import { networkError } from './net-errors.js';

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export interface HttpGetOptions {
  headers: Readonly<Record<string, string>>;
  /** Per request (each redirect hop): from sending it to having the response headers. */
  headersTimeoutMs: number;
  maxRedirects: number;
  /** Follow a redirect from https to plain http (off: a redirect must not drop TLS). */
  allowInsecureRedirect: boolean;
  log: Logger;
  /** The user's interrupt, and the error it becomes (the request is aborted with it). */
  signal?: AbortSignal;
  interrupted?: () => FwupError | null;
}

export interface OpenResponse {
  response: Response;
  /** The URL that answered, after redirects. */
  url: URL;
  /** Abort the request (and its body stream) with `reason`: the reader then rejects with it. */
  abort(reason: FwupError): void;
}

/**
 * GET `url` with Node's fetch, following redirects ourselves (`redirect: 'manual'`) so that their
 * number is bounded, loops are named as loops, and https never silently becomes http. Resolves when a
 * non-redirect response's headers have arrived; its body is the caller's to read or cancel.
 */
export async function httpGet(url: URL, opts: HttpGetOptions): Promise<OpenResponse> {
  const visited = new Set<string>();
  let current = url;
  for (let followed = 0; ; followed++) {
    visited.add(current.href);
    const controller = new AbortController();
    const host = current.host;
    // fetch rejects with the abort reason itself, so the timeout arrives as this FwupError.
    const timer = setTimeout(
      () =>
        controller.abort(
          new FwupError('NET_TIMEOUT', `no response from ${host} within ${opts.headersTimeoutMs / 1000} s`, {
            hint: 'the server or the network is slow or down: try again, or allow more time with --timeout SECONDS',
            details: { url: current.href, timeoutMs: opts.headersTimeoutMs },
          }),
        ),
      opts.headersTimeoutMs,
    );
    const onAbort = () => {
      const err = opts.interrupted?.();
      if (err) controller.abort(err);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();
    let response: Response;
    try {
      response = await fetch(current, { headers: opts.headers, redirect: 'manual', signal: controller.signal });
    } catch (e) {
      throw networkError(e, { url: current.href, bytesSoFar: null, resumable: false });
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
    if (!REDIRECT_STATUSES.has(response.status)) {
      return { response, url: current, abort: (reason) => controller.abort(reason) };
    }
    // Free the connection: a redirect's body is never wanted.
    await response.body?.cancel().catch(() => {});
    const next = redirectTarget(current, response, opts);
    if (visited.has(next.href)) {
      throw new FwupError('NET_REDIRECTS', `redirect loop: ${current.href} leads back to ${next.href}`, {
        hint: 'the server is misconfigured: report it to whoever runs it, or use the final URL of the image',
        details: { url: url.href, chain: [...visited, next.href] },
      });
    }
    if (followed >= opts.maxRedirects) {
      throw new FwupError('NET_REDIRECTS', `more than ${opts.maxRedirects} redirects from ${url.href}`, {
        hint: 'use the final URL of the image, or allow more with --max-redirects N',
        details: { url: url.href, chain: [...visited, next.href] },
      });
    }
    opts.log.verbose(`HTTP ${response.status} redirect: ${current.href} -> ${next.href}`);
    current = next;
  }
}

function redirectTarget(from: URL, response: Response, opts: HttpGetOptions): URL {
  const location = response.headers.get('location');
  const fail = (why: string, hint: string) =>
    new FwupError('NET_REDIRECTS', `${from.href}: HTTP ${response.status} redirect ${why}`, {
      hint,
      details: { url: from.href, status: response.status, location },
    });
  if (!location) throw fail('without a Location header', 'the server is misconfigured: use the final URL of the image');
  let next: URL;
  try {
    // A relative Location is resolved against the URL that sent it.
    next = new URL(location, from);
  } catch {
    throw fail(`to an invalid location ${JSON.stringify(location)}`, 'the server is misconfigured: use the final URL of the image');
  }
  next.hash = '';
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw fail(`to ${next.protocol} (only http and https are followed)`, 'use an http or https URL of the image');
  }
  if (from.protocol === 'https:' && next.protocol === 'http:' && !opts.allowInsecureRedirect) {
    throw fail(
      `from https to plain http (${next.href}) refused`,
      'a redirect must not drop TLS; if that server is trusted anyway, pass --allow-http-redirect (a pinned --sha256 still protects the bytes)',
    );
  }
  return next;
}
