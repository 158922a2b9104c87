import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBmcMachine, type TestBmc } from './helpers/bmc.js';
import { fwup, hashTree, json, tempDir } from './helpers/cli.js';
import {
  IMAGE_2, IMAGE_3, OTHER_KEY, RELEASE_KEY, ansibleEnv, batchSizes, emuStatus, initMachines, installCollection, inventory, rollout, run, updateBatches,
  type Rollout,
} from './helpers/fleet.js';
import { ANSIBLE, needs } from './helpers/requirements.js';

/**
 * The fwup.fleet collection end to end: the real ansible-playbook runs playbooks/rollout.yml (facts play,
 * then the rollout role in `serial` batches, halting beyond max_fail_percentage) over emulated machines and
 * emulated BMCs, and every claim is checked on the machines themselves with `fwup status`, besides the
 * PLAY RECAP and the rollout_summary callback's JSON; and the refusals of the module and the role.
 */

// One collection install for the whole file: it is what an operator does once per controller.
let suite: { dir: string; cleanup: () => Promise<void>; collections: Promise<string> } | null = null;
async function collections(): Promise<string> {
  if (!suite) {
    const t = await tempDir('fwup-fleet-');
    suite = { ...t, collections: installCollection(t.dir) };
  }
  return suite.collections;
}
after(async () => {
  await suite?.cleanup();
});

const HOSTS = Array.from({ length: 12 }, (_, i) => `h${i + 1}`);
const VAULT_PASSWORD = 'fleet vault passphrase';

interface Fleet {
  work: string;
  hosts: Map<string, string>;
  bmcs: Map<string, TestBmc>;
  inventory: string;
  vaultFile: string;
  passwordFile: string;
  /** fwup's records of its redfish: targets (the controller's side of a BMC update). */
  state: string;
}

/**
 * 12 emulated hosts (group `hosts`) and 2 emulated BMCs with TLS (group `bmcs`, fwup runs on the
 * controller), the BMC password only in an ansible-vault encrypted group_vars file.
 */
async function makeFleet(work: string, bmcs: Map<string, TestBmc>): Promise<Fleet> {
  // The BMCs first, before the 12 inits load the host; and more than machine start's default 30 s to come
  // up, which a 2-core host busy with other suites can exceed.
  await mkdir(join(work, 'machines'), { recursive: true });
  for (const name of ['bmc1', 'bmc2']) bmcs.set(name, await startBmcMachine(join(work, 'machines'), { tls: true, name, env: { FWUP_MACHINE_START_TIMEOUT: '90' } }));
  const hosts = await initMachines(join(work, 'machines'), HOSTS);
  const inv = join(work, 'inventory');
  await mkdir(join(inv, 'group_vars', 'bmcs'), { recursive: true });
  const user = bmcs.get('bmc1')!.user;
  await writeFile(join(inv, 'hosts.yml'), inventory({
    hosts: { hosts: Object.fromEntries([...hosts].map(([h, dir]) => [h, { fwup_target: `emu:${dir}` }])) },
    bmcs: {
      vars: { fwup_delegate_to: 'localhost', fwup_redfish_user: user },
      hosts: Object.fromEntries([...bmcs].map(([h, b]) => [h, { fwup_target: `redfish:${b.url}`, fwup_ca: b.certFile }])),
    },
  }));
  // Both emulated BMCs take the same account (startBmcMachine's): one vaulted group variable.
  const passwordFile = join(work, 'vault-password');
  await writeFile(passwordFile, `${VAULT_PASSWORD}\n`, { mode: 0o600 });
  const vaultFile = join(inv, 'group_vars', 'bmcs', 'vault.yml');
  await writeFile(vaultFile, `fwup_redfish_password: ${JSON.stringify(bmcs.get('bmc1')!.password)}\n`, { mode: 0o600 });
  const env = await ansibleEnv(work, join(work, 'no-collections'));
  const enc = await run('ansible-vault', ['encrypt', '--vault-password-file', passwordFile, vaultFile], { cwd: work, env });
  assert.equal(enc.code, 0, `ansible-vault encrypt: ${enc.stdout}${enc.stderr}`);
  return { work, hosts, bmcs, inventory: inv, vaultFile, passwordFile, state: join(work, 'state') };
}

async function bmcStatus(f: Fleet, b: TestBmc): Promise<{ component: { version: string }; staged: unknown }> {
  const r = await fwup(['status', '--target', `redfish:${b.url}`, '--ca', b.certFile!, '--json'], {
    cwd: f.work, env: { FWUP_REDFISH_USER: b.user, FWUP_REDFISH_PASSWORD: b.password, XDG_STATE_HOME: f.state },
  });
  return json(r);
}

/** Every machine, host or BMC, runs `version` (active, confirmed) with nothing staged, by fwup's own status. */
async function assertFleetOn(f: Fleet, version: string): Promise<void> {
  for (const [h, dir] of f.hosts) {
    const s = await emuStatus(f.work, dir);
    assert.deepEqual([h, s.firmware.version, s.firmware.trial, s.staged], [h, version, false, null]);
  }
  for (const [h, b] of f.bmcs) {
    const r = await bmcStatus(f, b);
    assert.deepEqual([h, r.component.version, r.staged], [h, version, null], `${h} through its BMC`);
    const s = await emuStatus(f.work, b.dir);
    assert.deepEqual([h, s.firmware.version, s.firmware.trial, s.staged], [h, version, false, null], `${h}'s machine`);
  }
}

function assertVerdicts(r: Rollout, names: string[], expect: { verdict: string; before: string; after: string }): void {
  assert.equal(r.summary.hosts.length, names.length, r.output);
  for (const h of names) {
    const row = r.rows.get(h);
    assert.ok(row, `${h} is in the summary: ${r.output}`);
    assert.deepEqual([h, row.verdict, row.before, row.after, row.error], [h, expect.verdict, expect.before, expect.after, null], r.output);
  }
  assert.deepEqual(r.summary.counts, { [expect.verdict]: names.length });
}

/** Machine directories and fwup's redfish records, hashed: "no byte changed" in one value per directory. */
async function hashFleet(f: Fleet): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [h, dir] of f.hosts) out[h] = await hashTree(dir);
  for (const [h, b] of f.bmcs) out[h] = await hashTree(b.dir);
  out.state = await hashTree(f.state);
  return out;
}

test('fleet: 12 hosts and 2 vaulted BMCs rolled out in batches, rerun idempotently, then a --check that changes nothing', async (t) => {
  if (!needs(t, ANSIBLE())) return;
  const path = await collections();
  const { dir: work, cleanup } = await tempDir('fwup-fleet-run-');
  const bmcs = new Map<string, TestBmc>();
  try {
    const f = await makeFleet(work, bmcs);
    const all = [...f.hosts.keys(), ...f.bmcs.keys()];
    const batches = [1, 4, '100%'];
    const sizes = batchSizes(batches, all.length);
    assert.deepEqual(sizes, [1, 4, 9]);
    const base = { work, collections: path, inventory: f.inventory, batches, forks: Math.max(...sizes), vaultPasswordFile: f.passwordFile };
    const password = f.bmcs.get('bmc1')!.password;

    await t.test('the vars file holds the BMC password only encrypted', async () => {
      const text = await readFile(f.vaultFile, 'utf8');
      assert.match(text, /^\$ANSIBLE_VAULT;1\.1;AES256\n/);
      assert.ok(!text.includes(password) && !text.includes('fwup_redfish_password'), 'nothing of it in the clear');
      // Ansible reads it back with the vault password, and refuses the inventory without it.
      const env = await ansibleEnv(work, path);
      const withKey = await run('ansible-inventory', ['-i', f.inventory, '--host', 'bmc1', '--vault-password-file', f.passwordFile], { cwd: work, env });
      assert.equal(withKey.code, 0, withKey.stderr);
      assert.equal((JSON.parse(withKey.stdout) as { fwup_redfish_password: string }).fwup_redfish_password, password);
      const without = await run('ansible-inventory', ['-i', f.inventory, '--host', 'bmc1'], { cwd: work, env });
      assert.match(without.stdout + without.stderr, /Attempting to decrypt but no vault secrets found/);
      assert.ok(!without.stdout.includes(password));
    });

    await t.test('a full rollout: the canary, then batches of 4 and the rest; every machine on 2.0.0', async () => {
      const r = await rollout({ ...base, image: IMAGE_2, name: 'rollout' });
      assert.equal(r.code, 0, r.output);
      assert.deepEqual(updateBatches(r.stdout).map((b) => b.map((x) => x.host).sort()), [['h1'], ['h2', 'h3', 'h4', 'h5'], [...HOSTS.slice(5), 'bmc1', 'bmc2'].sort()], r.output);
      for (const x of updateBatches(r.stdout).flat()) {
        assert.deepEqual([x.host, x.status, x.via], [x.host, 'changed', x.host.startsWith('bmc') ? 'localhost' : null], 'a BMC is updated from the controller');
      }
      assertVerdicts(r, all, { verdict: 'updated', before: '1', after: '2.0.0' });
      for (const row of r.summary.hosts) assert.ok(typeof row.downtime_ms === 'number' && row.downtime_ms > 0, `${row.host} has a downtime: ${row.downtime_ms}`);
      for (const h of all) assert.deepEqual([h, r.recap.get(h)?.changed, r.recap.get(h)?.failed], [h, 1, 0], r.output);
      assert.ok(!r.stdout.includes(password) && !r.stderr.includes(password), 'the BMC password is never printed');
      assert.ok(!JSON.stringify(r.summary).includes(password));
      await assertFleetOn(f, '2.0.0');
    });

    await t.test('a rerun changes nothing: changed=0 for every host, every verdict unchanged', async () => {
      const r = await rollout({ ...base, image: IMAGE_2, name: 'rerun' });
      assert.equal(r.code, 0, r.output);
      assert.deepEqual([...r.recap.keys()].sort(), [...all].sort(), r.output);
      for (const [h, c] of r.recap) assert.deepEqual([h, c.changed, c.failed], [h, 0, 0], r.output);
      assertVerdicts(r, all, { verdict: 'unchanged', before: '2.0.0', after: '2.0.0' });
      for (const row of r.summary.hosts) assert.equal(row.downtime_ms, null, `${row.host}: no apply, no downtime`);
      await assertFleetOn(f, '2.0.0');
    });

    // Every file of every machine directory is hashed, machine.log too, for the BMCs' running machines as well:
    // a running machine writes machine.log only on a control request, a boot or an update, and machine.pid,
    // redfish.json and its certificate once when it starts; a check makes none of these. (control.sock is
    // no regular file: hashTree skips it.) fwup's controller-side records of the BMCs are hashed as well.
    await t.test('--check with 3.0.0: every verdict would update, not one byte of a machine changes', async () => {
      const before = await hashFleet(f);
      const r = await rollout({ ...base, image: IMAGE_3, check: true, name: 'check' });
      assert.equal(r.code, 0, r.output);
      assertVerdicts(r, all, { verdict: 'would update', before: '2.0.0', after: '3.0.0' });
      assert.deepEqual(await hashFleet(f), before);
      await assertFleetOn(f, '2.0.0');
    });
  } finally {
    for (const b of bmcs.values()) await b.stop();
    await cleanup();
  }
});

test('fleet: a host of the second batch that does not trust the key halts the rollout; later batches are untouched', async (t) => {
  if (!needs(t, ANSIBLE())) return;
  const path = await collections();
  const { dir: work, cleanup } = await tempDir('fwup-fleet-halt-');
  try {
    // h3 is in the second batch (h2..h5) and trusts only the other key: its stage is refused.
    const hosts = await initMachines(join(work, 'machines'), HOSTS, (h) => (h === 'h3' ? OTHER_KEY : RELEASE_KEY));
    const inv = join(work, 'hosts.yml');
    await writeFile(inv, inventory({ hosts: { hosts: Object.fromEntries([...hosts].map(([h, dir]) => [h, { fwup_target: `emu:${dir}` }])) } }));
    const batches = [1, 4, '100%'];
    const sizes = batchSizes(batches, HOSTS.length);
    assert.deepEqual(sizes, [1, 4, 7]);
    const later = HOSTS.slice(5);
    const untouched = Object.fromEntries(await Promise.all(later.map(async (h) => [h, await hashTree(hosts.get(h)!)] as const)));

    const r = await rollout({ work, collections: path, inventory: inv, image: IMAGE_2, batches, forks: Math.max(...sizes), name: 'halt' });
    assert.notEqual(r.code, 0, r.output);
    assert.deepEqual(updateBatches(r.stdout).map((b) => b.map((x) => `${x.host}:${x.status}`).sort()), [['h1:changed'], ['h2:changed', 'h3:fatal', 'h4:changed', 'h5:changed']], 'no third batch');

    for (const h of ['h1', 'h2', 'h4', 'h5']) {
      const s = await emuStatus(work, hosts.get(h)!);
      assert.deepEqual([h, s.firmware.version, s.staged], [h, '2.0.0', null]);
      assert.deepEqual([h, r.rows.get(h)?.verdict], [h, 'updated']);
    }

    const failed = await emuStatus(work, hosts.get('h3')!);
    assert.deepEqual([failed.firmware.version, failed.firmware.trial, failed.staged], ['1', false, null], 'h3 keeps its firmware, nothing staged');
    const row = r.rows.get('h3')!;
    assert.deepEqual([row.verdict, row.before, row.after], ['failed', '1', '1']);
    assert.match(row.error ?? '', /^IMAGE_SIGNATURE_UNKNOWN_KEY: .*not trusted/);
    assert.deepEqual(r.recap.get('h3'), { ok: 3, changed: 0, unreachable: 0, failed: 1, skipped: 1, rescued: 1, ignored: 0 }, 'rescued (facts read, no rollback: nothing changed), then failed');

    for (const h of later) {
      const s = await emuStatus(work, hosts.get(h)!);
      assert.deepEqual([h, s.firmware.version, s.staged], [h, '1', null]);
      assert.deepEqual([h, r.rows.get(h)?.verdict, r.rows.get(h)?.before], [h, 'not attempted', '1']);
      assert.deepEqual([h, r.recap.get(h)?.ok, r.recap.get(h)?.changed], [h, 1, 0], 'only the facts play ran there');
    }
    assert.deepEqual(Object.fromEntries(await Promise.all(later.map(async (h) => [h, await hashTree(hosts.get(h)!)] as const))), untouched, 'not a byte of a later batch changed');
    assert.deepEqual(r.summary.counts, { updated: 4, failed: 1, 'not attempted': 7 });
  } finally {
    await cleanup();
  }
});

interface TaskResult {
  failed?: boolean;
  changed?: boolean;
  msg?: string;
  rc?: number;
  verdict?: string;
  error?: { code: string; message: string; hint: string; step: string; exitCode?: number };
}

const MODULE_ERRORS = (image: string, target: string) => [
  { name: 'mode lukewarm', args: { image, target, mode: 'lukewarm' } },
  { name: 'no image', args: { target } },
  { name: 'sha256 not hexadecimal', args: { image, target, sha256: 'abc123' } },
  { name: 'sha256 of another file', args: { image, target, sha256: '0'.repeat(64) } },
  { name: 'timeout 0', args: { image, target, timeout: 0 } },
  { name: 'an image that does not exist', args: { image: `${image}.missing`, target } },
];

test('fleet: fwup_update refuses bad arguments with a clear message, fwup\'s errors come back with code and hint; the role halts at the canary', async (t) => {
  if (!needs(t, ANSIBLE())) return;
  const path = await collections();
  const { dir: work, cleanup } = await tempDir('fwup-fleet-args-');
  try {
    const hosts = await initMachines(join(work, 'machines'), ['m1', 'm2']);
    const dir = hosts.get('m1')!;
    const inv = join(work, 'hosts.yml');
    await writeFile(inv, inventory({ hosts: { hosts: Object.fromEntries([...hosts].map(([h, d]) => [h, { fwup_target: `emu:${d}` }])) } }));
    const before = await hashTree(dir);

    // Each refusal is its own task (ignore_errors), read back through the json stdout callback.
    const cases = MODULE_ERRORS(IMAGE_2, `emu:${dir}`);
    const play = [{
      hosts: 'm1', gather_facts: false,
      tasks: cases.map((c) => ({ name: c.name, 'fwup.fleet.fwup_update': { ...c.args, fwup_path: '{{ fwup_path }}' }, ignore_errors: true })),
    }];
    const book = join(work, 'errors.yml');
    await writeFile(book, JSON.stringify(play));
    const r = await run('ansible-playbook', ['-i', inv, book], { cwd: work, env: await ansibleEnv(work, path, { ANSIBLE_STDOUT_CALLBACK: 'json' }) });
    const output = `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
    assert.equal(r.code, 0, `every refusal is ignored by the play: ${output}`);
    const doc = JSON.parse(r.stdout) as { plays: Array<{ tasks: Array<{ task: { name: string }; hosts: Record<string, TaskResult> }> }> };
    const results = new Map(doc.plays[0]!.tasks.map((x) => [x.task.name, x.hosts.m1!]));
    const res = (name: string) => {
      const x = results.get(name);
      assert.ok(x, `task ${name} ran: ${output}`);
      assert.deepEqual([name, x.failed, x.changed ?? false], [name, true, false], output);
      return x;
    };

    // Ansible's argument validation, before the module does anything.
    assert.equal(res('mode lukewarm').msg, 'value of mode must be one of: warm, cold, got: lukewarm');
    assert.equal(res('no image').msg, 'missing required arguments: image');
    // The module's own checks, before fwup runs.
    assert.equal(res('sha256 not hexadecimal').msg, 'sha256 must be 64 hexadecimal digits (the image file\'s SHA-256)');
    assert.equal(res('timeout 0').msg, 'timeout must be a positive number of seconds, not 0');
    const pinned = res('sha256 of another file');
    assert.equal(pinned.error?.code, 'SHA256_MISMATCH');
    assert.match(pinned.msg ?? '', /has SHA-256 8103feaf[0-9a-f]{56}, not the pinned 0{64}: nothing was changed$/);
    assert.equal(pinned.verdict, 'failed');
    // fwup's error: its code, message and hint, the step, and its exit code.
    const missing = res('an image that does not exist');
    assert.deepEqual(missing.error, {
      code: 'FILE_NOT_FOUND', message: `cannot read ${IMAGE_2}.missing: no such file or directory`, hint: 'check the path', exitCode: 3, step: 'inspect',
    });
    assert.equal(missing.rc, 3);
    assert.equal(missing.msg, `fwup inspect failed: FILE_NOT_FOUND: cannot read ${IMAGE_2}.missing: no such file or directory (hint: check the path)`);
    assert.equal(await hashTree(dir), before, 'no refusal changed the machine');

    // Through the rollout playbook the role's argument spec refuses the mode on the canary: the play halts.
    const bad = await rollout({ work, collections: path, inventory: inv, image: IMAGE_2, batches: [1, '100%'], forks: 1, extraVars: { mode: 'lukewarm' }, name: 'bad-mode' });
    assert.notEqual(bad.code, 0, bad.output);
    assert.match(bad.stdout, /fatal: \[m1\]: FAILED! => .*value of mode must be one of: warm, cold, got: lukewarm/, bad.output);
    assert.deepEqual(updateBatches(bad.stdout), [], 'fwup_update never ran');
    assert.deepEqual(bad.summary.counts, { 'not attempted': 2 });
    for (const [h, d] of hosts) assert.equal((await emuStatus(work, d)).firmware.version, '1', h);
    assert.equal(await hashTree(dir), before);
  } finally {
    await cleanup();
  }
});
