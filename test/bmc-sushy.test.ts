import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fwup, json, tempDir, REPO_ROOT } from './helpers/cli.js';
import { FIXTURES, startBmcMachine, type TestBmc } from './helpers/bmc.js';
import { DEBIAN_PYTHON, SUSHY, needs } from './helpers/requirements.js';

// OpenStack sushy (Debian's python3-sushy) against the emulated BMC: the client script prints what
// sushy saw as one JSON document, and exits 1 with {"error": …} when sushy raised.
const SCRIPT = join(REPO_ROOT, 'test', 'clients', 'sushy_update.py');
const SYSTEM_FIRMWARE = '/redfish/v1/UpdateService/FirmwareInventory/SystemFirmware';
const RESET_VALUES = ['ForceOff', 'ForceRestart', 'GracefulRestart', 'GracefulShutdown', 'On', 'PowerCycle'];

interface SushyRun<T> {
  code: number;
  doc: T;
  stderr: string;
}

/** What sushy_update.py prints (its snake_case names are sushy's attribute names). */
interface Message { message_id: string; message_args: string[]; severity: string; message: string }
interface Item { version: string | null; updateable: boolean; software_id: string | null; health: string }
interface Inspect {
  root: { redfish_version: string; uuid: string; product: string };
  auth: { class: string; session: string | null; x_auth_token: boolean };
  system: { identity: string; power_state: string; bios_version: string; reset_values: string[] };
  update_service: { identity: string; service_enabled: boolean; simple_update_target: string };
  inventory: Record<string, Item>;
  sessions: string[];
  tasks: Record<string, string>;
  firmware_version: string;
}
interface Update {
  firmware_before: string;
  firmware_after: string;
  targets: string[];
  accepted: { status_code: number; location: string; body_odata_id: string; body_task_state: string };
  sushy_task_monitor_uri: string;
  sushy_wait: { seconds: number; status_code: number; is_processing: boolean; task_state_at_return: string };
  monitor: { uri: string; polls_202: number; retry_after: string[]; final_status_code: number; final_task_state: string };
  task: { identity: string; task_state: string; task_status: string; percent_complete: number; task_monitor: string; messages: Message[] };
  task_summary: Record<string, string>;
}
interface Failure { error: { type: string; module: string; message: string; status_code: number | null } }

/** Run the sushy client (asynchronously: the image server lives in this process). */
function sushy<T>(bmc: TestBmc, args: string[], opts: { auth?: string; password?: string; verify?: string } = {}): Promise<SushyRun<T>> {
  const argv = [SCRIPT, '--url', bmc.url, '--user', bmc.user, '--password', opts.password ?? bmc.password, '--auth', opts.auth ?? 'session', '--verify', opts.verify ?? 'true', ...args];
  return new Promise((done, fail) => {
    // A bare environment: no proxy, no REQUESTS_CA_BUNDLE that would change what verify=True trusts.
    const child = spawn(DEBIAN_PYTHON, argv, { env: { PATH: '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => {
      try {
        done({ code: code ?? -1, doc: JSON.parse(stdout) as T, stderr });
      } catch {
        fail(new Error(`sushy_update.py printed no JSON (exit ${code}):\n${stdout}\n${stderr}`));
      }
    });
  });
}

/** The images the BMC fetches for SimpleUpdate, over plain HTTP on loopback; it records what was asked. */
async function imageServer(): Promise<{ url: (name: string) => string; requests: string[]; close: () => Promise<void> }> {
  const served = new Set(['fw-2.0.0-signed.fwup', 'fw-2.0.0-other-key.fwup']);
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const name = (req.url ?? '').replace(/^\//, '');
    if (req.method !== 'GET' || !served.has(name)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    createReadStream(join(FIXTURES, 'images', name)).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  return {
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    requests,
    close: () => new Promise<void>((ok) => {
      server.close(() => ok());
      server.closeAllConnections();
    }),
  };
}

async function firmwareVersion(root: string, bmc: TestBmc): Promise<string> {
  const r = await fwup(['status', '--target', bmc.target, '--json'], { cwd: root });
  assert.equal(r.code, 0, r.stderr);
  return json<{ firmware: { version: string } }>(r).firmware.version;
}

async function machineStatus(root: string, bmc: TestBmc): Promise<{ running: boolean; pid: number }> {
  return json<{ running: boolean; pid: number }>(await fwup(['machine', 'status', '--target', bmc.target, '--json'], { cwd: root }));
}

const ids = (messages: Message[]) => messages.map((m) => m.message_id);

test('sushy: service root, system, UpdateService and firmware inventory, with a session and with Basic auth', async (t) => {
  if (!needs(t, SUSHY())) return;
  const { dir, cleanup } = await tempDir();
  const bmc = await startBmcMachine(dir);
  try {
    for (const auth of ['session', 'basic', 'session-or-basic']) {
      const r = await sushy<Inspect>(bmc, ['inspect'], { auth });
      assert.equal(r.code, 0, `${auth}: ${r.stderr}`);
      const d = r.doc;
      assert.equal(d.root.redfish_version, '1.17.0');
      assert.match(d.root.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(d.system.identity, '1');
      assert.equal(d.system.power_state, 'On');
      assert.deepEqual(d.system.reset_values, RESET_VALUES);
      assert.equal(d.update_service.identity, 'UpdateService');
      assert.equal(d.update_service.simple_update_target, '/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate');
      assert.deepEqual(Object.keys(d.inventory).sort(), ['Recovery', 'SlotA', 'SlotB', 'SystemFirmware']);
      assert.deepEqual(d.inventory.SystemFirmware, { version: '1', updateable: true, software_id: '7F3B0B7E-5A59-4B5E-9C61-5E1A2F0F7775', health: 'OK' });
      assert.equal(d.firmware_version, '1');
      assert.deepEqual(d.tasks, {});
      if (auth === 'basic') {
        assert.deepEqual(d.auth, { class: 'BasicAuth', session: null, x_auth_token: false });
        assert.deepEqual(d.sessions, [], 'Basic auth opens no session, and the earlier clients closed theirs');
      } else {
        assert.equal(d.auth.class, auth === 'session' ? 'SessionAuth' : 'SessionOrBasicAuth');
        assert.equal(d.auth.x_auth_token, true, `${auth}: sushy logged in with a session`);
        assert.match(d.auth.session ?? '', /^\/redfish\/v1\/SessionService\/Sessions\/[0-9a-f-]{36}$/);
        assert.deepEqual(d.sessions, [d.auth.session], 'the BMC lists exactly the session sushy holds');
      }
    }
  } finally {
    await bmc.stop();
    await cleanup();
  }
});

test('sushy: SimpleUpdate from an HTTP server installs 2.0.0 on the running machine', async (t) => {
  if (!needs(t, SUSHY())) return;
  const { dir, cleanup } = await tempDir();
  const images = await imageServer();
  // The image server is closed even when the machine does not start (an open server keeps the run alive).
  const bmc = await startBmcMachine(dir).catch(async (e: unknown) => {
    await images.close();
    await cleanup();
    throw e;
  });
  try {
    const before = await machineStatus(dir, bmc);
    assert.equal(before.running, true);
    const r = await sushy<Update>(bmc, ['update', '--image-uri', images.url('fw-2.0.0-signed.fwup')]);
    assert.equal(r.code, 0, r.stderr);
    const d = r.doc;
    assert.equal(d.firmware_before, '1');
    assert.deepEqual(d.targets, [SYSTEM_FIRMWARE]);
    assert.equal(d.accepted.status_code, 202);
    assert.match(d.accepted.location, /^\/redfish\/v1\/TaskService\/TaskMonitors\/\d+$/);
    assert.match(d.accepted.body_odata_id, /^\/redfish\/v1\/TaskService\/Tasks\/\d+$/);
    // sushy takes the Task's @odata.id from the 202 body as its monitor; a Task answers 200, so its
    // wait() returns at the first poll. The test follows the real monitor and the Task instead.
    assert.equal(d.sushy_task_monitor_uri, d.accepted.body_odata_id);
    assert.equal(d.sushy_wait.status_code, 200);
    assert.equal(d.sushy_wait.is_processing, false);
    t.diagnostic(`sushy's TaskMonitor.wait() returned after ${d.sushy_wait.seconds} s with the task ${d.sushy_wait.task_state_at_return}`);
    assert.equal(d.monitor.uri, d.accepted.location);
    assert.equal(d.monitor.final_status_code, 200);
    assert.equal(d.monitor.final_task_state, 'Completed');
    if (d.monitor.polls_202 > 0) assert.deepEqual(d.monitor.retry_after, ['1']);

    assert.equal(d.task.task_state, 'Completed');
    assert.equal(d.task.task_status, 'OK');
    assert.equal(d.task.percent_complete, 100);
    assert.equal(d.task.task_monitor, d.accepted.location);
    const ok = d.task.messages.find((m) => m.message_id === 'Update.1.0.UpdateSuccessful');
    assert.ok(ok, `UpdateSuccessful among ${ids(d.task.messages).join(', ')}`);
    assert.deepEqual(ok.message_args, [SYSTEM_FIRMWARE, '2.0.0']);
    assert.deepEqual(d.task_summary, { [d.task.identity]: 'Completed' });
    assert.equal(d.firmware_after, '2.0.0');
    assert.deepEqual(images.requests, ['GET /fw-2.0.0-signed.fwup'], 'the BMC fetched the image once');

    assert.equal(await firmwareVersion(dir, bmc), '2.0.0');
    const after = await machineStatus(dir, bmc);
    assert.equal(after.running, true);
    assert.equal(after.pid, before.pid, 'the machine kept running through the update');
  } finally {
    await bmc.stop();
    await images.close();
    await cleanup();
  }
});

test('sushy: SimpleUpdate of an image signed by an untrusted key ends in Exception, VerificationFailed', async (t) => {
  if (!needs(t, SUSHY())) return;
  const { dir, cleanup } = await tempDir();
  const images = await imageServer();
  // The image server is closed even when the machine does not start (an open server keeps the run alive).
  const bmc = await startBmcMachine(dir).catch(async (e: unknown) => {
    await images.close();
    await cleanup();
    throw e;
  });
  try {
    const r = await sushy<Update>(bmc, ['update', '--image-uri', images.url('fw-2.0.0-other-key.fwup')]);
    assert.equal(r.code, 0, r.stderr);
    const d = r.doc;
    assert.equal(d.accepted.status_code, 202);
    assert.equal(d.monitor.final_status_code, 200);
    assert.equal(d.monitor.final_task_state, 'Exception');
    assert.equal(d.task.task_state, 'Exception');
    assert.equal(d.task.task_status, 'Critical');
    const failed = d.task.messages.find((m) => m.message_id === 'Update.1.0.VerificationFailed');
    assert.ok(failed, `VerificationFailed among ${ids(d.task.messages).join(', ')}`);
    assert.deepEqual(failed.message_args, [images.url('fw-2.0.0-other-key.fwup'), SYSTEM_FIRMWARE]);
    assert.equal(failed.severity, 'Critical');
    assert.ok(!ids(d.task.messages).includes('Update.1.0.UpdateSuccessful'));
    assert.equal(d.firmware_before, '1');
    assert.equal(d.firmware_after, '1');
    assert.equal(await firmwareVersion(dir, bmc), '1');
    assert.equal((await machineStatus(dir, bmc)).running, true);
  } finally {
    await bmc.stop();
    await images.close();
    await cleanup();
  }
});

test('sushy: a wrong password is an AccessError (401) and leaves no session, task or change', async (t) => {
  if (!needs(t, SUSHY())) return;
  const { dir, cleanup } = await tempDir();
  const bmc = await startBmcMachine(dir);
  try {
    // Session login fails at the POST; Basic (and sushy's fallback to it) at the first resource read.
    const where = { session: 'POST', basic: 'GET', 'session-or-basic': 'GET' } as const;
    for (const auth of ['session', 'basic', 'session-or-basic'] as const) {
      const r = await sushy<Failure>(bmc, ['inspect'], { auth, password: 'not the password' });
      assert.equal(r.code, 1, `${auth}: sushy must fail`);
      assert.equal(r.doc.error.type, 'AccessError', `${auth}: ${r.doc.error.message}`);
      assert.equal(r.doc.error.module, 'sushy.exceptions');
      assert.equal(r.doc.error.status_code, 401);
      assert.match(r.doc.error.message, new RegExp(`^HTTP ${where[auth]} http://127\\.0\\.0\\.1:\\d+/redfish/v1/\\S+ returned code 401\\. Base\\.1\\.\\d+\\.NoValidSession`));
      assert.match(r.stderr, /sushy\.exceptions\.AccessError/);
    }
    const ok = await sushy<Inspect>(bmc, ['inspect'], { auth: 'basic' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(ok.doc.sessions, [], 'no session was opened by the refused logins');
    assert.deepEqual(ok.doc.tasks, {});
    assert.equal(ok.doc.firmware_version, '1');
    assert.equal(await firmwareVersion(dir, bmc), '1');
  } finally {
    await bmc.stop();
    await cleanup();
  }
});

test('sushy: over TLS, verify=<the BMC certificate> works and verify=True (system store) fails', async (t) => {
  if (!needs(t, SUSHY())) return;
  const { dir, cleanup } = await tempDir();
  const bmc = await startBmcMachine(dir, { tls: true });
  try {
    assert.match(bmc.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(bmc.certFile);
    const good = await sushy<Inspect>(bmc, ['inspect'], { verify: bmc.certFile });
    assert.equal(good.code, 0, good.stderr);
    assert.equal(good.doc.system.power_state, 'On');
    assert.equal(good.doc.firmware_version, '1');
    assert.equal(good.doc.auth.x_auth_token, true);

    const bad = await sushy<Failure>(bmc, ['inspect'], { verify: 'true' });
    assert.equal(bad.code, 1, 'the self-signed certificate is not in the system store');
    assert.equal(bad.doc.error.type, 'ConnectionError');
    assert.equal(bad.doc.error.module, 'sushy.exceptions');
    assert.match(bad.doc.error.message, /SSLError.*CERTIFICATE_VERIFY_FAILED/);
  } finally {
    await bmc.stop();
    await cleanup();
  }
});
