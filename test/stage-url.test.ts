import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { fwup, json, tempDir, hashTree, REPO_ROOT } from './helpers/cli.js';
import { initMachine, statusJson } from './helpers/machine.js';
import { closedPort, startServer } from './helpers/http-server.js';
import { EXIT } from '../src/errors/exit-codes.js';

const FIX = join(REPO_ROOT, 'fixtures');
const KEY = join(FIX, 'keys', 'test-release.pub');

test('stage URL: downloads, verifies the pinned digest and the signature, then stages; every failure leaves the machine byte-identical', async () => {
  const { dir, cleanup } = await tempDir();
  const server = await startServer();
  try {
    const signed = await readFile(join(FIX, 'images', 'fw-2.0.0-signed.fwup'));
    const other = await readFile(join(FIX, 'images', 'fw-2.0.0-other-key.fwup'));
    const serve = (body: Buffer) => (_req: unknown, res: import('node:http').ServerResponse) => {
      res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' }).end(body);
    };
    server.routes.set('/fw.fwup', serve(signed));
    server.routes.set('/other.fwup', serve(other));
    server.routes.set('/half.fwup', (_req, res) => {
      res.writeHead(200, { 'content-length': signed.length });
      res.write(signed.subarray(0, 40_000));
      res.destroy();
    });
    const t = await initMachine(dir, ['--trust', KEY]);
    const m = join(dir, 'm');
    const env = { XDG_CACHE_HOME: join(dir, 'cache') };
    const sha = createHash('sha256').update(signed).digest('hex');
    const cases: Array<[string, string[], number, string]> = [
      ['wrong pinned digest', [server.url('/fw.fwup'), '--sha256', '0'.repeat(64)], EXIT.INTEGRITY, 'NET_DIGEST_MISMATCH'],
      ['404', [server.url('/missing.fwup')], EXIT.NETWORK, 'NET_HTTP_STATUS'],
      ['untrusted signature', [server.url('/other.fwup')], EXIT.SIGNATURE, 'IMAGE_SIGNATURE_UNKNOWN_KEY'],
      ['connection cut halfway', [server.url('/half.fwup'), '--idle-timeout', '2'], EXIT.NETWORK, 'NET_INTERRUPTED'],
      ['refused', [`http://127.0.0.1:${await closedPort()}/fw.fwup`], EXIT.NETWORK, 'NET_REFUSED'],
    ];
    for (const [what, args, code, err] of cases) {
      const before = await hashTree(m);
      const r = await fwup(['stage', ...args, '--target', t, '--json'], { cwd: dir, env });
      assert.equal(r.code, code, `${what}: ${r.stdout}`);
      assert.equal(json<{ error: { code: string } }>(r).error.code, err, what);
      assert.equal(await hashTree(m), before, `${what}: machine unchanged`);
    }
    const r = await fwup(['stage', server.url('/fw.fwup'), '--sha256', sha, '--target', t, '--json'], { cwd: dir, env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = json<{ download: { url: string; fileSha256: string; cached: boolean } }>(r);
    assert.equal(out.download.fileSha256, sha);
    const st = await statusJson(dir, t);
    assert.equal(st.staged.fileSha256, sha);
    assert.equal(st.staged.version, '2.0.0');
  } finally {
    await server.close();
    await cleanup();
  }
});
