import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedfishClient } from '../src/targets/redfish/redfish-client.js';
import type { HttpRequest, HttpResponse } from '../src/targets/redfish/redfish-http.js';
import { followTask, summarize } from '../src/targets/redfish/task-monitor.js';

// A BMC (or whatever answers in its place) that links to another host must not get fwup's credentials
// sent there: every URL the client follows stays on the BMC's origin.

test('redfish client: a Location or task URI on another origin is refused before any request goes there', async () => {
  const sent: string[] = [];
  const transport = async (req: HttpRequest): Promise<HttpResponse> => {
    sent.push(req.url.href);
    return { status: 201, headers: { 'x-auth-token': 'tok', location: '/redfish/v1/SessionService/Sessions/1' }, body: Buffer.from('{}') };
  };
  const c = new RedfishClient('https://bmc.example:8443', transport, { user: 'u', password: 'p', source: 'test' }, { timeoutMs: 1000, dryRun: false, log: { verbose() {} } });
  await c.login('/redfish/v1/SessionService/Sessions');
  await assert.rejects(c.get('https://evil.example/redfish/v1/TaskService/Tasks/1'), /pointed fwup to https:\/\/evil\.example: fwup sends its credentials to the BMC only/);
  await assert.rejects(c.get('//evil.example/x'), /evil\.example/);
  const task = summarize({ '@odata.type': '#Task.v1_7_3.Task', '@odata.id': 'http://bmc.example:8443/redfish/v1/TaskService/Tasks/1', TaskState: 'Running' }, 'https://evil.example/monitor', null, 'Running');
  await assert.rejects(followTask(c, task, { timeoutMs: 1000, until: 'done', sleep: async () => {} }), /pointed fwup to https:\/\/evil\.example/);
  assert.deepEqual(sent, ['https://bmc.example:8443/redfish/v1/SessionService/Sessions'], 'only the login went out, to the BMC');
  assert.equal((await c.get('/redfish/v1/Systems/1'))?.status, 201);
  assert.equal(sent[1], 'https://bmc.example:8443/redfish/v1/Systems/1');
});
