import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sha256Engine } from '../src/machine/sha256-engine.js';
import { fwupFormat } from '../src/image/formats/fwup.js';
import { BufferSource } from '../src/image/byte-source.js';
import { FileSource } from '../src/core/file-source.js';
import { readFile } from 'node:fs/promises';
import { quietContext } from '../src/core/context.js';
import { pack } from '../src/core/pack.js';
import { machineInit } from '../src/core/machine-init.js';
import { stage } from '../src/core/stage.js';
import { openPlatform } from '../src/machine/platform.js';
import { powerOn } from '../src/machine/power.js';
import { applyUpdate } from '../src/machine/apply.js';
import { prngBytes, tempDir, xorByte } from './helpers/cli.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('the SHA-256 engine: digests equal node:crypto for every length split into chunks, and start() drops an abandoned digest', async () => {
  const engine = await Sha256Engine.start();
  try {
    const data = prngBytes(7, 3 * engine.buffer.length + 12345);
    for (const [len, step] of [[0, 1], [1, 1], [63, 7], [64, 64], [65, 64], [100_000, 4099], [data.length, engine.buffer.length]] as const) {
      engine.start();
      for (let at = 0; at < len; at += step) {
        const n = Math.min(step, len - at);
        data.copy(engine.buffer, 0, at, at + n);
        engine.begin(n);
        engine.wait();
      }
      assert.equal(engine.digest(), sha(data.subarray(0, len)), `${len} bytes in chunks of ${step}`);
    }
    // Abandoned half-way (a power cut between chunks): the next digest starts afresh.
    engine.start();
    data.copy(engine.buffer, 0, 0, 1000);
    engine.begin(1000);
    engine.start();
    assert.equal(engine.digest(), sha(Buffer.alloc(0)));
    assert.ok(engine.jobs > 20, 'every command counted');
  } finally {
    await engine.stop();
  }
});

test('the fwup format with the engine: the same verdict as without, read into its buffer or copied there, damage still found', async () => {
  const { dir, cleanup } = await tempDir();
  const engine = await Sha256Engine.start();
  try {
    const payload = join(dir, 'p.bin');
    await writeFile(payload, prngBytes(3, 2 * engine.buffer.length + 777));
    const out = join(dir, 'i.fwup');
    await pack(quietContext(dir), { payload, output: out, force: true, meta: { platform: 'fwup-emu', version: '2', versionNumber: 2, lowestSupportedVersion: 0, securityVersion: 0, flags: 0, description: null } });
    const trust = { keys: null, certs: null };
    const src = FileSource.open(out);
    try {
      const plain = await fwupFormat.verify(src, { trust });
      const chunks: number[] = [];
      const fast = await fwupFormat.verify(src, { trust, fileHash: engine, payloadCrc: false, onChunk: (c, at) => void chunks.push(at, c.length) });
      assert.equal(fast.fileSha256, plain.fileSha256);
      assert.equal(fast.report.checks.sha256, 'ok');
      assert.equal(fast.report.ok, true);
      assert.deepEqual(chunks, [0, engine.buffer.length, engine.buffer.length, engine.buffer.length, 2 * engine.buffer.length, src.size - 2 * engine.buffer.length]);
    } finally {
      src.close();
    }
    // A source that hands back its own bytes (not the engine's buffer): copied to the engine, same digest.
    const bytes = await readFile(out);
    const own = { name: 'own', size: bytes.length, read: (o: number, n: number) => bytes.subarray(o, o + n) };
    assert.ok(own.read(0, 4).buffer !== engine.buffer.buffer);
    assert.equal((await fwupFormat.verify(own, { trust, fileHash: engine })).fileSha256, sha(bytes));
    xorByte(bytes, bytes.length - 1, 1);
    const bad = await fwupFormat.verify(new BufferSource(bytes), { trust, fileHash: engine, payloadCrc: false });
    assert.equal(bad.fileSha256, sha(bytes));
    assert.deepEqual([bad.report.checks.sha256, bad.report.ok], ['mismatch', false]);
  } finally {
    await engine.stop();
    await cleanup();
  }
});

test('a warm apply staged in place: the firmware hashes the slot on the engine, and the slot it activates hashes to the image', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const ctx = quietContext(dir);
    const payload = join(dir, 'p.bin');
    await writeFile(payload, prngBytes(9, 3 << 20));
    const image = join(dir, 'i.fwup');
    await pack(ctx, { payload, output: image, force: true, meta: { platform: 'fwup-emu', version: '2', versionNumber: 2, lowestSupportedVersion: 0, securityVersion: 0, flags: 0, description: null } });
    const mdir = join(dir, 'm');
    await machineInit(ctx, { dir: mdir, cpus: 4, flashBytes: 64 << 20, trust: [], development: false, force: false, install: 'in-place' });
    const p = openPlatform(mdir, { writable: true });
    const { machine } = await powerOn(p, { hostCpus: 2, knobs: { idleCpus: [], deafCpus: [] }, now: () => new Date() });
    p.close();
    try {
      await stage(ctx, image, { target: `emu:${mdir}`, allowOlder: false, allowUnsigned: true, allowReinstall: false });
      const q = openPlatform(mdir, { writable: true });
      try {
        const before = machine.hashEngine.jobs;
        const rep = await applyUpdate(machine, q, { mode: 'warm', kind: 'install', timeoutMs: 30_000, confirm: true, checkSteps: 10_000, now: () => new Date() });
        assert.equal(rep.ok, true, JSON.stringify(rep.checks));
        // start, one command per 1 MiB chunk (3 MiB and a header: 4), digest.
        assert.equal(machine.hashEngine.jobs - before, 6);
        const active = q.services.activeFirmware();
        assert.equal(active.version, '2');
      } finally {
        q.close();
      }
    } finally {
      await machine.stop();
    }
  } finally {
    await cleanup();
  }
});
