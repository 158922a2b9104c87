import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { join } from 'node:path';
import { fwup, json, tempDir, type RunResult } from './helpers/cli.js';
import { FIXTURES } from './helpers/bmc.js';
import { selfSignedCert } from './helpers/http-server.js';
import { startFakeBmc, type FakeBmc, type Profile, type Recorded } from './helpers/fake-bmc.js';
import { DMTF_BIOS, DMTF_RESET, bmcweb, idrac, ilo, noSessions, resetRequired, scripted, synchronous, updateMsg } from './helpers/bmc-profiles.js';
import { EXIT } from '../src/errors/exit-codes.js';

// fwup's redfish: client, through the real CLI, against the recorded response shapes of real BMC families
// (test/helpers/bmc-profiles.ts) served by a fake BMC on 127.0.0.1: what fwup sends, in which order,
// and what it concludes from each vendor's answers.

const IMG = join(FIXTURES, 'images', 'fw-2.0.0-signed.fwup');
const SHA = createHash('sha256').update(readFileSync(IMG)).digest('hex');
const SIZE = statSync(IMG).size;

/* eslint-disable @typescript-eslint/no-explicit-any -- reports are read field by field */
type Doc = Record<string, any>;

interface World {
  bmc: FakeBmc;
  dir: string;
  target: string;
  run(args: string[], o?: { env?: Record<string, string>; creds?: boolean; conn?: string[] }): Promise<RunResult>;
  close(): Promise<void>;
}

async function world(p: Profile, o: { tls?: boolean } = {}): Promise<World> {
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

const ok = (r: RunResult) => assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
const failed = (r: RunResult, exit: number, code: string): Doc => {
  assert.equal(r.code, exit, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  const e = json<Doc>(r).error;
  assert.equal(e.code, code);
  return e;
};
const line = (x: Recorded) => `${x.method} ${x.path} ${x.status}`;
const posts = (b: FakeBmc, path: string) => b.log.filter((x) => x.method === 'POST' && x.path === path.replace(/\/$/, ''));
const checks = (rep: Doc) => rep.checks.map((c: Doc) => [c.name, c.ok]);
const ALL_OK = [['task', true], ['inventory', true], ['system', true]];

/** Every session fwup opened it deleted, and the conversation ended with that DELETE. */
function sessionsClosed(b: FakeBmc, sessions: string): void {
  const opened = b.log.filter((x) => x.method === 'POST' && x.path === sessions.replace(/\/$/, '') && x.status === 201).length;
  const deleted = b.log.filter((x) => x.method === 'DELETE' && x.path.startsWith(`${sessions.replace(/\/$/, '')}/`) && x.status === 204).length;
  assert.ok(opened > 0, 'fwup logged in with a session');
  assert.equal(deleted, opened, 'every session was deleted');
  assert.equal(b.log.at(-1)!.method, 'DELETE', `the last request ends the session (${line(b.log.at(-1)!)})`);
}

async function status(w: World): Promise<Doc> {
  const r = await w.run(['status']);
  ok(r);
  return json<Doc>(r);
}

test('OpenBMC bmcweb: multipart, Task body + …/Tasks/0/Monitor (202 then 204); warm refused for the host firmware, cold via ForceRestart', async () => {
  const p = bmcweb(SHA);
  const w = await world(p);
  try {
    let r = await w.run(['stage', IMG]);
    ok(r);
    const s = json<Doc>(r);
    assert.equal(s.details.method, 'multipart');
    assert.equal(s.details.component, p.component, 'bios_active: related to …/Systems/system/Bios, not the BMC image');
    assert.equal(s.details.applyTime, 'Immediate', 'bmcweb declares only Immediate');
    assert.equal(s.details.task.uri, '/redfish/v1/TaskService/Tasks/0');
    assert.equal(s.details.task.monitor, null, 'the monitor is dropped once it answered 204 (bmcweb removes it)');
    assert.equal(s.details.task.state, 'Completed');
    assert.deepEqual(s.details.task.messages.map((m: Doc) => m.key), ['TaskStarted', 'TaskProgressChanged', 'TaskProgressChanged', 'TaskCompletedOK']);
    assert.equal(s.details.installed, false, 'ResetRequiredOnUpdate: written, not running');
    assert.deepEqual(s.staged.flags, ['AWAITS_RESET']);
    assert.equal(s.details.sentSha256, SHA);
    assert.deepEqual(w.bmc.received, { params: { Targets: [p.component], '@Redfish.OperationApplyTime': 'Immediate' }, sha256: SHA, fileName: 'fw-2.0.0-signed.fwup' });
    const up = posts(w.bmc, p.upload.path);
    assert.equal(up.length, 1);
    assert.deepEqual(up[0]!.parts, ['UpdateParameters', 'UpdateFile']);
    assert.ok(up[0]!.bytes > SIZE && up[0]!.bytes < SIZE + 1024, `the multipart body carries the image once (${up[0]!.bytes} bytes)`);
    assert.equal(up[0]!.status, 202);
    // The monitor until its single 204, then the Task for the outcome; never the monitor after its 204.
    assert.deepEqual(w.bmc.log.filter((x) => x.path.startsWith('/redfish/v1/TaskService/Tasks/0')).map(line), [
      'GET /redfish/v1/TaskService/Tasks/0/Monitor 202', 'GET /redfish/v1/TaskService/Tasks/0/Monitor 202', 'GET /redfish/v1/TaskService/Tasks/0/Monitor 202',
      'GET /redfish/v1/TaskService/Tasks/0/Monitor 204', 'GET /redfish/v1/TaskService/Tasks/0 200',
    ]);
    sessionsClosed(w.bmc, p.sessions!);
    assert.equal(w.bmc.version(), '1.0.0');

    r = await w.run(['apply', '--warm']);
    const e = failed(r, EXIT.TARGET, 'TARGET_UNSUPPORTED');
    assert.match(e.message, /bios_active has ResetRequiredOnUpdate; the inventory still shows 1\.0\.0/);
    assert.match(e.hint, /fwup apply --cold --target redfish:http:\/\/127\.0\.0\.1:\d+/);
    assert.equal(posts(w.bmc, p.resetPath).length, 0, 'a refused warm apply resets nothing');

    const before = w.bmc.log.length;
    r = await w.run(['apply', '--cold']);
    ok(r);
    const a = json<Doc>(r).report;
    assert.deepEqual([a.mode, a.how, a.resetType, a.before.version, a.after.version, a.powerState], ['cold', 'reset', 'ForceRestart', '1.0.0', '2.0.0', 'On']);
    assert.deepEqual(checks(a), ALL_OK);
    const reset = posts(w.bmc, p.resetPath);
    assert.equal(reset.length, 1);
    assert.deepEqual([reset[0]!.json, reset[0]!.status], [{ ResetType: 'ForceRestart' }, 200]);
    const after = w.bmc.log.slice(w.bmc.log.indexOf(reset[0]!)).filter((x) => x.path === p.system);
    assert.ok(after.length >= 3, `fwup read the system until it was On again (${after.length} reads; two show Off)`);
    assert.equal(w.bmc.log.slice(before).filter((x) => x.path.includes('/TaskService/')).length, 0, 'a finished task is not polled again');
    sessionsClosed(w.bmc, p.sessions!);
    assert.equal((await status(w)).staged, null);
  } finally {
    await w.close();
  }
});

test('Dell iDRAC9 over TLS: Location is the Task (JID_…), 202 then 200; "server reboot pending" + ResetRequired PowerCycle; the inventory Id changes with the version', async (t) => {
  const p = idrac(SHA);
  const w = await world(p, { tls: true });
  if (!w.target.startsWith('redfish:https:')) t.diagnostic('no openssl for a test certificate: the iDRAC profile runs over plain http');
  try {
    let r = await w.run(['stage', IMG]);
    ok(r);
    const s = json<Doc>(r);
    const jid = '/redfish/v1/TaskService/Tasks/JID_774205342218';
    assert.equal(s.details.component, p.component, 'BIOS, not "System CPLD" nor the iDRAC');
    assert.equal(s.details.applyTime, 'OnReset');
    assert.deepEqual(w.bmc.received.params, { Targets: [p.component], '@Redfish.OperationApplyTime': 'OnReset' });
    assert.equal(w.bmc.received.sha256, SHA);
    assert.deepEqual([s.details.task.monitor, s.details.task.uri, s.details.task.state, s.details.task.percent], [jid, jid, 'Completed', 100]);
    assert.deepEqual(s.details.task.resetRequest, { uri: p.resetPath, type: 'PowerCycle' });
    assert.deepEqual(s.details.task.messages.map((m: Doc) => m.key), ['RED002', 'ResetRequired']);
    assert.equal(s.details.task.messages[0].message, 'Job completed, server reboot pending');
    assert.deepEqual(s.staged.flags, ['AWAITS_RESET']);
    assert.equal(s.details.installed, false);
    assert.deepEqual(w.bmc.log.filter((x) => x.path.startsWith('/redfish/v1/TaskService')).map(line), [`GET ${jid} 202`, `GET ${jid} 202`, `GET ${jid} 200`]);
    sessionsClosed(w.bmc, p.sessions!);

    r = await w.run(['apply', '--warm']);
    assert.match(failed(r, EXIT.TARGET, 'TARGET_UNSUPPORTED').message, /its task asks for PowerCycle/);
    assert.equal(posts(w.bmc, p.resetPath).length, 0);

    const before = w.bmc.log.length;
    r = await w.run(['apply', '--cold']);
    ok(r);
    const a = json<Doc>(r).report;
    assert.deepEqual([a.how, a.resetType, a.before.version, a.after.version], ['reset', 'PowerCycle', '1.0.0', '2.0.0']);
    assert.deepEqual(checks(a), ALL_OK);
    assert.deepEqual(posts(w.bmc, p.resetPath).map((x) => [x.json, x.status]), [[{ ResetType: 'PowerCycle' }, 204]]);
    assert.equal(w.bmc.log.slice(before).filter((x) => x.path === jid).length, 0, 'iDRAC deletes a finished Task: fwup does not ask for it');
    sessionsClosed(w.bmc, p.sessions!);
    const st = await status(w);
    assert.equal(st.component.id, 'Installed-159-2.0.0');
    assert.equal(st.staged, null);
  } finally {
    await w.close();
  }
});

test('HPE iLO: no push URI, so SimpleUpdate from fwup\'s image server; iLO answers 200 at once and fetches afterwards; the bytes it got are the verified ones', async () => {
  const p = ilo(SHA);
  const w = await world(p);
  try {
    let r = await w.run(['stage', IMG]);
    ok(r);
    const s = json<Doc>(r);
    assert.equal(s.details.method, 'simple-update');
    assert.equal(s.details.component, '/redfish/v1/UpdateService/FirmwareInventory/2/', '"System ROM", not "System Programmable Logic Device"');
    const body = w.bmc.received.params!;
    assert.match(String(body.ImageURI), /^http:\/\/127\.0\.0\.1:\d+\/fwup-[0-9a-f]{24}\/fw-2\.0\.0-signed\.fwup$/);
    assert.deepEqual(body, { ImageURI: body.ImageURI, TransferProtocol: 'HTTP', Targets: [p.component] });
    assert.deepEqual(w.bmc.fetches, [{ url: body.ImageURI, status: 200, sha256: SHA, error: null }], 'iLO fetched the image once, before fwup stopped serving it');
    assert.equal(s.details.sentSha256, SHA);
    assert.deepEqual([s.details.task.state, s.details.task.monitor, s.details.task.uri], ['Completed', null, null]);
    assert.deepEqual(s.details.task.messages.map((m: Doc) => m.id), ['Base.1.18.Success'], 'the Success iLO wraps in an "error" object');
    assert.equal(s.details.installed, true);
    const gone = await new Promise<string>((done) => get(String(body.ImageURI), (res) => done(String(res.statusCode))).on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message)));
    assert.equal(gone, 'ECONNREFUSED', 'the image server is stopped once the BMC has the image');
    sessionsClosed(w.bmc, p.sessions!);
    assert.ok(w.bmc.log.filter((x) => x.method === 'DELETE').every((x) => x.path.startsWith('/redfish/v1/SessionService/Sessions/')), 'the absolute Location became the DELETE path');

    r = await w.run(['apply', '--warm']);
    ok(r);
    const a = json<Doc>(r).report;
    assert.deepEqual([a.how, a.before.version, a.after.version, a.expected], ['immediate', 'U54 v1.0.0 (03/14/2024)', 'U54 v2.0.0 (12/01/2026)', '2.0.0']);
    assert.deepEqual(checks(a), ALL_OK);
    assert.equal(posts(w.bmc, p.resetPath).length, 0);
    sessionsClosed(w.bmc, p.sessions!);
  } finally {
    await w.close();
  }
});

test('no session service: the login is 404, every request carries HTTP Basic (from --credentials 0600); a bare monitor, then the operation\'s own 200', async () => {
  const p = noSessions(SHA);
  const w = await world(p);
  try {
    const file = join(w.dir, 'bmc.cred');
    await writeFile(file, `${p.user}\n${p.password}\n`, { mode: 0o600 });
    let r = await w.run(['stage', IMG, '--credentials', file], { creds: false });
    ok(r);
    const s = json<Doc>(r);
    assert.equal(s.details.component, DMTF_BIOS);
    assert.equal(s.details.applyTime, null, 'no apply time declared: none sent');
    assert.deepEqual(w.bmc.received.params, { Targets: [DMTF_BIOS] });
    assert.deepEqual([s.details.task.monitor, s.details.task.uri, s.details.task.state], [null, null, 'Completed'], 'the monitor gave its final answer: nothing left to poll');
    assert.deepEqual(s.details.task.messages.map((m: Doc) => m.key), ['UpdateSuccessful']);
    assert.equal(s.details.installed, true);
    assert.deepEqual(w.bmc.log.filter((x) => x.path.startsWith('/redfish/v1/TaskMonitors')).map(line), [
      'GET /redfish/v1/TaskMonitors/9a7c 202', 'GET /redfish/v1/TaskMonitors/9a7c 202', 'GET /redfish/v1/TaskMonitors/9a7c 202', 'GET /redfish/v1/TaskMonitors/9a7c 200',
    ]);
    const logins = posts(w.bmc, '/redfish/v1/SessionService/Sessions');
    assert.ok(logins.length >= 1 && logins.every((x) => x.status === 404 && x.auth === 'none'));
    const rest = w.bmc.log.filter((x) => x.path !== '/redfish/v1' && !logins.includes(x));
    assert.ok(rest.length > 5);
    for (const x of rest) {
      assert.equal(x.headers.authorization, 'Basic <secret>', line(x));
      assert.equal(x.headers['x-auth-token'], undefined, line(x));
    }
    assert.equal(w.bmc.log.filter((x) => x.method === 'DELETE').length, 0, 'no session, nothing to delete');

    r = await w.run(['apply', '--warm', '--credentials', file], { creds: false });
    ok(r);
    const a = json<Doc>(r).report;
    assert.deepEqual([a.how, a.before.version, a.after.version], ['immediate', '1.0.0', '2.0.0']);
    assert.deepEqual(checks(a), ALL_OK);
  } finally {
    await w.close();
  }
});

test('a synchronous BMC: the HTTP push answers 200 with @Message.ExtendedInfo, or 204, and no task; fwup polls nothing', async () => {
  for (const code of [200, 204] as const) {
    const p = synchronous(SHA, code);
    const w = await world(p);
    try {
      let r = await w.run(['stage', IMG]);
      ok(r);
      const s = json<Doc>(r);
      assert.equal(s.details.method, 'http-push');
      const up = posts(w.bmc, p.upload.path);
      assert.deepEqual(up.map((x) => [x.bytes, x.status, x.headers['content-type']]), [[SIZE, code, 'application/octet-stream']]);
      assert.equal(w.bmc.received.sha256, SHA);
      assert.deepEqual([s.details.task.state, s.details.task.monitor, s.details.task.uri], ['Completed', null, null]);
      assert.deepEqual(s.details.task.messages.map((m: Doc) => m.key), code === 200 ? ['Success', 'UpdateSuccessful'] : []);
      assert.deepEqual([s.details.installed, s.staged.flags], [true, ['INSTALLED']]);
      assert.equal(w.bmc.log.filter((x) => x.path.includes('Task')).length, 0);
      sessionsClosed(w.bmc, p.sessions!);
      r = await w.run(['apply', '--warm']);
      ok(r);
      const a = json<Doc>(r).report;
      assert.deepEqual([a.how, a.after.version, a.task.state], ['immediate', '2.0.0', 'Completed']);
      assert.deepEqual(checks(a), ALL_OK);
    } finally {
      await w.close();
    }
  }
});

test('the task ends in Exception with Update.1.0.VerificationFailed: stage fails with BMC_VERIFICATION_FAILED, nothing is staged', async () => {
  const w = await world(scripted(SHA, { steps: [
    { state: 'Running', percent: 10, messages: [updateMsg('VerifyingAtComponent', "Image 'fw-2.0.0-signed.fwup' is being verified.")] },
    { state: 'Exception', status: 'Critical', percent: 10, messages: [updateMsg('VerificationFailed', "Verification of image 'fw-2.0.0-signed.fwup' at 'BIOS' failed.", 'Critical')] },
  ] }));
  try {
    const e = failed(await w.run(['stage', IMG]), EXIT.INVALID_IMAGE, 'BMC_VERIFICATION_FAILED');
    assert.match(e.message, /the BMC refused the image: Verification of image 'fw-2\.0\.0-signed\.fwup' at 'BIOS' failed\./);
    assert.equal((await status(w)).staged, null);
    assert.equal(w.bmc.version(), '1.0.0');
  } finally {
    await w.close();
  }
});

test('OnReset: the task waits (AwaitToActivate + ResetRequired); after the reset it ends with ApplyFailed: apply exits BMC_APPLY_FAILED', async () => {
  const awaiting = { state: 'Running', percent: 50, messages: [updateMsg('AwaitToActivate', 'Awaiting for an action to proceed with activating the image.'), resetRequired()] };
  const w = await world(scripted(SHA, {
    applyTimes: ['Immediate', 'OnReset'],
    steps: [{ state: 'Running', percent: 20, messages: [updateMsg('VerifyingAtComponent', 'Verifying.')] }, awaiting],
    resetSteps: [
      { state: 'Running', percent: 60, messages: [updateMsg('ApplyingOnComponent', 'Applying.')] },
      { state: 'Exception', status: 'Critical', percent: 60, messages: [updateMsg('ApplyFailed', "Installation of image 'fw-2.0.0-signed.fwup' to 'BIOS' failed.", 'Critical')] },
    ],
  }));
  try {
    let r = await w.run(['stage', IMG]);
    ok(r);
    const s = json<Doc>(r);
    assert.deepEqual([s.details.applyTime, s.details.task.state, s.details.task.awaiting, s.staged.flags], ['OnReset', 'Running', 'reset', ['AWAITS_RESET']]);
    r = await w.run(['apply', '--warm']);
    assert.match(failed(r, EXIT.TARGET, 'TARGET_UNSUPPORTED').hint, /--cold/);
    r = await w.run(['apply', '--cold']);
    const e = failed(r, EXIT.OUTCOME, 'BMC_APPLY_FAILED');
    assert.match(e.message, /the BMC could not install the image: Installation of image 'fw-2\.0\.0-signed\.fwup' to 'BIOS' failed\./);
    const a = json<Doc>(r).report;
    assert.deepEqual([a.task.state, checks(a)], ['Exception', [['task', false], ['inventory', false], ['system', true]]]);
    assert.deepEqual(posts(w.bmc, DMTF_RESET).map((x) => x.json), [{ ResetType: 'ForceRestart' }], 'the reset the task asked for');
    assert.equal(w.bmc.version(), '1.0.0');
  } finally {
    await w.close();
  }
});

test('a stalled task (always 202, never a change) with --task-timeout 1: BMC_TASK_TIMEOUT within seconds', async () => {
  const w = await world(scripted(SHA, { steps: [{ state: 'Running', percent: 10 }] }));
  try {
    const t0 = Date.now();
    const e = failed(await w.run(['stage', IMG, '--task-timeout', '1']), EXIT.TIMEOUT, 'BMC_TASK_TIMEOUT');
    const took = Date.now() - t0;
    assert.ok(took < 8000, `gave up after ${took} ms`);
    assert.match(e.message, /\/redfish\/v1\/TaskService\/Tasks\/5 made no progress for 1 s \(state Running, 10%\)/);
    const polls = w.bmc.log.filter((x) => x.path === '/redfish/v1/TaskService/TaskMonitors/5');
    assert.ok(polls.length >= 3 && polls.every((x) => x.status === 202), `${polls.length} polls, all 202`);
    assert.equal((await status(w)).staged, null);
  } finally {
    await w.close();
  }
});

test('the BMC drops the connection mid-upload: NET_INTERRUPTED, and fwup status shows nothing staged', async () => {
  const w = await world(scripted(SHA, { steps: [{ state: 'Completed' }], answer: 'destroy' }));
  try {
    const e = failed(await w.run(['stage', IMG]), EXIT.NETWORK, 'NET_INTERRUPTED');
    assert.match(e.message, /POST http:\/\/127\.0\.0\.1:\d+\/redfish\/v1\/UpdateService\/upload: the BMC closed the connection/);
    const up = posts(w.bmc, '/redfish/v1/UpdateService/upload');
    assert.equal(up.length, 1);
    assert.ok(up[0]!.bytes >= 16_384 && up[0]!.bytes < SIZE, `cut after ${up[0]!.bytes} of ${SIZE} bytes`);
    const st = await status(w);
    assert.deepEqual([st.staged, st.task, st.component.version], [null, null, '1.0.0']);
  } finally {
    await w.close();
  }
});

test('--dry-run of stage and apply: the plan lists every request with the password masked; the BMC gets no upload, no reset', async () => {
  const p = bmcweb(SHA);
  const w = await world(p);
  const origin = w.target.slice('redfish:'.length);
  try {
    let r = await w.run(['stage', IMG, '--dry-run']);
    ok(r);
    const plan = json<Doc>(r).plan as Doc[];
    assert.deepEqual(plan.map((x) => [x.method, x.url.replace(/Sessions\/[0-9a-f]+$/, 'Sessions/ID')]), [
      ['POST', `${origin}/redfish/v1/SessionService/Sessions`], ['POST', `${origin}${p.upload.path}`], ['DELETE', `${origin}/redfish/v1/SessionService/Sessions/ID`],
    ]);
    assert.deepEqual(plan[0]!.body, { UserName: p.user, Password: '***' });
    assert.ok(plan[1]!.bytes > SIZE && plan[1]!.bytes < SIZE + 1024, `the upload's size ${plan[1]!.bytes}`);
    assert.deepEqual(plan[1]!.body, { UpdateParameters: { Targets: [p.component], '@Redfish.OperationApplyTime': 'Immediate' }, UpdateFile: 'fw-2.0.0-signed.fwup' });
    for (const out of [r.stdout, r.stderr]) assert.ok(!out.includes(p.password), 'the password appears nowhere');
    assert.equal(posts(w.bmc, p.upload.path).length, 0, 'nothing was uploaded');
    assert.equal(w.bmc.received.sha256, null);
    assert.equal((await status(w)).staged, null);

    ok(await w.run(['stage', IMG]));
    const before = w.bmc.log.length;
    r = await w.run(['apply', '--cold', '--dry-run']);
    ok(r);
    const out = json<Doc>(r);
    assert.equal(out.dryRun, true);
    assert.deepEqual((out.plan as Doc[]).map((x) => [x.method, x.url.replace(/Sessions\/[0-9a-f]+$/, 'Sessions/ID'), x.body ?? null]), [
      ['POST', `${origin}/redfish/v1/SessionService/Sessions`, { UserName: p.user, Password: '***' }],
      ['POST', `${origin}${p.resetPath}`, { ResetType: 'ForceRestart' }],
      ['DELETE', `${origin}/redfish/v1/SessionService/Sessions/ID`, null],
    ]);
    for (const o of [r.stdout, r.stderr]) assert.ok(!o.includes(p.password));
    const sent = w.bmc.log.slice(before);
    assert.equal(sent.filter((x) => x.method === 'POST' && x.path !== '/redfish/v1/SessionService/Sessions').length, 0, `only reads and the login: ${sent.map(line).join(', ')}`);
    assert.equal(w.bmc.version(), '1.0.0');
    assert.equal((await status(w)).staged.image.version, '2.0.0', 'the staged request stays for the real apply');
  } finally {
    await w.close();
  }
});

test('credentials and transport: none, a 0644 file, a wrong password (session and Basic), plain http without --allow-http', async () => {
  const p = scripted(SHA, { steps: [{ state: 'Completed' }] });
  const w = await world(p);
  const basic = await world(noSessions(SHA));
  try {
    let e = failed(await w.run(['stage', IMG], { creds: false }), EXIT.PERMISSION, 'CREDENTIALS_MISSING');
    assert.match(e.hint, /FWUP_REDFISH_USER and FWUP_REDFISH_PASSWORD/);
    const file = join(w.dir, 'open.cred');
    await writeFile(file, JSON.stringify({ user: p.user, password: p.password }));
    await chmod(file, 0o644);
    e = failed(await w.run(['stage', IMG, '--credentials', file], { creds: false }), EXIT.PERMISSION, 'CREDENTIALS_INSECURE');
    assert.match(e.message, /mode 644/);
    assert.equal(w.bmc.log.length, 0, 'nothing reached the BMC without a usable account');

    e = failed(await w.run(['stage', IMG], { env: { FWUP_REDFISH_PASSWORD: 'wrong' } }), EXIT.PERMISSION, 'REDFISH_AUTH');
    assert.match(e.message, /refused the account "Administrator" \(HTTP 401\)/);
    assert.deepEqual(w.bmc.log.map(line), ['GET /redfish/v1 200', 'POST /redfish/v1/SessionService/Sessions 401']);
    e = failed(await basic.run(['stage', IMG], { env: { FWUP_REDFISH_PASSWORD: 'wrong' } }), EXIT.PERMISSION, 'REDFISH_AUTH');
    assert.deepEqual(basic.bmc.log.map(line), ['GET /redfish/v1 200', 'POST /redfish/v1/SessionService/Sessions 404', 'GET /redfish/v1/UpdateService 401']);

    const n = w.bmc.log.length;
    e = failed(await w.run(['stage', IMG], { conn: [] }), EXIT.USAGE, 'TARGET_INVALID');
    assert.match(e.hint, /--allow-http/);
    assert.equal(w.bmc.log.length, n, 'a plain-http target is refused before any request');
    assert.equal(w.bmc.received.sha256, null);
  } finally {
    await w.close();
    await basic.close();
  }
});
