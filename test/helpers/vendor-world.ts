import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fwup, json, tempDir, type RunResult } from './cli.js';
import { FIXTURES } from './bmc.js';
import { selfSignedCert } from './http-server.js';
import { startFakeBmc, type FakeBmc, type Profile, type Recorded } from './fake-bmc.js';

/** The redfish vendor tests' world: a fake BMC with a vendor's profile, and fwup's CLI pointed at it. */
export const IMG = join(FIXTURES, 'images', 'fw-2.0.0-signed.fwup');
export const SHA = createHash('sha256').update(readFileSync(IMG)).digest('hex');
export const SIZE = statSync(IMG).size;

/* eslint-disable @typescript-eslint/no-explicit-any -- reports are read field by field */
export type Doc = Record<string, any>;

export interface World {
  bmc: FakeBmc;
  dir: string;
  target: string;
  run(args: string[], o?: { env?: Record<string, string>; creds?: boolean; conn?: string[] }): Promise<RunResult>;
  close(): Promise<void>;
}

export async function world(p: Profile, o: { tls?: boolean } = {}): Promise<World> {
  const { dir, cleanup } = await tempDir('fwup-vendors-');
  const cert = o.tls ? await selfSignedCert(dir) : null;
  const bmc = await startFakeBmc(p, cert ?? undefined);
  const target = `redfish:${bmc.url}`;
  const conn = cert ? ['--ca', cert.certPath] : ['--allow-http'];
  return {
    bmc, dir, target,
    run: (args, more = {}) => {
      const creds: Record<string, string> = more.creds === false ? {} : { FWUP_REDFISH_USER: p.user, FWUP_REDFISH_PASSWORD: p.password };
      return fwup([...args, '--target', target, ...(more.conn ?? conn), '--json'], { cwd: dir, env: { XDG_STATE_HOME: join(dir, 'state'), ...creds, ...more.env } });
    },
    close: async () => {
      await bmc.close();
      await cleanup();
    },
  };
}

export const ok = (r: RunResult) => assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
export const failed = (r: RunResult, exit: number, code: string): Doc => {
  assert.equal(r.code, exit, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  const e = json<Doc>(r).error;
  assert.equal(e.code, code);
  return e;
};
export const line = (x: Recorded) => `${x.method} ${x.path} ${x.status}`;
export const posts = (b: FakeBmc, path: string) => b.log.filter((x) => x.method === 'POST' && x.path === path.replace(/\/$/, ''));
export const checks = (rep: Doc) => rep.checks.map((c: Doc) => [c.name, c.ok]);
export const ALL_OK = [['task', true], ['inventory', true], ['system', true]];

/** Every session fwup opened it deleted, and the conversation ended with that DELETE. */
export function sessionsClosed(b: FakeBmc, sessions: string): void {
  const opened = b.log.filter((x) => x.method === 'POST' && x.path === sessions.replace(/\/$/, '') && x.status === 201).length;
  const deleted = b.log.filter((x) => x.method === 'DELETE' && x.path.startsWith(`${sessions.replace(/\/$/, '')}/`) && x.status === 204).length;
  assert.ok(opened > 0, 'fwup logged in with a session');
  assert.equal(deleted, opened, 'every session was deleted');
  assert.equal(b.log.at(-1)!.method, 'DELETE', `the last request ends the session (${line(b.log.at(-1)!)})`);
}

export async function status(w: World): Promise<Doc> {
  const r = await w.run(['status']);
  ok(r);
  return json<Doc>(r);
}
