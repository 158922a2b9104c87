import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { fwup, json, tempDir, type RunResult } from './helpers/cli.js';
import { FIXTURES, startBmcMachine, type TestBmc } from './helpers/bmc.js';
import { selfSignedCert } from './helpers/http-server.js';
import { EXIT } from '../src/errors/exit-codes.js';

// fwup's own redfish: client against the emulated BMC (machine start --redfish --tls): the whole update
// through Redfish, warm and cold, and every refusal with the machine's flash unchanged.

const IMG2 = join(FIXTURES, 'images', 'fw-2.0.0-signed.fwup');
const IMG3 = join(FIXTURES, 'images', 'fw-3.0.0-signed.fwup');
const OTHER_KEY = join(FIXTURES, 'images', 'fw-2.0.0-other-key.fwup');

/* eslint-disable @typescript-eslint/no-explicit-any -- reports are read field by field */
type Doc = Record<string, any>;

function client(root: string, bmc: TestBmc, extra: Record<string, string> = {}) {
  const env = { FWUP_REDFISH_USER: bmc.user, FWUP_REDFISH_PASSWORD: bmc.password, XDG_STATE_HOME: join(root, 'state'), ...extra };
  const target = `redfish:${bmc.url}`;
  const tls = bmc.certFile ? ['--ca', bmc.certFile] : ['--allow-http'];
  return {
    target,
    run: (args: string[], more: { env?: Record<string, string>; tls?: string[] } = {}): Promise<RunResult> =>
      fwup([...args, '--target', target, ...(more.tls ?? tls)], { cwd: root, env: { ...env, ...more.env } }),
  };
}

async function flashSha(bmc: TestBmc): Promise<string> {
  return createHash('sha256').update(await readFile(join(bmc.dir, 'flash.img'))).digest('hex');
}

async function emu(root: string, bmc: TestBmc, what: 'status' | 'machine'): Promise<Doc> {
  const r = await fwup(what === 'status' ? ['status', '--json', '--target', bmc.target] : ['machine', 'status', '--json', '--target', bmc.target], { cwd: root });
  return json<Doc>(r);
}

test('redfish client: stage then warm apply (StartUpdate) over TLS; the live OS keeps running', async () => {
  const { dir, cleanup } = await tempDir();
  const bmc = await startBmcMachine(dir, { tls: true, cpus: 4 });
  try {
    const c = client(dir, bmc);
    let r = await c.run(['status', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const st = json<Doc>(r);
    assert.equal(st.kind, 'redfish');
    assert.equal(st.component.id, 'SystemFirmware');
    assert.equal(st.component.version, '1');
    assert.deepEqual(st.update.pushApplyTimes, ['Immediate', 'OnReset', 'OnStartUpdateRequest']);
    assert.equal(st.service.auth, 'session');
    assert.equal(st.system.powerState, 'On');

    const before = await emu(dir, bmc, 'machine');
    r = await c.run(['stage', IMG2, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const staged = json<Doc>(r);
    assert.equal(staged.details.method, 'multipart');
    assert.equal(staged.details.applyTime, 'OnStartUpdateRequest', 'the latest apply time the BMC offers: apply sets it off');
    assert.equal(staged.details.sentSha256, staged.image.fileSha256, 'the bytes sent are the bytes verified');
    assert.equal(staged.details.installed, false);
    assert.ok(staged.details.task.messages.some((m: Doc) => m.key === 'AwaitToActivate'));
    assert.equal((await emu(dir, bmc, 'status')).firmware.version, '1', 'staged, not installed');
    assert.equal((await emu(dir, bmc, 'status')).staged.version, '2.0.0', 'the BMC staged it through fwup\'s engine');

    const flash = await flashSha(bmc);
    r = await c.run(['apply', '--cold']);
    assert.equal(r.code, EXIT.TARGET, 'a reset would not set off an update that waits for StartUpdate');
    assert.match(r.stderr, /waits for UpdateService\.StartUpdate/);
    assert.equal(await flashSha(bmc), flash);

    r = await c.run(['apply', '--warm', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = json<Doc>(r);
    assert.equal(out.report.how, 'start-update');
    assert.equal(out.report.before.version, '1');
    assert.equal(out.report.after.version, '2.0.0');
    assert.deepEqual(out.report.checks.map((x: Doc) => [x.name, x.ok]), [['task', true], ['inventory', true], ['system', true]]);
    assert.ok(out.report.phases.some((p: Doc) => p.name === 'start-update'));
    const after = await emu(dir, bmc, 'machine');
    assert.equal(after.pid, before.pid, 'the same machine process');
    for (let cpu = 0; cpu < 4; cpu++) assert.ok(after.steps[cpu] > before.steps[cpu], `CPU ${cpu} kept its work (${before.steps[cpu]} -> ${after.steps[cpu]})`);
    assert.equal((await emu(dir, bmc, 'status')).firmware.version, '2.0.0');

    r = await c.run(['status', '--json']);
    assert.equal(json<Doc>(r).staged, null, 'apply consumed the request');
    r = await c.run(['history', '--json']);
    const h = json<Doc>(r).entries;
    assert.deepEqual(h.filter((e: Doc) => !e.action.startsWith('bmc task')).map((e: Doc) => [e.action, e.toDisplay]), [['stage', '2.0.0'], ['install', '2.0.0']]);
    assert.ok(h.some((e: Doc) => e.action.startsWith('bmc task') && e.statusName === 'Completed'), 'the BMC\'s task list is in the history');
  } finally {
    await bmc.stop();
    await cleanup();
  }
});

test('redfish client: OnReset refuses --warm, then --cold resets the host and installs', async () => {
  const { dir, cleanup } = await tempDir();
  const bmc = await startBmcMachine(dir, { tls: true });
  try {
    const c = client(dir, bmc);
    let r = await c.run(['stage', IMG3, '--apply-time', 'OnReset', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const staged = json<Doc>(r).details;
    assert.equal(staged.task.awaiting, 'reset');
    assert.deepEqual(staged.task.resetRequest, { uri: '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset', type: 'ForceRestart' });
    const flash = await flashSha(bmc);
    r = await c.run(['apply', '--warm']);
    assert.equal(r.code, EXIT.TARGET, r.stderr);
    assert.match(r.stderr, /only with a host reset .*ForceRestart/);
    assert.match(r.stderr, /apply --cold/);
    assert.equal(await flashSha(bmc), flash, 'a refused warm apply changes nothing');

    r = await c.run(['apply', '--cold', '--json', '--timeout', '60']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const rep = json<Doc>(r).report;
    assert.equal(rep.how, 'reset');
    assert.equal(rep.resetType, 'ForceRestart');
    assert.equal(rep.after.version, '3.0.0');
    assert.ok(rep.checks.every((x: Doc) => x.ok));
    assert.equal((await emu(dir, bmc, 'status')).firmware.version, '3.0.0');
  } finally {
    await bmc.stop();
    await cleanup();
  }
});

test('redfish client: Immediate installs at the push; SimpleUpdate through fwup\'s own image server', async () => {
  const { dir, cleanup } = await tempDir();
  const bmc = await startBmcMachine(dir, { tls: true });
  try {
    const c = client(dir, bmc);
    let r = await c.run(['stage', IMG2, '--apply-time', 'Immediate']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /installed 2\.0\.0 at once/);
    assert.match(r.stdout, /checks the outcome: the BMC installed it already/);
    assert.equal((await emu(dir, bmc, 'status')).firmware.version, '2.0.0');
    r = await c.run(['apply', '--warm', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(json<Doc>(r).report.how, 'immediate');

    r = await c.run(['stage', IMG3, '--push-method', 'simple-update', '--serve-address', '127.0.0.1', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const d = json<Doc>(r).details;
    assert.equal(d.method, 'simple-update');
    assert.equal(d.sentSha256, json<Doc>(r).image.fileSha256, 'fwup\'s server sent exactly the verified bytes');
    r = await c.run(['apply', '--warm', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal((await emu(dir, bmc, 'status')).firmware.version, '3.0.0');
  } finally {
    await bmc.stop();
    await cleanup();
  }
});

test('redfish client: refusals change nothing (credentials, TLS, http, a rejected image, dry run, unstage)', async () => {
  const { dir, cleanup } = await tempDir();
  const bmc = await startBmcMachine(dir, { tls: true });
  try {
    const c = client(dir, bmc);
    const flash = await flashSha(bmc);

    let r = await c.run(['stage', IMG2], { env: { FWUP_REDFISH_PASSWORD: 'wrong password' } });
    assert.equal(r.code, EXIT.PERMISSION, r.stderr);
    assert.match(r.stderr, /refused the account "operator" \(HTTP 401\)/);
    assert.doesNotMatch(r.stdout + r.stderr, /wrong password/, 'the password is never printed');

    r = await c.run(['status'], { env: { FWUP_REDFISH_USER: '', FWUP_REDFISH_PASSWORD: '' } });
    assert.equal(r.code, EXIT.PERMISSION);
    assert.match(r.stderr, /no BMC account/);

    const creds = join(dir, 'bmc.json');
    await writeFile(creds, JSON.stringify({ user: bmc.user, password: bmc.password }));
    await chmod(creds, 0o644);
    r = await c.run(['status', '--credentials', creds], { env: { FWUP_REDFISH_USER: '', FWUP_REDFISH_PASSWORD: '' } });
    assert.equal(r.code, EXIT.PERMISSION);
    assert.match(r.stderr, /mode 644/);
    await chmod(creds, 0o600);
    r = await c.run(['status', '--credentials', creds, '--json'], { env: { FWUP_REDFISH_USER: '', FWUP_REDFISH_PASSWORD: '' } });
    assert.equal(r.code, 0, r.stderr);

    r = await c.run(['status'], { tls: [] });
    assert.equal(r.code, EXIT.NETWORK, 'the self-signed certificate is not in the system store');
    assert.match(r.stderr, /certificate is not trusted/);
    const other = await selfSignedCert(dir);
    if (other) {
      r = await c.run(['status'], { tls: ['--ca', other.certPath] });
      assert.equal(r.code, EXIT.NETWORK, 'a CA that did not sign the BMC\'s certificate');
    }
    r = await c.run(['status'], { tls: ['--insecure'] });
    assert.equal(r.code, 0);
    assert.match(r.stderr, /--insecure: the certificate of .* is not verified/);
    r = await fwup(['status', '--target', bmc.url.replace('https:', 'redfish:http:')], { cwd: dir, env: { FWUP_REDFISH_USER: bmc.user, FWUP_REDFISH_PASSWORD: bmc.password } });
    assert.equal(r.code, EXIT.USAGE);
    assert.match(r.stderr, /plain http/);

    r = await c.run(['stage', OTHER_KEY, '--json']);
    assert.equal(r.code, EXIT.INVALID_IMAGE, r.stdout);
    const err = json<Doc>(r).error;
    assert.equal(err.code, 'BMC_VERIFICATION_FAILED');
    assert.match(err.message, /Verification of image 'UpdateFile'/);
    assert.equal((await emu(dir, bmc, 'status')).staged, null);

    r = await c.run(['stage', IMG2, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /POST\s+https:\/\/127\.0\.0\.1:\d+\/redfish\/v1\/SessionService\/Sessions\n\s+\{"UserName":"operator","Password":"\*\*\*"\}/);
    assert.match(r.stdout, /POST\s+https:\/\/127\.0\.0\.1:\d+\/redfish\/v1\/UpdateService\/upload \(96\.\d KiB\)/);
    assert.match(r.stdout, /DELETE https:\/\/127\.0\.0\.1:\d+\/redfish\/v1\/SessionService\/Sessions\//);
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(bmc.password));
    r = await c.run(['status', '--json']);
    assert.equal(json<Doc>(r).staged, null, 'a dry run records nothing');
    assert.equal(await flashSha(bmc), flash, 'every refusal above left the machine\'s flash as it was');

    // A staged update that waits is withdrawn on the BMC too.
    r = await c.run(['stage', IMG2, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await emu(dir, bmc, 'status')).staged.version, '2.0.0');
    r = await c.run(['unstage', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal((await emu(dir, bmc, 'status')).staged, null, 'the BMC cleared the machine\'s request');
    r = await c.run(['status', '--json']);
    assert.equal(json<Doc>(r).staged, null);
    r = await c.run(['apply', '--warm']);
    assert.equal(r.code, EXIT.NOT_FOUND);
    assert.equal((await emu(dir, bmc, 'status')).firmware.version, '1');
  } finally {
    await bmc.stop();
    await cleanup();
  }
});
