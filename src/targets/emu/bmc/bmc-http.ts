import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody, type MessageKey, type RedfishMessage } from '../../../targets/redfish/redfish-messages.js';

/** A request the BMC refuses: an HTTP status with a Redfish error body (`@Message.ExtendedInfo`). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly key: MessageKey,
    readonly args: string[] = [],
    readonly headers: Record<string, string> = {},
    readonly extra: RedfishMessage[] = [],
  ) {
    super(`${status} ${key}`);
  }
}

const COMMON = { 'OData-Version': '4.0', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...COMMON, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...COMMON, 'Content-Length': '0', ...headers });
  res.end();
}

export function sendError(res: ServerResponse, e: HttpError): void {
  // A 401 says nothing beyond "authenticate": not which part of the credentials was wrong.
  if (e.status === 401) {
    sendJson(res, 401, errorBody('NoValidSession'), { 'WWW-Authenticate': 'Basic realm="fwup BMC", charset="UTF-8"' });
    return;
  }
  sendJson(res, e.status, errorBody(e.key, e.args, e.extra), e.headers);
}

/** The declared body length, refused with 413 above `limit` before a byte is read. */
export function declaredLength(req: IncomingMessage, limit: number): number | null {
  const raw = req.headers['content-length'];
  if (raw === undefined) return null;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new HttpError(400, 'GeneralError', ['the Content-Length header is not a number']);
  if (n > limit) throw new HttpError(413, 'PayloadTooLarge');
  return n;
}

/** A JSON request body of at most `limit` bytes, parsed; 400 MalformedJSON when it is not JSON. */
export async function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  declaredLength(req, limit);
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/json\b/i.test(type)) throw new HttpError(415, 'UnsupportedMediaType');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new HttpError(413, 'PayloadTooLarge');
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'MalformedJSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'MalformedJSON');
  return v as Record<string, unknown>;
}

/** Drain and drop what is left of a request body (so the connection can be reused). */
export function discardBody(req: IncomingMessage): void {
  req.resume();
}
