import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { join } from 'node:path';
import { DMTF_BIOS, bmcweb, idrac, ilo, noSessions, synchronous } from './helpers/bmc-profiles.js';
import { EXIT } from '../src/errors/exit-codes.js';
import { json } from './helpers/cli.js';
import { ALL_OK, IMG, SHA, SIZE, checks, failed, line, ok, posts, sessionsClosed, status, world, type Doc } from './helpers/vendor-world.js';

// fwup's redfish: client, through the real CLI, against the recorded response shapes of real BMC families
// (test/helpers/bmc-profiles.ts) served by a fake BMC on 127.0.0.1: what fwup sends, in which order,
// and what it concludes from each vendor's answers.


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

