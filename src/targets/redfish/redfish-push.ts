import { createHash, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { FwupError } from '../../errors/fwup-error.js';
import type { RedfishClient, RedfishReply } from './redfish-client.js';
import type { RedfishComponent, RedfishService } from './redfish-discovery.js';
import { localAddressTowards, serveImage, type ServedImage } from './image-server.js';
import type { PushMethod } from './redfish-results.js';

export interface PushFile {
  path: string;
  size: number;
  /** The verified file's SHA-256: what is sent must hash to it. */
  sha256: string;
  name: string;
}

export interface PushOptions {
  method: 'auto' | 'multipart' | 'simple-update' | 'http-push';
  applyTime: string | null;
  force: boolean;
  /** ADDRESS[:PORT] fwup's image server binds for SimpleUpdate; default: the address that reaches the BMC. */
  serveAddress: string | null;
}

export interface Pushed {
  method: PushMethod;
  reply: RedfishReply | null;
  /** SHA-256 of the bytes that went out (the upload, or what the image server sent); null in a dry run. */
  sentSha256: string | null;
  /** SimpleUpdate: the image server, to stop once the BMC has fetched the image. */
  server: ServedImage | null;
}

/** The push methods this BMC offers, in fwup's order of preference. */
export function pushMethods(s: RedfishService): PushMethod[] {
  const out: PushMethod[] = [];
  if (s.update.multipartUri) out.push('multipart');
  if (s.update.simpleUpdate) out.push('simple-update');
  if (s.update.pushUri) out.push('http-push');
  return out;
}

/** Read the file through one descriptor, hashing what goes out; the last chunk waits for the digest check. */
async function* fileChunks(f: PushFile, seen: ReturnType<typeof createHash>): AsyncIterable<Buffer> {
  const fh = await open(f.path, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    let at = 0;
    while (at < f.size) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, f.size - at), at);
      if (bytesRead === 0) throw new FwupError('FILE_IO', `${f.name} became shorter while it was sent`);
      at += bytesRead;
      const chunk = Buffer.from(buf.subarray(0, bytesRead));
      seen.update(chunk);
      yield chunk;
    }
  } finally {
    await fh.close();
  }
}

function digestCheck(seen: ReturnType<typeof createHash>, f: PushFile): string {
  const got = seen.digest('hex');
  if (got !== f.sha256) {
    // Thrown before the body's end is sent: the BMC receives a truncated upload and stores nothing.
    throw new FwupError('FILE_IO', `the bytes being sent hash to ${got.slice(0, 16)}…, not the verified ${f.sha256.slice(0, 16)}…: the spool file changed`, { hint: 'nothing was installed; run stage again' });
  }
  return got;
}

export async function pushImage(c: RedfishClient, s: RedfishService, comp: RedfishComponent, f: PushFile, o: PushOptions): Promise<Pushed> {
  const offered = pushMethods(s);
  const method = o.method === 'auto' ? offered[0] : o.method;
  if (!method || !offered.includes(method)) {
    throw new FwupError('TARGET_UNSUPPORTED', `the BMC offers no ${o.method === 'auto' ? 'way to push an image (MultipartHttpPushUri, SimpleUpdate or HttpPushUri)' : o.method} update`, {
      hint: offered.length ? `it offers: ${offered.join(', ')} (--push-method)` : 'update it with the vendor\'s tool',
    });
  }
  const params: Record<string, unknown> = { Targets: [comp.uri] };
  if (o.applyTime) params['@Redfish.OperationApplyTime'] = o.applyTime;
  if (o.force) params.ForceUpdate = true;
  const seen = createHash('sha256');
  let sent: string | null = null;
  switch (method) {
    case 'multipart': {
      const boundary = `fwup-${randomBytes(16).toString('hex')}`;
      const head = Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="UpdateParameters"\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(params)}\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="UpdateFile"; filename="${f.name.replace(/["\r\n\\]/g, '_')}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
      );
      const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
      const chunks = async function* () {
        yield head;
        yield* fileChunks(f, seen);
        sent = digestCheck(seen, f);
        yield tail;
      };
      const reply = await c.upload(s.update.multipartUri!, `push the image (${f.size} bytes, sha256 ${f.sha256}) with MultipartHttpPushUri`, `multipart/form-data; boundary=${boundary}`, head.length + f.size + tail.length, chunks, { UpdateParameters: params, UpdateFile: f.name });
      return { method, reply, sentSha256: sent, server: null };
    }
    case 'http-push': {
      const chunks = async function* () {
        const all = fileChunks(f, seen);
        const it = all[Symbol.asyncIterator]();
        // Hold the last chunk back until the digest is known.
        let prev = await it.next();
        while (!prev.done) {
          const next = await it.next();
          if (next.done) sent = digestCheck(seen, f);
          yield prev.value;
          prev = next;
        }
      };
      const reply = await c.upload(s.update.pushUri!, `push the image (${f.size} bytes, sha256 ${f.sha256}) with HttpPushUri (the BMC's default apply time)`, 'application/octet-stream', f.size, chunks, undefined);
      return { method, reply, sentSha256: sent, server: null };
    }
    case 'simple-update': {
      const bmc = new URL(c.origin);
      const [addr, portText] = splitAddress(o.serveAddress ?? (c.dryRun ? 'ADDRESS' : await localAddressTowards(bmc.hostname.replace(/^\[|\]$/g, ''), Number(bmc.port || (bmc.protocol === 'https:' ? 443 : 80)))));
      const server = c.dryRun ? null : await serveImage(f.path, f.size, addr, portText, f.name);
      const url = server?.url ?? `http://${addr}:PORT/fwup-RANDOM/${f.name}`;
      const body = { ImageURI: url, TransferProtocol: 'HTTP', ...params };
      try {
        const reply = await c.change('POST', s.update.simpleUpdate!.target, `SimpleUpdate: the BMC fetches the image from fwup's server at ${url} (stopped once fetched)`, body);
        return { method, reply, sentSha256: null, server };
      } catch (e) {
        await server?.close();
        throw e;
      }
    }
  }
}

function splitAddress(text: string): [string, number] {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  if (!m) return [text, 0];
  return [m[1]!, m[2] ? Number(m[2]) : 0];
}
