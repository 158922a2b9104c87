import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FIXTURES, startBmcMachine, type TestBmc } from './helpers/bmc.js';
import { REPO_ROOT, fwup, json, tempDir, waitFor } from './helpers/cli.js';
import { serveBytes, startServer, type TestServer } from './helpers/http-server.js';
import { ANSIBLE, needs } from './helpers/requirements.js';

/**
 * Ansible (the Debian package: ansible-core with community.general) drives the emulated BMC with the
 * redfish_info and redfish_command modules, through real ansible-playbook runs on localhost. The
 * playbooks are in test/clients/ansible; their results come back through the json stdout callback.
 */

const PLAYBOOKS = join(REPO_ROOT, 'test', 'clients', 'ansible');
const MONITOR = /^\/redfish\/v1\/TaskService\/TaskMonitors\/\d+$/;
const RESET = '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset';
const SYSTEM_FIRMWARE = '/redfish/v1/UpdateService/FirmwareInventory/SystemFirmware';

interface Message {
  MessageId: string;
  MessageArgs?: string[];
}
interface UpdateStatus {
  status: string | null;
  handle: string | null;
  resets_requested: Array<{ uri: string; type: string }>;
  messages: Message[];
}
interface Software {
  Id: string;
  Version: string | null;
  Updateable?: boolean;
  SoftwareId?: string;
}
interface TaskResult {
  changed?: boolean;
  failed?: boolean;
  skipped?: boolean;
  msg?: string;
  redfish_facts?: { firmware?: { ret: boolean; entries: Software[] }; update_status?: UpdateStatus };
  return_values?: { update_status?: UpdateStatus };
}
interface PlaybookRun {
  code: number;
  output: string;
  tasks: Map<string, TaskResult>;
  stats: Record<string, number>;
}

/** Run a playbook of test/clients/ansible with everything Ansible writes inside `work`. */
async function playbook(work: string, name: string, vars: Record<string, string>): Promise<PlaybookRun> {
  const home = join(work, 'ansible');
  await mkdir(home, { recursive: true });
  // Extra vars from a file: the password stays off the command line.
  const varsFile = join(home, `${name}.vars.json`);
  await writeFile(varsFile, JSON.stringify(vars), { mode: 0o600 });
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LC_ALL: 'C.UTF-8',
    ANSIBLE_HOME: home,
    ANSIBLE_LOCAL_TEMP: join(home, 'tmp'),
    ANSIBLE_REMOTE_TEMP: join(home, 'remote-tmp'),
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_STDOUT_CALLBACK: 'json',
    ANSIBLE_LOCALHOST_WARNING: 'False',
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
    // Local modules read from a pipe instead of temp files: fewer writes per task.
    ANSIBLE_PIPELINING: 'True',
  };
  const args = ['-i', join(PLAYBOOKS, 'inventory.yml'), join(PLAYBOOKS, name), '-e', `@${varsFile}`];
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((done, fail) => {
    const child = spawn('ansible-playbook', args, { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
  });
  const output = `ansible-playbook ${name} exited ${r.code}\n${r.stdout}\n${r.stderr}`;
  let out: { plays: Array<{ tasks: Array<{ task: { name: string }; hosts: { localhost: TaskResult } }> }>; stats: { localhost: Record<string, number> } };
  try {
    out = JSON.parse(r.stdout) as typeof out;
  } catch {
    throw new Error(`the json callback printed no JSON: ${output}`);
  }
  const tasks = new Map<string, TaskResult>();
  for (const play of out.plays) for (const t of play.tasks) tasks.set(t.task.name, t.hosts.localhost);
  return { code: r.code, output, tasks, stats: out.stats.localhost ?? {} };
}

function task(run: PlaybookRun, name: string): TaskResult {
  const t = run.tasks.get(name);
  assert.ok(t, `task "${name}" ran: ${run.output}`);
  return t;
}

const status = (t: TaskResult) => (t.redfish_facts?.update_status ?? t.return_values?.update_status)!;
const ids = (m: Message[]) => m.map((x) => x.MessageId);

function firmware(t: TaskResult): Software[] {
  assert.equal(t.failed ?? false, false, t.msg);
  assert.equal(t.redfish_facts?.firmware?.ret, true);
  return t.redfish_facts!.firmware!.entries;
}

function systemFirmware(t: TaskResult): Software {
  const e = firmware(t).find((x) => x.Id === 'SystemFirmware');
  assert.ok(e, 'the inventory lists SystemFirmware');
  return e;
}

/** The HTTP server the BMC fetches the ImageURI from (it records every request). */
async function imageServer(file: string): Promise<{ server: TestServer; uri: string }> {
  const server = await startServer();
  server.routes.set(`/${file}`, serveBytes(await readFile(join(FIXTURES, 'images', file))));
  return { server, uri: server.url(`/${file}`) };
}

interface Rig {
  dir: string;
  bmc: TestBmc;
  img: { server: TestServer; uri: string };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * A machine with its BMC (TLS: the modules always speak https and do not verify the certificate) and an
 * image server, torn down afterwards. `machine stop` returns once the control socket is gone, before
 * the service has finished shutting down; removing its directory then can strand the process, so the
 * teardown waits for the machine's pid to exit first.
 */
async function withBmc(image: string, fn: (rig: Rig) => Promise<void>): Promise<void> {
  const { dir, cleanup } = await tempDir('fwup-ansible-');
  const img = await imageServer(image);
  let bmc: TestBmc | null = null;
  let pid = 0;
  try {
    bmc = await startBmcMachine(dir, { tls: true });
    pid = Number((await readFile(join(bmc.dir, 'machine.pid'), 'utf8')).trim());
    await fn({ dir, bmc, img });
  } finally {
    await bmc?.stop();
    if (pid > 0) await waitFor(() => !alive(pid), 15_000, `the machine (pid ${pid}) to exit`);
    await img.server.close();
    await cleanup();
  }
}

const bmcVars = (bmc: TestBmc, password = bmc.password) => ({ baseuri: new URL(bmc.url).host, user: bmc.user, password });

async function fwupStatus(root: string, bmc: TestBmc) {
  return json<{ machine: { imageTypeId: string }; firmware: { version: string }; staged: unknown }>(await fwup(['status', '--target', bmc.target, '--json'], { cwd: root }));
}

async function machineStatus(root: string, bmc: TestBmc) {
  return json<{ running: boolean; pid: number; steps: number[] }>(await fwup(['machine', 'status', '--target', bmc.target, '--json'], { cwd: root }));
}

test('ansible: GetFirmwareInventory, then an OnReset SimpleUpdate that PerformRequestedOperations completes with a reset (cold)', async (t) => {
  if (!needs(t, ANSIBLE())) return;
  await withBmc('fw-2.0.0-signed.fwup', async ({ dir, bmc, img }) => {
    const before = await fwupStatus(dir, bmc);
    const run = await playbook(dir, 'update.yml', { ...bmcVars(bmc), image_uri: img.uri, apply_time: 'OnReset' });
    assert.equal(run.code, 0, run.output);

    // The inventory as community.general reads it.
    assert.deepEqual(firmware(task(run, 'inventory before')).map((e) => [e.Id, e.Version]), [['SystemFirmware', '1'], ['SlotA', '1'], ['SlotB', null], ['Recovery', '1']]);
    const fw = systemFirmware(task(run, 'inventory before'));
    assert.equal(fw.Updateable, true);
    assert.equal(fw.SoftwareId, before.machine.imageTypeId);

    // SimpleUpdate answers with the task monitor at once; the BMC fetches and verifies the image in the task.
    const su = task(run, 'SimpleUpdate');
    assert.equal(su.changed, true);
    const started = status(su);
    assert.match(started.handle ?? '', MONITOR);
    assert.equal(started.status, 'New');
    assert.deepEqual(started.resets_requested, []);
    assert.deepEqual(ids(started.messages), ['TaskEvent.1.0.TaskStarted']);

    // Staged and verified, the task waits for the reset named by Base.ResetRequired.
    const waiting = status(task(run, 'wait for the update to ask for a reset or to end'));
    assert.equal(waiting.status, 'Running');
    assert.equal(waiting.handle, started.handle);
    assert.deepEqual(waiting.resets_requested, [{ uri: RESET, type: 'ForceRestart' }]);
    assert.deepEqual(ids(waiting.messages).slice(-2), ['Update.1.0.AwaitToActivate', 'Base.1.16.ResetRequired']);
    const meanwhile = firmware(task(run, 'inventory while the update waits'));
    assert.equal(meanwhile.find((e) => e.Id === 'SystemFirmware')?.Version, '1', 'nothing is installed before the reset');
    assert.equal(meanwhile.find((e) => e.Id === 'Staged')?.Version, '2.0.0');

    const pro = task(run, 'PerformRequestedOperations');
    assert.equal(pro.skipped ?? false, false);
    assert.equal(pro.changed, true, 'the module reset the system');

    const done = status(task(run, 'wait for the update to end'));
    assert.equal(done.status, 'Completed');
    assert.equal(done.handle, null);
    const last = done.messages.at(-1);
    assert.deepEqual([last?.MessageId, last?.MessageArgs], ['Update.1.0.UpdateSuccessful', [SYSTEM_FIRMWARE, '2.0.0']]);
    // The reset was done: the finished task asks for nothing more, and a second run resets nothing.
    assert.deepEqual(done.resets_requested, []);
    assert.equal(task(run, 'PerformRequestedOperations again').changed, false);

    const after = firmware(task(run, 'inventory after'));
    assert.equal(after.find((e) => e.Id === 'SystemFirmware')?.Version, '2.0.0');
    assert.equal(after.some((e) => e.Id === 'Staged'), false);
    assert.equal(run.stats.failures, 0);
    assert.equal(run.stats.changed, 2);

    const s = await fwupStatus(dir, bmc);
    assert.equal(s.firmware.version, '2.0.0');
    assert.equal(s.staged, null);
    assert.deepEqual(img.server.requests.map((r) => r.path), ['/fw-2.0.0-signed.fwup'], 'the BMC fetched the image once');
    const log = await readFile(join(bmc.dir, 'machine.log'), 'utf8');
    assert.match(log, /install cold: 1 -> 2\.0\.0, ok/, 'the reset ran the cold apply');
    assert.deepEqual(log.match(/bmc: reset .*/g), [`bmc: reset ForceRestart (installed the update of task ${started.handle!.split('/').pop()})`], 'one reset, the one that installed the update');
  });
});

test('ansible: an Immediate SimpleUpdate installs warm, the OS keeps running, no reset is asked for', async (t) => {
  if (!needs(t, ANSIBLE())) return;
  await withBmc('fw-3.0.0-signed.fwup', async ({ dir, bmc, img }) => {
    const m1 = await machineStatus(dir, bmc);
    assert.equal(m1.running, true);
    const run = await playbook(dir, 'update.yml', { ...bmcVars(bmc), image_uri: img.uri, apply_time: 'Immediate' });
    assert.equal(run.code, 0, run.output);

    assert.equal(systemFirmware(task(run, 'inventory before')).Version, '1');
    const started = status(task(run, 'SimpleUpdate'));
    assert.match(started.handle ?? '', MONITOR);
    assert.equal(started.status, 'New');
    const waited = status(task(run, 'wait for the update to ask for a reset or to end'));
    assert.equal(waited.status, 'Completed');
    assert.deepEqual(waited.resets_requested, []);
    assert.equal(task(run, 'inventory while the update waits').skipped, true);
    assert.equal(task(run, 'PerformRequestedOperations').skipped, true, 'nothing to perform');
    const done = status(task(run, 'wait for the update to end'));
    assert.equal(done.status, 'Completed');
    assert.equal(done.handle, null);
    assert.deepEqual(ids(done.messages).slice(-2), ['Update.1.0.ApplyingOnComponent', 'Update.1.0.UpdateSuccessful']);
    assert.ok(!ids(done.messages).includes('Base.1.16.ResetRequired'));
    assert.equal(systemFirmware(task(run, 'inventory after')).Version, '3.0.0');
    assert.equal(task(run, 'PerformRequestedOperations again').changed, false);
    assert.equal(run.stats.failures, 0);

    assert.equal((await fwupStatus(dir, bmc)).firmware.version, '3.0.0');
    const m2 = await machineStatus(dir, bmc);
    assert.equal(m2.running, true);
    assert.equal(m2.pid, m1.pid, 'the same machine process kept running');
    m1.steps.forEach((n, c) => assert.ok(m2.steps[c]! > n, `CPU ${c} kept its work and went on (${n} -> ${m2.steps[c]})`));
    const log = await readFile(join(bmc.dir, 'machine.log'), 'utf8');
    assert.match(log, /install warm: 1 -> 3\.0\.0, ok/);
    assert.doesNotMatch(log, /bmc: reset/);
  });
});

test('ansible: with a wrong password both modules fail with the 401 and the machine is unchanged', async (t) => {
  if (!needs(t, ANSIBLE())) return;
  await withBmc('fw-2.0.0-signed.fwup', async ({ dir, bmc, img }) => {
    const run = await playbook(dir, 'bad-credentials.yml', { ...bmcVars(bmc, 'not the password'), image_uri: img.uri });
    assert.equal(run.code, 0, `both failures are ignored by the play: ${run.output}`);
    const refused = `HTTP Error 401 on GET request to '${bmc.url}/redfish/v1/UpdateService', extended message: 'There is no valid session established with the implementation.'`;
    for (const name of ['inventory', 'SimpleUpdate']) {
      const r = task(run, name);
      assert.equal(r.failed, true, `${name} failed`);
      assert.equal(r.msg, refused);
    }
    assert.equal(run.stats.ignored, 2);
    assert.equal(run.stats.changed, 0);

    assert.deepEqual(img.server.requests, [], 'the BMC fetched nothing');
    const s = await fwupStatus(dir, bmc);
    assert.equal(s.firmware.version, '1');
    assert.equal(s.staged, null);
  });
});
