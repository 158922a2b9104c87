import { createHash, type Hash } from 'node:crypto';
import { workerData } from 'node:worker_threads';
import { CMD, W, type EngineShared } from './sha256-engine-shared.js';

/**
 * The hash engine's thread: it sleeps until the firmware rings, hashes the bytes the firmware put in
 * the shared buffer, and says it is done. One running SHA-256 at a time, as one engine has.
 */
const shared = workerData as EngineShared;
const ctl = new Int32Array(shared.ctl);
const data = Buffer.from(shared.data);
const out = new Uint8Array(shared.digest);
let hash: Hash = createHash('sha256');
let seen = 0;

for (;;) {
  Atomics.wait(ctl, W.SEQ, seen);
  seen = Atomics.load(ctl, W.SEQ);
  const cmd = Atomics.load(ctl, W.CMD);
  if (cmd === CMD.STOP) break;
  if (cmd === CMD.START) hash = createHash('sha256');
  else if (cmd === CMD.UPDATE) hash.update(data.subarray(0, Atomics.load(ctl, W.LENGTH)));
  else if (cmd === CMD.DIGEST) out.set(hash.digest());
  Atomics.store(ctl, W.DONE, seen);
  Atomics.notify(ctl, W.DONE);
}
Atomics.store(ctl, W.DONE, seen);
Atomics.notify(ctl, W.DONE);
