import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fwup, json, tempDir, waitFor, type RunResult } from './helpers/cli.js';
import { FIXTURES, startBmcMachine, type TestBmc } from './helpers/bmc.js';
import { FWUPDTOOL, needs } from './helpers/requirements.js';

/*
 * fwupd's redfish plugin (fwupdtool, Debian's fwupd 2.0.x) against the emulated BMC. Without an SMBIOS
 * type 42 record fwupd finds the BMC through the [redfish] section of fwupd.conf (Uri, Username,
 * Password, CACheck). Every directory fwupdtool reads its config from or writes to is moved into the
 * test's temp dir through the variables fwupd honours (FWUPD_SYSCONFDIR, FWUPD_LOCALSTATEDIR,
 * CACHE_DIRECTORY, STATE_DIRECTORY, CONFIGURATION_DIRECTORY, LOCALCONF_DIRECTORY, RUNTIME_DIRECTORY,
 * FWUPD_RUNDIR, FWUPD_LOCKDIR): nothing under /etc, /var or /run is touched, and no daemon, D-Bus,
 * udev or polkit is needed (`--plugins redfish` loads only that plugin).
 */

const IMG2 = join(FIXTURES, 'images', 'fw-2.0.0-signed.fwup');
const IMG3 = join(FIXTURES, 'images', 'fw-3.0.0-signed.fwup');
const SYSTEM_FIRMWARE = '/redfish/v1/UpdateService/FirmwareInventory/SystemFirmware';
const FWUPDTOOL_TIMEOUT_MS = 30_000;

interface FwupdDevice {
  Name: string;
  DeviceId: string;
  Guid?: string[];
  Plugin: string;
  Protocols?: string[];
  Flags: string[];
  Vendor?: string;
  Version?: string;
  VersionLowest?: string;
}

interface FwupdHome {
  dir: string;
  env: Record<string, string>;
}

/**
 * A private fwupd installation root for one BMC: fwupd.conf with the [redfish] section (0640: the
 * plugin keeps secrets there), optional quirk files, and the environment that points fwupd at it.
 */
async function fwupdHome(root: string, bmc: TestBmc, o: { name?: string; password?: string; caCheck?: boolean; quirks?: string } = {}): Promise<FwupdHome> {
  const dir = join(root, o.name ?? 'fwupd');
  const d = {
    etc: join(dir, 'etc'), conf: join(dir, 'etc', 'fwupd'), var: join(dir, 'var'), state: join(dir, 'var', 'lib', 'fwupd'),
    localconf: join(dir, 'var', 'etc', 'fwupd'), cache: join(dir, 'cache'), run: join(dir, 'run'), lock: join(dir, 'lock'), home: join(dir, 'home'),
  };
  // systemd's *_DIRECTORY variables are only used when the directory exists: create them all.
  for (const p of Object.values(d)) await mkdir(p, { recursive: true });
  const conf = join(d.conf, 'fwupd.conf');
  await writeFile(conf, ['[fwupd]', '', '[redfish]', `Uri=${bmc.url}`, `Username=${bmc.user}`, `Password=${o.password ?? bmc.password}`, `CACheck=${o.caCheck ? 'true' : 'false'}`, ''].join('\n'));
  await chmod(conf, 0o640);
  if (o.quirks) {
    await mkdir(join(d.state, 'quirks.d'), { recursive: true });
    await writeFile(join(d.state, 'quirks.d', 'fwup-emu.quirk'), o.quirks);
  }
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: d.home, XDG_CACHE_HOME: join(d.home, '.cache'), LC_ALL: 'C.UTF-8',
    FWUPD_SYSCONFDIR: d.etc, CONFIGURATION_DIRECTORY: d.conf, FWUPD_LOCALSTATEDIR: d.var, STATE_DIRECTORY: d.state, LOCALCONF_DIRECTORY: d.localconf,
    CACHE_DIRECTORY: d.cache, RUNTIME_DIRECTORY: d.run, FWUPD_RUNDIR: d.run, FWUPD_LOCKDIR: d.lock,
  };
  return { dir, env };
}

/** Run the real fwupdtool with only the redfish plugin, in `home`'s environment (bounded in time). */
function fwupdtool(home: FwupdHome, args: string[]): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn('fwupdtool', ['--plugins', 'redfish', ...args], { cwd: home.dir, env: home.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), FWUPDTOOL_TIMEOUT_MS);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
  });
}

const show = (r: RunResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

async function devices(home: FwupdHome): Promise<FwupdDevice[]> {
  const r = await fwupdtool(home, ['get-devices', '--json']);
  assert.equal(r.code, 0, show(r));
  return json<{ Devices: FwupdDevice[] }>(r).Devices;
}

/** The device fwupd made of the BMC's SystemFirmware: the one carrying the machine's image type GUID. */
function systemFirmware(list: FwupdDevice[], guid: string): FwupdDevice {
  const hits = list.filter((d) => d.Guid?.includes(guid));
  assert.equal(hits.length, 1, `exactly one device has GUID ${guid}: ${JSON.stringify(list, null, 1)}`);
  return hits[0]!;
}

/** GET a resource of the BMC as an operator (HTTP Basic), independent of fwupd. */
async function redfishGet(bmc: TestBmc, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${bmc.url}${path}`, { headers: { Authorization: `Basic ${Buffer.from(`${bmc.user}:${bmc.password}`).toString('base64')}` } });
  assert.equal(res.status, 200, `GET ${path}`);
  return (await res.json()) as Record<string, unknown>;
}

async function machineStatus(root: string, bmc: TestBmc): Promise<{ firmware: { version: string }; machine: { imageTypeId: string } }> {
  const r = await fwup(['status', '--target', bmc.target, '--json'], { cwd: root });
  assert.equal(r.code, 0, r.stderr);
  return json(r);
}

/** The newest task of the BMC (what fwupd's push created). */
async function lastTask(bmc: TestBmc): Promise<Record<string, unknown>> {
  const list = (await redfishGet(bmc, '/redfish/v1/TaskService/Tasks')) as { Members: Array<{ '@odata.id': string }> };
  assert.ok(list.Members.length > 0, 'the BMC has a task');
  return redfishGet(bmc, list.Members.at(-1)!['@odata.id']);
}

/** Whether a process still exists (the machine service runs detached, re-parented to init). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Run `fn` against a fresh BMC machine in a temp dir. The machine is stopped even when its start
 * failed (a start that timed out may still come up), and the dir is removed only once the machine's
 * process has exited: the service writes its last log line after it removed its pid file, and a dir
 * deleted under it leaves the process running.
 */
async function withBmc(opts: { tls?: boolean }, fn: (dir: string, bmc: TestBmc) => Promise<void>): Promise<void> {
  const { dir, cleanup } = await tempDir('fwup-fwupd-');
  let started = false;
  try {
    const bmc = await startBmcMachine(dir, opts);
    started = true;
    await fn(dir, bmc);
  } finally {
    // A start that timed out leaves `machine run` coming up: give it time to, then stop it.
    const deadline = Date.now() + (started ? 0 : 20_000);
    for (;;) {
      const r = await fwup(['machine', 'stop', '--target', `emu:${join(dir, 'bmc')}`, '--json'], { cwd: dir });
      if (r.code === 0) {
        const pid = json<{ pid: number }>(r).pid;
        await waitFor(() => !alive(pid), 15_000, `the machine (pid ${pid}) to exit`).catch((e: unknown) => console.error(String(e)));
        break;
      }
      if (Date.now() >= deadline) break;
      await new Promise((ok) => setTimeout(ok, 500));
    }
    await cleanup();
  }
}

test('fwupdtool get-devices lists the BMC firmware inventory through fwupd.conf [redfish]; a wrong password is refused', async (t) => {
  if (!needs(t, FWUPDTOOL())) return;
  await withBmc({}, async (dir, bmc) => {
    const guid = (await machineStatus(dir, bmc)).machine.imageTypeId.toLowerCase();
    const home = await fwupdHome(dir, bmc);
    const list = await devices(home);

    const sys = systemFirmware(list, guid);
    assert.equal(sys.Name, 'System firmware');
    assert.equal(sys.Version, '1');
    assert.equal(sys.Plugin, 'redfish');
    assert.equal(sys.Vendor, 'fwup');
    assert.deepEqual(sys.Protocols, ['org.dmtf.redfish']);
    assert.ok(sys.Flags.includes('updatable'), `updatable: ${sys.Flags.join(',')}`);
    const item = await redfishGet(bmc, SYSTEM_FIRMWARE);
    assert.equal(sys.VersionLowest, item.LowestSupportedVersion, 'LowestSupportedVersion became the lowest version');

    // One device per inventory member, named and versioned as the BMC says; only SystemFirmware updates.
    const inv = (await redfishGet(bmc, '/redfish/v1/UpdateService/FirmwareInventory')) as { Members: Array<{ '@odata.id': string }> };
    const members = await Promise.all(inv.Members.map((m) => redfishGet(bmc, m['@odata.id'])));
    assert.deepEqual(list.map((d) => d.Name).sort(), members.map((m) => m.Name as string).sort());
    for (const m of members) {
      const d = list.find((x) => x.Name === m.Name)!;
      assert.equal(d.Version, m.Version ?? undefined, `${String(m.Id)}: version`);
      assert.equal(d.Flags.includes('updatable'), m.Updateable === true, `${String(m.Id)}: updatable`);
    }

    // The service root is open, the inventory is not: fwupd gets 401 and reports it.
    const bad = await fwupdHome(dir, bmc, { name: 'fwupd-bad', password: 'wrong horse battery' });
    const r = await fwupdtool(bad, ['get-devices', '--json', '--verbose']);
    assert.notEqual(r.code, 0, show(r));
    assert.equal(json<{ Error: { Message: string } }>(r).Error.Message, 'No detected devices');
    assert.match(r.stderr, /failed to coldplug using redfish: authentication failed/);
  });
});

test('fwupdtool install-blob pushes fw-2.0.0 through MultipartHttpPushUri: the BMC and the machine run 2.0.0', async (t) => {
  if (!needs(t, FWUPDTOOL())) return;
  await withBmc({}, async (dir, bmc) => {
    const guid = (await machineStatus(dir, bmc)).machine.imageTypeId.toLowerCase();
    const home = await fwupdHome(dir, bmc);
    const before = systemFirmware(await devices(home), guid);
    assert.equal(before.Version, '1');

    const r = await fwupdtool(home, ['install-blob', IMG2, before.DeviceId, '--json']);
    assert.equal(r.code, 0, show(r));

    // fwupd waited on the task monitor until the task completed: the BMC ran a multipart push.
    const task = await lastTask(bmc);
    assert.equal(task.Name, 'multipart HTTP push update');
    assert.equal(task.TaskState, 'Completed');
    assert.ok((task.Messages as Array<{ MessageId: string }>).some((m) => m.MessageId === 'Update.1.0.UpdateSuccessful'), 'UpdateSuccessful');
    assert.equal((await redfishGet(bmc, SYSTEM_FIRMWARE)).Version, '2.0.0');
    assert.equal((await machineStatus(dir, bmc)).firmware.version, '2.0.0');
    const after = systemFirmware(await devices(home), guid);
    assert.equal(after.DeviceId, before.DeviceId, 'the same device');
    assert.equal(after.Version, '2.0.0');
  });
});

/** A cabinet as the LVFS ships them, built by fwupdtool itself: the image plus its metainfo. */
async function buildCabinet(home: FwupdHome, image: string, version: string, guid: string): Promise<string> {
  const fw = join(home.dir, 'firmware.bin');
  await copyFile(image, fw);
  const bytes = await readFile(fw);
  const sum = (alg: string) => createHash(alg).update(bytes).digest('hex');
  const metainfo = join(home.dir, 'firmware.metainfo.xml');
  await writeFile(metainfo, `<?xml version="1.0" encoding="UTF-8"?>
<component type="firmware">
  <id>org.fwup.emu.SystemFirmware.firmware</id>
  <name>fwup emulated machine</name>
  <summary>System firmware of the fwup emulated machine</summary>
  <description><p>A signed test release.</p></description>
  <provides><firmware type="flashed">${guid}</firmware></provides>
  <metadata_license>CC0-1.0</metadata_license>
  <project_license>MIT</project_license>
  <developer_name>fwup</developer_name>
  <custom><value key="LVFS::UpdateProtocol">org.dmtf.redfish</value></custom>
  <releases>
    <release version="${version}" date="2026-01-01" urgency="medium">
      <checksum type="sha1" filename="firmware.bin" target="content">${sum('sha1')}</checksum>
      <checksum type="sha256" filename="firmware.bin" target="content">${sum('sha256')}</checksum>
      <description><p>Version ${version}.</p></description>
    </release>
  </releases>
</component>
`);
  const cab = join(home.dir, `fwup-emu-${version}.cab`);
  const r = await fwupdtool(home, ['build-cabinet', cab, fw, metainfo]);
  assert.equal(r.code, 0, show(r));
  return cab;
}

// fwupd 2.0 checks after an install that the device reports the release's version, but its Redfish
// devices do not re-read their inventory member after an Immediate update. The plugin's documented
// quirk for a BMC that restarts on its own (manager-reset + no-manager-reset-request) makes fwupd
// re-read the whole inventory after the update without asking for Manager.Reset, so fwupd's own
// check then runs against what the BMC really reports.
const REREAD_QUIRK = '[REDFISH\\VENDOR_fwup&ID_SystemFirmware]\nFlags = manager-reset,no-manager-reset-request\n';

test('fwupdtool install of a cabinet (build-cabinet) updates 1 -> 3.0.0 and fwupd confirms the version it reads back', async (t) => {
  if (!needs(t, FWUPDTOOL())) return;
  await withBmc({}, async (dir, bmc) => {
    const guid = (await machineStatus(dir, bmc)).machine.imageTypeId.toLowerCase();
    const home = await fwupdHome(dir, bmc, { quirks: REREAD_QUIRK });
    const cab = await buildCabinet(home, IMG3, '3.0.0', guid);
    assert.equal(systemFirmware(await devices(home), guid).Version, '1');

    const r = await fwupdtool(home, ['install', cab, '--json']);
    assert.equal(r.code, 0, show(r));

    assert.equal((await lastTask(bmc)).TaskState, 'Completed');
    assert.equal((await redfishGet(bmc, SYSTEM_FIRMWARE)).Version, '3.0.0');
    assert.equal((await machineStatus(dir, bmc)).firmware.version, '3.0.0');
    assert.equal(systemFirmware(await devices(home), guid).Version, '3.0.0');

    // fwupd's history: the release it installed, recorded as a success (FWUPD_UPDATE_STATE_SUCCESS = 2).
    const h = await fwupdtool(home, ['get-history', '--json']);
    assert.equal(h.code, 0, show(h));
    const hist = json<{ Devices: Array<FwupdDevice & { UpdateState: number; Releases: Array<{ Version: string; AppstreamId: string }> }> }>(h).Devices;
    assert.equal(hist.length, 1);
    assert.equal(hist[0]!.UpdateState, 2);
    assert.equal(hist[0]!.Releases[0]!.Version, '3.0.0');
    assert.equal(hist[0]!.Releases[0]!.AppstreamId, 'org.fwup.emu.SystemFirmware.firmware');
  });
});

test('fwupdtool over https: CACheck=false lists the BMC, CACheck=true refuses its self-signed certificate', async (t) => {
  if (!needs(t, FWUPDTOOL())) return;
  await withBmc({ tls: true }, async (dir, bmc) => {
    assert.match(bmc.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const guid = (await machineStatus(dir, bmc)).machine.imageTypeId.toLowerCase();
    const sys = systemFirmware(await devices(await fwupdHome(dir, bmc)), guid);
    assert.equal(sys.Version, '1');
    assert.ok(sys.Flags.includes('updatable'));

    // fwupd takes CAs only from the system store (libcurl's default bundle), which a test must not edit.
    const strict = await fwupdHome(dir, bmc, { name: 'fwupd-strict', caCheck: true });
    const r = await fwupdtool(strict, ['get-devices', '--json', '--verbose']);
    assert.notEqual(r.code, 0, show(r));
    assert.equal(json<{ Error: { Message: string } }>(r).Error.Message, 'No detected devices');
    assert.match(r.stderr, /failed to startup using redfish: failed to request https:\/\/127\.0\.0\.1:\d+\/redfish\/v1\/: SSL peer certificate or SSH remote key was not OK/);
  });
});
