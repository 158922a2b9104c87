import { createServer, type Socket } from 'node:net';
import { rmSync, writeFileSync } from 'node:fs';
import { FwupError } from '../../errors/fwup-error.js';
import type { FaultPlan } from '../../storage/fault-flash.js';
import { encodeError, type ServiceRequest, type ServiceResponse } from './service-protocol.js';
import { serviceFiles } from './service-files.js';
import type { EmuDeps, TargetDeps } from '../target.js';
import { LiveMachine } from './live-machine.js';

/** Something served beside the control socket for the life of the machine (the Redfish BMC). */
export interface MachineFrontend {
  close(): Promise<void>;
}

/**
 * A machine that keeps running between commands (`fwup machine start`): it owns the CPUs and RAM and
 * answers on its control socket (and, when `frontend` starts one, on Redfish). Returns when the machine
 * is stopped (or loses power).
 */
export async function serveMachine(
  dir: string,
  deps: TargetDeps,
  emu: EmuDeps,
  powerOnLock: () => Promise<() => Promise<void>>,
  frontend?: (live: LiveMachine) => Promise<MachineFrontend>,
): Promise<void> {
  const files = serviceFiles(dir);
  const live = new LiveMachine(dir, deps, emu);
  {
    // Power-on writes the flash (the firmware's boot): under the machine lock, like every writer.
    const release = await powerOnLock();
    try {
      await live.powerOn();
    } finally {
      await release();
    }
  }
  rmSync(files.socket, { force: true });
  let stopping = false;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let front: MachineFrontend | null = null;
  const server = createServer((conn: Socket) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let req: ServiceRequest;
      try {
        req = JSON.parse(buf.slice(0, nl)) as ServiceRequest;
      } catch {
        conn.end(`${JSON.stringify(encodeError(new FwupError('USAGE', 'the control request is not JSON')))}\n`);
        return;
      }
      buf = '';
      void live.exclusive(async () => {
        const res = await handle(req);
        conn.end(`${JSON.stringify(res)}\n`);
        if (stopping || live.lostPower) await shutdown();
      });
    });
    conn.on('error', () => {});
  });

  async function handle(req: ServiceRequest): Promise<ServiceResponse> {
    live.log(`request: ${req.op}`);
    try {
      switch (req.op) {
        case 'status': {
          const m = live.running;
          return {
            ok: true,
            result: {
              pid: process.pid, uptimeMs: m ? Date.now() - m.bootedAt : 0, powerState: live.powerState(), cpus: m?.cpus ?? 0, workers: m?.workers ?? 0,
              steps: m?.steps() ?? [], firmware: live.read((p) => p.services.activeFirmware()),
            },
          };
        }
        case 'apply':
        case 'rollback': {
          const a = req.args as { mode: 'warm' | 'cold'; timeoutMs: number; confirm: boolean; faultPlan: FaultPlan | null; corruptSaveCpu: number | null };
          return { ok: true, result: await live.apply({ ...a, kind: req.op === 'apply' ? 'install' : 'rollback' }) };
        }
        case 'stop':
          stopping = true;
          return { ok: true, result: { stopped: true, pid: process.pid } };
      }
    } catch (e) {
      live.log(`error: ${e instanceof Error ? e.message : String(e)}`);
      return encodeError(e);
    }
    return encodeError(new FwupError('USAGE', `unknown request ${String(req.op)}`));
  }

  let shuttingDown: Promise<void> | null = null;
  function shutdown(): Promise<void> {
    shuttingDown ??= (async () => {
      try {
        if (front) await front.close().catch(() => {});
        await live.stop();
        live.log('stopped');
      } finally {
        // The control socket and the pid file go last (a waiting `machine stop` sees the machine running
        // until then, and may remove the directory right after), and the service always ends.
        server.close();
        rmSync(files.socket, { force: true });
        rmSync(files.pid, { force: true });
        done();
      }
    })();
    return shuttingDown;
  }

  await new Promise<void>((ok, fail) => {
    server.once('error', (e) => fail(new FwupError('MACHINE_FAILURE', `cannot listen on ${files.socket}: ${e.message}`)));
    server.listen(files.socket, () => ok());
  });
  try {
    if (frontend) front = await frontend(live);
  } catch (e) {
    await shutdown();
    throw e;
  }
  writeFileSync(files.pid, `${process.pid}\n`);
  const m = live.running;
  live.log(`running: pid ${process.pid}, ${m?.cpus ?? 0} CPUs on ${m?.workers ?? 0} worker threads`);
  const onSignal = () => {
    stopping = true;
    void live.exclusive(shutdown);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  // The BMC's own operations can lose power too: the service then stops like after a control request.
  const watch = setInterval(() => {
    if (live.lostPower) void live.exclusive(shutdown);
  }, 200);
  await finished;
  clearInterval(watch);
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
}
