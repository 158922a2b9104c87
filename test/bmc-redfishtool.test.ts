import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fwup, json, tempDir, waitFor, type RunResult } from './helpers/cli.js';
import { startBmcMachine, type TestBmc } from './helpers/bmc.js';
import { needs, REDFISHTOOL } from './helpers/requirements.js';
import { machineUuid } from '../src/targets/emu/bmc/bmc-resources.js';

/*
 * DMTF redfishtool (the Debian package) against the emulated BMC over plain http. redfishtool has no
 * way to verify a TLS certificate: every request passes verify=False and urllib3's warnings are
 * switched off, so `-S Always` would be unverified TLS without a word. TLS is therefore not driven
 * here; `-S Never` keeps every request (credentials included) on the loopback http port.
 */

const SYSTEM = '/redfish/v1/Systems/1';
const RESET_TYPES = ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'PowerCycle'];

type Auth = 'Basic' | 'Session' | 'None';
interface Creds {
  auth?: Auth;
  password?: string;
  token?: string;
  /** No -u/-p at all (the unauthenticated service root). */
  anonymous?: boolean;
}

/** Run the real redfishtool against the BMC: -r host:port, http only, no proxy, a clean environment. */
function redfishtool(bmc: TestBmc, args: string[], c: Creds = {}): Promise<RunResult> {
  const base = ['-r', new URL(bmc.url).host, '-S', 'Never', '-n', '-T', '10'];
  const auth = c.anonymous ? [] : ['-A', c.auth ?? 'Basic', ...(c.token ? ['-t', c.token] : ['-u', bmc.user, '-p', c.password ?? bmc.password])];
  return new Promise((done, fail) => {
    const child = spawn('redfishtool', [...base, ...auth, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** redfishtool that must succeed; its stdout parsed as the JSON it printed. */
async function rftJson<T = Record<string, unknown>>(bmc: TestBmc, args: string[], c: Creds = {}): Promise<T> {
  const r = await redfishtool(bmc, args, c);
  assert.equal(r.code, 0, `redfishtool ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return json<T>(r);
}

interface ComputerSystem {
  '@odata.id': string;
  Id: string;
  PowerState: string;
  UUID: string;
  BiosVersion: string;
  ProcessorSummary: { Count: number };
  Actions: Record<string, { target: string; 'ResetType@Redfish.AllowableValues': string[] }>;
}

interface MachineStatus {
  running: boolean;
  pid: number;
  uptimeMs: number;
  powerState: string;
  steps: number[];
  firmware: { version: string };
}

/** `fwup machine status --json`, and the wall-clock time its answer was in hand. */
async function machineStatus(root: string, bmc: TestBmc): Promise<MachineStatus & { at: number }> {
  const r = await fwup(['machine', 'status', '--target', bmc.target, '--json'], { cwd: root });
  const at = Date.now();
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return { ...json<MachineStatus>(r), at };
}

/** Poll the system's PowerState through redfishtool (-P PowerState) until it reads `want`. */
async function waitPowerState(bmc: TestBmc, want: string, ms = 20_000): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + ms;
  for (;;) {
    const d = await rftJson<{ PowerState: string }>(bmc, ['-P', 'PowerState', 'Systems', '-I', '1']);
    seen.push(d.PowerState);
    if (d.PowerState === want) return seen;
    if (Date.now() > deadline) throw new Error(`PowerState never became ${want}: saw ${seen.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The machine service's pid (the BMC runs in it), from the redfish.json it wrote. */
async function servicePid(bmc: TestBmc): Promise<number> {
  return (JSON.parse(await readFile(join(bmc.dir, 'redfish.json'), 'utf8')) as { pid: number }).pid;
}

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  // A zombie nobody reaped has stopped writing too.
  return /^\d+ \(.*\) Z/.test(readFileSyncOr(`/proc/${pid}/stat`));
}

function readFileSyncOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Stop the machine (also one whose start timed out) and remove its directory. `machine stop` returns
 * once the pid file is gone, but the service still writes machine.log after that, and if the directory
 * is gone by then its shutdown throws and the process never exits: wait for the process to end (kill
 * it if it does not: it is this test's) before rm.
 */
async function stopAndClean(root: string, pid: number | null): Promise<void> {
  const dir = join(root, 'bmc');
  pid ??= Number(readFileSyncOr(join(dir, 'machine.pid')).trim()) || null;
  await fwup(['machine', 'stop', '--target', `emu:${dir}`], { cwd: root });
  if (pid !== null) {
    const p = pid;
    await waitFor(() => gone(p), 15_000, `the machine service (pid ${p}) to exit`).catch(() => {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* it ended meanwhile */
      }
    });
  }
  await rm(root, { recursive: true, force: true, maxRetries: 5 });
}

/** The OS was booted after `since` (wall clock): its uptime is shorter than the time since then. */
function bootedAfter(s: MachineStatus & { at: number }, since: number): boolean {
  return s.uptimeMs <= s.at - since;
}

test('redfishtool reads the service root, the system and the firmware inventory', async (t) => {
  if (!needs(t, REDFISHTOOL())) return;
  const { dir } = await tempDir();
  let pid: number | null = null;
  try {
    const bmc = await startBmcMachine(dir);
    pid = await servicePid(bmc);
    const created = JSON.parse(await readFile(join(bmc.dir, 'machine.json'), 'utf8')) as { createdAt: string };
    const uuid = machineUuid(created.createdAt);

    assert.deepEqual(await rftJson(bmc, ['versions'], { anonymous: true }), { v1: '/redfish/v1/' });
    const root = await rftJson<Record<string, unknown>>(bmc, ['root'], { anonymous: true });
    assert.equal(root['@odata.id'], '/redfish/v1/');
    assert.equal(root.RedfishVersion, '1.17.0');
    assert.equal(root.UUID, uuid, 'the UUID of this machine');
    assert.deepEqual(root.Systems, { '@odata.id': '/redfish/v1/Systems' });
    assert.deepEqual(root.Links, { Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' } });

    const coll = await rftJson<Record<string, unknown>>(bmc, ['Systems']);
    assert.equal(coll['@odata.id'], '/redfish/v1/Systems');
    assert.equal(coll['Members@odata.count'], 1);
    assert.deepEqual(coll.Members, [{ '@odata.id': SYSTEM }]);

    const list = await rftJson<{ Members: Array<{ Id: string; '@odata.id': string }> }>(bmc, ['Systems', 'list']);
    assert.deepEqual(list.Members, [{ Id: '1', '@odata.id': SYSTEM }]);

    // -I 1 (redfishtool reads every member and matches on Id) and -F (the first member) find the same system.
    for (const pick of [['-I', '1'], ['-F']]) {
      const sys: ComputerSystem = await rftJson<ComputerSystem>(bmc, ['Systems', ...pick]);
      assert.equal(sys['@odata.id'], SYSTEM, pick.join(' '));
      assert.equal(sys.Id, '1');
      assert.equal(sys.PowerState, 'On');
      assert.equal(sys.UUID, uuid);
      assert.equal(sys.BiosVersion, '1');
      assert.equal(sys.ProcessorSummary.Count, 2);
      const reset = sys.Actions['#ComputerSystem.Reset'];
      assert.ok(reset, 'a ComputerSystem.Reset action');
      assert.equal(reset.target, `${SYSTEM}/Actions/ComputerSystem.Reset`);
      assert.deepEqual(reset['ResetType@Redfish.AllowableValues'], RESET_TYPES);
    }
    assert.deepEqual(await rftJson(bmc, ['-P', 'PowerState', 'Systems', '-I', '1']), { PowerState: 'On' });

    const inv = await rftJson<{ Members: Array<{ '@odata.id': string }> }>(bmc, ['raw', 'GET', '/redfish/v1/UpdateService/FirmwareInventory']);
    assert.ok(inv.Members.some((m) => m['@odata.id'] === '/redfish/v1/UpdateService/FirmwareInventory/SystemFirmware'), JSON.stringify(inv));
    const fw = await rftJson<Record<string, unknown>>(bmc, ['raw', 'GET', '/redfish/v1/UpdateService/FirmwareInventory/SystemFirmware']);
    assert.equal(fw.Id, 'SystemFirmware');
    assert.equal(fw.Version, '1');
    assert.equal(fw.Updateable, true);
    assert.deepEqual(fw.Status, { State: 'Enabled', Health: 'OK' });
    assert.deepEqual(await rftJson(bmc, ['-P', 'Version', 'raw', 'GET', '/redfish/v1/UpdateService/FirmwareInventory/SlotA']), { Version: '1' });
  } finally {
    await stopAndClean(dir, pid);
  }
});

test('redfishtool resets the system: ForceRestart boots a fresh OS, ForceOff powers off, On powers on', async (t) => {
  if (!needs(t, REDFISHTOOL())) return;
  const { dir } = await tempDir();
  let pid: number | null = null;
  try {
    const bmc = await startBmcMachine(dir);
    pid = await servicePid(bmc);
    const before = await machineStatus(dir, bmc);
    assert.equal(before.running, true);
    assert.equal(before.powerState, 'On');

    // redfishtool checks the type against ResetType@Redfish.AllowableValues and sends nothing for Nmi.
    let r = await redfishtool(bmc, ['Systems', '-I', '1', 'reset', 'Nmi']);
    assert.equal(r.code, 8, r.stdout + r.stderr);
    assert.match(r.stderr, /not supported by the remote service \(via @Redfish\.AllowableValues\)/);

    const restartAt = Date.now();
    r = await redfishtool(bmc, ['Systems', '-I', '1', 'reset', 'ForceRestart']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, '', 'a 204 reset prints nothing');
    await waitPowerState(bmc, 'On');
    const restarted = await machineStatus(dir, bmc);
    assert.equal(restarted.running, true);
    assert.equal(restarted.powerState, 'On');
    assert.equal(restarted.pid, before.pid, 'the machine service (and its BMC) kept running');
    assert.ok(bootedAfter(restarted, restartAt), `a fresh OS: up ${restarted.uptimeMs} ms, the reset was ${restarted.at - restartAt} ms ago (before: up ${before.uptimeMs} ms)`);
    assert.equal(restarted.steps.length, 2);
    assert.equal(restarted.firmware.version, '1');

    r = await redfishtool(bmc, ['Systems', '-I', '1', 'reset', 'ForceOff']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await waitPowerState(bmc, 'Off');
    const off = await machineStatus(dir, bmc);
    assert.equal(off.running, true, 'powered off, the BMC still answers');
    assert.equal(off.powerState, 'Off');
    assert.deepEqual(off.steps, [], 'no CPU runs');
    const sys = await rftJson<{ Status: { State: string } }>(bmc, ['Systems', '-I', '1']);
    assert.equal(sys.Status.State, 'StandbyOffline');

    const onAt = Date.now();
    r = await redfishtool(bmc, ['Systems', '-I', '1', 'reset', 'On']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await waitPowerState(bmc, 'On');
    const on = await machineStatus(dir, bmc);
    assert.equal(on.powerState, 'On');
    assert.equal(on.pid, before.pid);
    assert.equal(on.steps.length, 2);
    assert.ok(bootedAfter(on, onAt), `booted by On: up ${on.uptimeMs} ms, On was ${on.at - onAt} ms ago`);
  } finally {
    await stopAndClean(dir, pid);
  }
});

test('redfishtool authenticates with sessions and Basic; a wrong password is refused and changes nothing', async (t) => {
  if (!needs(t, REDFISHTOOL())) return;
  const { dir } = await tempDir();
  let pid: number | null = null;
  try {
    const bmc = await startBmcMachine(dir);
    pid = await servicePid(bmc);
    const sessionsCount = async () => (await rftJson<{ 'Members@odata.count': number }>(bmc, ['SessionService', 'Sessions'], { auth: 'Basic' }))['Members@odata.count'];

    // -A Session: redfishtool logs in (POST Sessions), uses X-Auth-Token, and deletes its session at exit.
    assert.deepEqual(await rftJson(bmc, ['-P', 'PowerState', 'Systems', '-I', '1'], { auth: 'Session' }), { PowerState: 'On' });
    assert.deepEqual(await rftJson(bmc, ['-P', 'PowerState', 'Systems', '-I', '1'], { auth: 'Basic' }), { PowerState: 'On' });
    assert.equal(await sessionsCount(), 0, 'redfishtool logged its session out');

    // A session kept across invocations: login, use the token (-t), list it, log it out; the token is dead then.
    const login = await rftJson<{ SessionId: string; SessionLocation: string; 'X-Auth-Token': string }>(bmc, ['SessionService', 'login'], { auth: 'Session' });
    assert.equal(login.SessionLocation, `/redfish/v1/SessionService/Sessions/${login.SessionId}`);
    assert.ok(login['X-Auth-Token'].length >= 16, 'a token');
    const token = { auth: 'Session' as const, token: login['X-Auth-Token'] };
    assert.deepEqual(await rftJson(bmc, ['-P', 'Version', 'raw', 'GET', '/redfish/v1/UpdateService/FirmwareInventory/SystemFirmware'], token), { Version: '1' });
    const listed = await rftJson<{ Members: Array<{ Id: string; UserName: string }> }>(bmc, ['SessionService', 'Sessions', 'list'], token);
    assert.deepEqual(listed.Members.map((m) => [m.Id, m.UserName]), [[login.SessionId, bmc.user]]);
    let r = await redfishtool(bmc, ['SessionService', 'logout', '-i', login.SessionId], token);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(await sessionsCount(), 0);
    r = await redfishtool(bmc, ['Systems', '-I', '1'], token);
    assert.equal(r.code, 5, r.stdout + r.stderr);
    assert.match(r.stderr, /status_code: 401 -- Unauthorized/);

    // Wrong password (Basic, Session) and no credentials: refused, and the machine is not reset.
    const before = await machineStatus(dir, bmc);
    const triedAt = Date.now();
    r = await redfishtool(bmc, ['Systems', '-I', '1', 'reset', 'ForceRestart'], { auth: 'Basic', password: 'wrong password!' });
    assert.equal(r.code, 8, r.stdout + r.stderr);
    assert.match(r.stderr, /status_code: 401 -- Unauthorized/);
    r = await redfishtool(bmc, ['Systems', '-I', '1', 'reset', 'ForceOff'], { auth: 'Session', password: 'wrong password!' });
    assert.equal(r.code, 8, r.stdout + r.stderr);
    assert.match(r.stderr, /status_code: 401 -- Unauthorized/);
    assert.match(r.stderr, /Session Login Failed/);
    r = await redfishtool(bmc, ['Systems', '-I', '1', 'reset', 'ForceOff'], { auth: 'None' });
    assert.equal(r.code, 8, r.stdout + r.stderr);
    assert.match(r.stderr, /status_code: 401 -- Unauthorized/);

    const after = await machineStatus(dir, bmc);
    assert.equal(after.powerState, 'On');
    assert.equal(after.pid, before.pid);
    assert.ok(!bootedAfter(after, triedAt), `the same OS: up ${after.uptimeMs} ms, the refused resets began ${after.at - triedAt} ms ago`);
    assert.equal(await sessionsCount(), 0, 'a refused login leaves no session');
    assert.deepEqual(await rftJson(bmc, ['-P', 'PowerState', 'Systems', '-I', '1']), { PowerState: 'On' });
    const log = await readFile(join(bmc.dir, 'machine.log'), 'utf8');
    assert.doesNotMatch(log, /bmc: reset/, 'the BMC ran no reset');
  } finally {
    await stopAndClean(dir, pid);
  }
});
