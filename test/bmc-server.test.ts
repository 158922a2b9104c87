import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, open, readdir, rm, mkdtemp } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempDir } from './helpers/cli.js';
import { FIXTURES, startBmcMachine, type TestBmc } from './helpers/bmc.js';
import { parseMultipart, multipartBoundary, MultipartError } from '../src/targets/emu/bmc/multipart.js';

// The emulated BMC's refusals, spoken to with Node's own HTTP client: what each bad request gets back,
// and that the machine's flash is untouched by every one of them.

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string; json: Record<string, unknown> | null }

function call(bmc: TestBmc, method: string, path: string, o: { body?: Buffer | string; headers?: Record<string, string>; auth?: string | null } = {}): Promise<Reply> {
  const auth = o.auth === undefined ? `Basic ${Buffer.from(`${bmc.user}:${bmc.password}`).toString('base64')}` : o.auth;
  return new Promise((done, fail) => {
    const r = request(new URL(path, bmc.url), { method, headers: { ...(auth ? { Authorization: auth } : {}), ...o.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try {
          json = JSON.parse(body) as Record<string, unknown>;
        } catch {
          /* not JSON */
        }
        done({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
    });
    r.on('error', fail);
    r.end(o.body);
  });
}

/** Poll a task monitor until `done` holds for the task (30 s at most: a loaded CI host is slow). */
async function untilTask(bmc: TestBmc, monitor: string, done: (t: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const t = (await call(bmc, 'GET', monitor)).json ?? {};
    if (done(t)) return t;
    if (Date.now() > deadline) throw new Error(`task at ${monitor} did not get there: ${JSON.stringify(t)}`);
    await new Promise((d) => setTimeout(d, 50));
  }
}

const messageIds = (r: Reply) => ((r.json?.error as { '@Message.ExtendedInfo'?: Array<{ MessageId: string }> } | undefined)?.['@Message.ExtendedInfo'] ?? []).map((m) => m.MessageId);
const flashSha = async (bmc: TestBmc) => createHash('sha256').update(await readFile(join(bmc.dir, 'flash.img'))).digest('hex');

function multipart(params: string, file: Buffer, boundary = 'b0undary'): { body: Buffer; type: string } {
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="UpdateParameters"\r\nContent-Type: application/json\r\n\r\n${params}\r\n--${boundary}\r\nContent-Disposition: form-data; name="UpdateFile"; filename="fw.fwup"\r\n\r\n`),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, type: `multipart/form-data; boundary=${boundary}` };
}

test('bmc: authentication: only /redfish and the service root are open; wrong credentials get a bare 401', async () => {
  const { dir, cleanup } = await tempDir();
  const bmc = await startBmcMachine(dir);
  try {
    assert.equal((await call(bmc, 'GET', '/redfish/v1/', { auth: null })).status, 200);
    assert.deepEqual((await call(bmc, 'GET', '/redfish', { auth: null })).json, { v1: '/redfish/v1/' });
    for (const path of ['/redfish/v1/Systems/1', '/redfish/v1/UpdateService', '/redfish/v1/AccountService/Accounts/1', '/redfish/v1/TaskService/Tasks']) {
      const r = await call(bmc, 'GET', path, { auth: null });
      assert.equal(r.status, 401, path);
      assert.match(String(r.headers['www-authenticate']), /^Basic realm=/);
    }
    const wrongUser = await call(bmc, 'GET', '/redfish/v1/Systems/1', { auth: `Basic ${Buffer.from(`nobody:${bmc.password}`).toString('base64')}` });
    const wrongPass = await call(bmc, 'GET', '/redfish/v1/Systems/1', { auth: `Basic ${Buffer.from(`${bmc.user}:nope`).toString('base64')}` });
    assert.equal(wrongUser.status, 401);
    assert.equal(wrongUser.body, wrongPass.body, 'a wrong user and a wrong password get the same answer');
    const login = await call(bmc, 'POST', '/redfish/v1/SessionService/Sessions', { auth: null, body: JSON.stringify({ UserName: bmc.user, Password: 'nope' }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(login.status, 401);
    assert.equal(login.headers['x-auth-token'], undefined);

    const ok = await call(bmc, 'POST', '/redfish/v1/SessionService/Sessions', { auth: null, body: JSON.stringify({ UserName: bmc.user, Password: bmc.password }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(ok.status, 201);
    const token = String(ok.headers['x-auth-token']);
    const loc = String(ok.headers.location);
    assert.equal((await call(bmc, 'GET', '/redfish/v1/Systems/1', { auth: null, headers: { 'X-Auth-Token': token } })).status, 200);
    assert.equal((await call(bmc, 'DELETE', loc, { auth: null, headers: { 'X-Auth-Token': token } })).status, 204);
    assert.equal((await call(bmc, 'GET', '/redfish/v1/Systems/1', { auth: null, headers: { 'X-Auth-Token': token } })).status, 401, 'a deleted session is gone');
  } finally {
    await bmc.stop();
    await cleanup();
  }
});

test('bmc: bad requests get Redfish errors and change nothing: 400, 404, 405, 413, 415, 503', async () => {
  const { dir, cleanup } = await tempDir();
  const bmc = await startBmcMachine(dir);
  try {
    const image = await readFile(join(FIXTURES, 'images', 'fw-2.0.0-signed.fwup'));

    let r = await call(bmc, 'POST', '/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate', { body: '{"ImageURI": ', headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 400);
    assert.deepEqual(messageIds(r), ['Base.1.16.MalformedJSON']);
    r = await call(bmc, 'POST', '/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate', { body: '{}', headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 400);
    assert.deepEqual(messageIds(r), ['Base.1.16.ActionParameterMissing']);
    r = await call(bmc, 'POST', '/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate', { body: JSON.stringify({ ImageURI: 'ftp://x/y' }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 400, 'only http and https');
    r = await call(bmc, 'POST', '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset', { body: JSON.stringify({ ResetType: 'Nmi' }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 400);
    assert.deepEqual(messageIds(r), ['Base.1.16.ActionParameterValueNotInList']);
    r = await call(bmc, 'GET', '/redfish/v1/Nowhere');
    assert.equal(r.status, 404);
    assert.deepEqual(messageIds(r), ['Base.1.16.ResourceNotFound']);
    r = await call(bmc, 'DELETE', '/redfish/v1/Systems/1');
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, 'GET, HEAD');
    r = await call(bmc, 'POST', '/redfish/v1/UpdateService/upload', { body: 'x', headers: { 'Content-Type': 'text/plain' } });
    assert.equal(r.status, 415);

    const mp = multipart('{"Targets": ["/redfish/v1/Systems/1"]}', image);
    r = await call(bmc, 'POST', '/redfish/v1/UpdateService/upload', { body: mp.body, headers: { 'Content-Type': mp.type } });
    assert.equal(r.status, 400, 'a target that is not the firmware');
    const broken = multipart('{"Targets": []}', image);
    r = await call(bmc, 'POST', '/redfish/v1/UpdateService/upload', { body: broken.body.subarray(0, broken.body.length - 12), headers: { 'Content-Type': broken.type } });
    assert.equal(r.status, 400, 'a multipart body without its closing boundary');
    assert.match(String((r.json?.error as { message: string }).message), /malformed multipart body: .*ends before its closing boundary/);
    const noParams = Buffer.from('--b\r\nContent-Disposition: form-data; name="UpdateFile"; filename="f"\r\n\r\nabc\r\n--b--\r\n');
    r = await call(bmc, 'POST', '/redfish/v1/UpdateService/upload', { body: noParams, headers: { 'Content-Type': 'multipart/form-data; boundary=b' } });
    assert.equal(r.status, 400);
    assert.deepEqual(messageIds(r), ['Base.1.16.ActionParameterMissing']);

    // Oversize: refused from Content-Length alone, before a byte of the body is read or stored.
    const max = (await call(bmc, 'GET', '/redfish/v1/UpdateService')).json!.MaxImageSizeBytes as number;
    const big = await new Promise<string>((done, fail) => {
      const s = connect(Number(new URL(bmc.url).port), '127.0.0.1', () => {
        s.write(`POST /redfish/v1/UpdateService/update HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${Buffer.from(`${bmc.user}:${bmc.password}`).toString('base64')}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${max + 1}\r\n\r\n`);
      });
      let got = '';
      s.on('data', (d) => (got += d.toString()));
      s.on('end', () => done(got));
      s.on('close', () => done(got));
      s.on('error', fail);
    });
    assert.match(big, /^HTTP\/1\.1 413 /);
    assert.match(big, /PayloadTooLarge/);
    assert.deepEqual((await readdir(join(bmc.dir, 'bmc-spool'))).length, 0, 'nothing was spooled');

    // One update at a time: a second one while the first waits for its activation gets 503 + Retry-After.
    const first = multipart('{"@Redfish.OperationApplyTime": "OnStartUpdateRequest"}', image);
    r = await call(bmc, 'POST', '/redfish/v1/UpdateService/upload', { body: first.body, headers: { 'Content-Type': first.type } });
    assert.equal(r.status, 202);
    const monitor = String(r.headers.location);
    await untilTask(bmc, monitor, (t) => (t.Messages as Array<{ MessageId: string }>).some((x) => x.MessageId.endsWith('AwaitToActivate')));
    r = await call(bmc, 'POST', '/redfish/v1/UpdateService/upload', { body: first.body, headers: { 'Content-Type': first.type } });
    assert.equal(r.status, 503);
    assert.equal(r.headers['retry-after'], '5');
    assert.deepEqual(messageIds(r), ['Base.1.16.ServiceTemporarilyUnavailable']);
    // Withdraw it (DELETE on the task): the machine's request goes, the firmware was never touched.
    const task = (await call(bmc, 'GET', monitor)).json!['@odata.id'] as string;
    assert.equal((await call(bmc, 'DELETE', task)).status, 204);
    assert.equal(((await call(bmc, 'GET', task)).json as { TaskState: string }).TaskState, 'Cancelled');
    assert.equal((await call(bmc, 'GET', '/redfish/v1/UpdateService/FirmwareInventory/SystemFirmware')).json!.Version, '1');
    assert.equal((await call(bmc, 'GET', '/redfish/v1/UpdateService/FirmwareInventory/Staged')).status, 404, 'nothing staged any more');
  } finally {
    await bmc.stop();
    await cleanup();
  }
});

test('bmc: a rejected image is a task in Exception with VerificationFailed, and the flash is byte-identical', async () => {
  const { dir, cleanup } = await tempDir();
  const bmc = await startBmcMachine(dir);
  try {
    const flash = await flashSha(bmc);
    const image = await readFile(join(FIXTURES, 'images', 'fw-2.0.0-other-key.fwup'));
    const mp = multipart('{}', image);
    const r = await call(bmc, 'POST', '/redfish/v1/UpdateService/upload', { body: mp.body, headers: { 'Content-Type': mp.type } });
    assert.equal(r.status, 202);
    const t = await untilTask(bmc, String(r.headers.location), (x) => x.TaskState !== 'Running' && x.TaskState !== 'New');
    assert.equal(t.TaskState, 'Exception');
    const ids = (t.Messages as Array<{ MessageId: string; Message: string }>).map((m) => m.MessageId);
    assert.ok(ids.includes('Update.1.0.VerificationFailed'), ids.join());
    assert.match((t.Messages as Array<{ Message: string }>).at(-1)!.Message, /not trust/);
    assert.equal(await flashSha(bmc), flash, 'verification failed before a byte was written');
  } finally {
    await bmc.stop();
    await cleanup();
  }
});

test('multipart: parsed the same whichever way the body is cut into chunks; bounds and malformed bodies refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fwup-mp-'));
  try {
    const file = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff));
    // A payload that holds the start of a delimiter, to catch a parser that matches too early.
    file.write('\r\n--b0und', 100, 'latin1');
    const { body } = multipart('{"Targets":[]}', file);
    for (const step of [1, 2, 3, 7, 13, 64, body.length]) {
      const fh = await open(join(dir, `f${step}`), 'w+');
      const chunks = async function* () {
        for (let i = 0; i < body.length; i += step) yield body.subarray(i, i + step);
      };
      const r = await parseMultipart(chunks(), 'b0undary', 'UpdateFile', fh, { maxField: 1024, maxFile: 1024, maxParts: 4, maxHeaderBytes: 1024 });
      await fh.close();
      assert.equal(r.fields.get('UpdateParameters')!.toString(), '{"Targets":[]}', `step ${step}`);
      assert.deepEqual(r.file, { name: 'UpdateFile', filename: 'fw.fwup', size: 300 });
      assert.deepEqual(await readFile(join(dir, `f${step}`)), file, `step ${step}`);
    }
    const run = async (b: Buffer, limits = { maxField: 1024, maxFile: 100, maxParts: 4, maxHeaderBytes: 1024 }) => {
      const fh = await open(join(dir, 'x'), 'w+');
      try {
        return await parseMultipart((async function* () { yield b; })(), 'b0undary', 'UpdateFile', fh, limits);
      } finally {
        await fh.close();
      }
    };
    await assert.rejects(run(body), (e: unknown) => e instanceof MultipartError && e.status === 413, 'a file past maxFile');
    await assert.rejects(run(multipart('x'.repeat(2000), Buffer.from('a')).body), (e: unknown) => e instanceof MultipartError && e.status === 413);
    await assert.rejects(run(Buffer.from('--b0undary\r\nContent-Type: x\r\n\r\nabc\r\n--b0undary--\r\n')), /no Content-Disposition/);
    await assert.rejects(run(Buffer.from('garbage without a boundary')), /ends before its closing boundary/);
    const two = Buffer.from('--b0undary\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b0undary\r\nContent-Disposition: form-data; name="a"\r\n\r\n2\r\n--b0undary--\r\n');
    await assert.rejects(run(two), /is there twice/);
    assert.equal(multipartBoundary('multipart/form-data; boundary="abc def"'), 'abc def');
    assert.equal(multipartBoundary('application/json'), null);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bmc: connections are bounded in number: past 32 open ones, a new connection is closed at once', async () => {
  const { dir, cleanup } = await tempDir();
  const bmc = await startBmcMachine(dir);
  const port = Number(new URL(bmc.url).port);
  const open: ReturnType<typeof connect>[] = [];
  try {
    for (let i = 0; i < 32; i++) {
      const s = connect(port, '127.0.0.1');
      await new Promise<void>((ok, fail) => s.once('connect', () => ok()).once('error', fail));
      open.push(s);
    }
    const extra = connect(port, '127.0.0.1');
    const closedMs = await new Promise<number>((done) => {
      const t0 = Date.now();
      extra.once('close', () => done(Date.now() - t0));
      extra.on('error', () => {});
    });
    assert.ok(closedMs < 2000, `the 33rd connection was closed by the BMC (after ${closedMs} ms)`);
    for (const s of open) s.destroy();
    await new Promise((d) => setTimeout(d, 100));
    assert.equal((await call(bmc, 'GET', '/redfish/v1/', { auth: null })).status, 200, 'once they are gone, the BMC answers again');
  } finally {
    for (const s of open) s.destroy();
    await bmc.stop();
    await cleanup();
  }
});
