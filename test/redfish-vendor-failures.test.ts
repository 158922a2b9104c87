import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DMTF_RESET, bmcweb, noSessions, resetRequired, scripted, updateMsg } from './helpers/bmc-profiles.js';
import { EXIT } from '../src/errors/exit-codes.js';
import { json } from './helpers/cli.js';
import { IMG, SHA, SIZE, checks, failed, line, ok, posts, status, world, type Doc } from './helpers/vendor-world.js';

// fwup's redfish: client against a fake BMC that fails in the ways real ones do: refused images, failed
// installs, stalled tasks, dropped uploads; dry runs; credentials and transport refusals.

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
