import { readFile } from 'node:fs/promises';
import { FwupError, fromSystemError } from '../../errors/fwup-error.js';
import type { TargetDeps, TargetOptions } from '../target.js';
import { loadCredentials } from './credentials.js';
import { RedfishClient, type Json } from './redfish-client.js';
import { discover, pickComponent, type RedfishComponent, type RedfishService } from './redfish-discovery.js';
import { nodeTransport, type HttpTransport } from './redfish-http.js';
import type { RedfishSpec } from './redfish-spec.js';

/** What only the redfish target gets from the opener: the account from the environment, the transport. */
export interface RedfishDeps {
  env: { user?: string; password?: string };
  /** Replaces node:http(s) (tests with a recorded BMC, embedding programs); absent: the real one. */
  transport?: HttpTransport;
}

export interface Connection {
  client: RedfishClient;
  root: Json;
  service: RedfishService;
}

const REQUEST_TIMEOUT_MS = 60_000;

/**
 * Log in to the BMC and read what fwup needs (service root, UpdateService, inventory, system), run `fn`,
 * and always log out. TLS is verified against the system store or --ca; --insecure skips it; plain
 * http is refused unless --allow-http.
 */
export async function withConnection<T>(spec: RedfishSpec, deps: TargetDeps, rd: RedfishDeps, opts: TargetOptions, dryRun: boolean, fn: (c: Connection) => Promise<T>): Promise<T> {
  const c = await openConnection(spec, deps, rd, opts, dryRun);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

/** The same, for a conversation that spans several engine steps (a stage): the caller closes it. */
export async function openConnection(
  spec: RedfishSpec, deps: TargetDeps, rd: RedfishDeps, opts: TargetOptions, dryRun: boolean,
  /** What this command read moments ago (facts, then stage): not read again. */
  known?: { root: Json; service: RedfishService },
): Promise<Connection & { close(): Promise<void> }> {
  if (spec.origin.startsWith('http:') && !opts.allowHttp) {
    throw new FwupError('TARGET_INVALID', `${spec.origin} is plain http: the BMC password and the image would cross the network unprotected`, {
      hint: 'use https (the default for BMCs), or pass --allow-http for a lab network you trust',
    });
  }
  if (opts.insecure && opts.ca) throw new FwupError('USAGE', '--insecure and --ca contradict each other', { hint: 'give --ca FILE to verify the BMC against its CA (preferred), or --insecure to skip verification' });
  const creds = await loadCredentials(opts.credentials, rd.env);
  const ca = opts.ca ? await readFile(opts.ca).catch((e: unknown) => { throw fromSystemError(e, opts.ca!, 'read'); }) : null;
  if (opts.insecure) deps.log.warn(`--insecure: the certificate of ${spec.origin} is not verified (anyone on the path can read the password)`);
  const transport = rd.transport ?? nodeTransport({ ca, insecure: opts.insecure });
  const client = new RedfishClient(spec.origin, transport, creds, { timeoutMs: REQUEST_TIMEOUT_MS, dryRun, log: deps.log });
  try {
    if (known) {
      await client.login(sessionsPath(known.root));
      return { client, root: known.root, service: known.service, close: () => client.close() };
    }
    const rootReply = await client.get('/redfish/v1/');
    if (!rootReply?.json || !String(rootReply.json['@odata.type'] ?? '').startsWith('#ServiceRoot.')) {
      throw new FwupError('REDFISH_PROTOCOL', `${spec.origin}/redfish/v1/ is not a Redfish service root`, { hint: 'check the address: it must be the BMC\'s Redfish service' });
    }
    const root = rootReply.json;
    await client.login(sessionsPath(root));
    const service = await discover(client, root, spec.systemPath);
    return { client, root, service, close: () => client.close() };
  } catch (e) {
    await client.close();
    throw e;
  }
}

function sessionsPath(root: Json): string {
  const sessions = (((root.Links ?? {}) as Json).Sessions as Json | undefined)?.['@odata.id'];
  return typeof sessions === 'string' ? sessions : '/redfish/v1/SessionService/Sessions';
}

/** Read the service again (after an install: versions, power state). */
export async function rediscover(c: Connection, spec: RedfishSpec): Promise<Connection> {
  return { ...c, service: await discover(c.client, c.root, spec.systemPath) };
}

export function componentOf(c: Connection, opts: TargetOptions): RedfishComponent {
  return pickComponent(c.service, opts.component);
}
