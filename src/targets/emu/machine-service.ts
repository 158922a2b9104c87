import { createServer, type Socket } from 'node:net';
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { FwupError } from '../../errors/fwup-error.js';
import { isPowerCut, type FaultPlan } from '../../storage/fault-flash.js';
import { applyUpdate } from '../../machine/apply.js';
import type { EmulatedMachine } from '../../machine/machine.js';
import { openPlatform, type Platform } from '../../machine/platform.js';
import { powerOn } from '../../machine/power.js';
import { damageSaveSlot } from './save-slot-damage.js';
import { encodeError, type ServiceRequest, type ServiceResponse } from './service-protocol.js';
import { serviceFiles } from './service-files.js';
import type { EmuDeps, TargetDeps } from '../target.js';
import { POWER_LATCH } from './power-latch.js';
import { join } from 'node:path';

/**
 * A machine that keeps running between commands (`fwup machine start`): it owns the CPUs and RAM; every
 * operation opens the flash afresh, so `stage` from other processes writes beside it as an OS would.
 * Returns when the machine is stopped (or loses power).
 */
export async function serveMachine(dir: string, deps: TargetDeps, emu: EmuDeps, powerOnLock: () => Promise<() => Promise<void>>): Promise<void> {
  const files = serviceFiles(dir);
  const log = (m: string) => appendFileSync(files.log, `${new Date().toISOString()} ${m}\n`);
  const open = (plan: FaultPlan | null): Platform =>
    openPlatform(dir, { writable: true, faultPlan: plan, now: deps.now, auditFile: emu.knobs.auditFile, eraseDelayMs: emu.knobs.eraseDelayMs });
  let machine: EmulatedMachine;
  {
    // Power-on writes the flash (the firmware's boot): under the machine lock, like every writer.
    const release = await powerOnLock();
    const p = open(emu.faultPlan);
    try {
      const on = await powerOn(p, { hostCpus: emu.hostCpus, knobs: emu.knobs, now: deps.now });
      machine = on.machine;
      for (const e of on.boot.events) log(`firmware: ${e}`);
    } finally {
      p.close();
      await release();
    }
  }
  rmSync(files.socket, { force: true });
  let busy = Promise.resolve();
  let stopping = false;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const server = createServer((conn: Socket) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const req = JSON.parse(buf.slice(0, nl)) as ServiceRequest;
      buf = '';
      // One operation at a time, in arrival order.
      busy = busy.then(async () => {
        const res = await handle(req);
        conn.end(`${JSON.stringify(res)}\n`);
        if (stopping) await shutdown();
      });
    });
    conn.on('error', () => {});
  });

  async function handle(req: ServiceRequest): Promise<ServiceResponse> {
    log(`request: ${req.op}`);
    try {
      switch (req.op) {
        case 'status': {
          const p = openPlatform(dir, { writable: false, snapshot: true });
          try {
            return { ok: true, result: { pid: process.pid, uptimeMs: Date.now() - machine.bootedAt, cpus: machine.cpus, workers: machine.workers, steps: machine.steps(), firmware: p.services.activeFirmware() } };
          } finally {
            p.close();
          }
        }
        case 'apply':
        case 'rollback': {
          const a = req.args as { mode: 'warm' | 'cold'; timeoutMs: number; confirm: boolean; faultPlan: FaultPlan | null; corruptSaveCpu: number | null };
          const p = open(a.faultPlan);
          try {
            const report = await applyUpdate(machine, p, {
              mode: a.mode,
              kind: req.op === 'apply' ? 'install' : 'rollback',
              timeoutMs: a.timeoutMs,
              confirm: a.confirm,
              checkSteps: 100_000,
              now: deps.now,
              ...(a.corruptSaveCpu !== null ? { tamper: (ram: Uint8Array) => damageSaveSlot(ram, a.corruptSaveCpu!) } : {}),
            });
            log(`${req.op} ${report.mode}: ${report.before.version} -> ${report.after.version}, ${report.ok ? 'ok' : 'FAILED'}, downtime ${report.downtimeMs.toFixed(1)} ms`);
            return { ok: true, result: report };
          } finally {
            p.close();
          }
        }
        case 'stop':
          stopping = true;
          return { ok: true, result: { stopped: true, pid: process.pid } };
      }
    } catch (e) {
      if (isPowerCut(e)) {
        // Power is gone: the machine stops with everything in RAM, and the next command recovers.
        writeFileSync(join(dir, POWER_LATCH), `${deps.now().toISOString()}\n`);
        log('power cut: the machine is off');
        stopping = true;
      }
      log(`error: ${e instanceof Error ? e.message : String(e)}`);
      return encodeError(e);
    }
    return encodeError(new FwupError('USAGE', `unknown request ${String(req.op)}`));
  }

  async function shutdown(): Promise<void> {
    server.close();
    await machine.stop();
    rmSync(files.socket, { force: true });
    rmSync(files.pid, { force: true });
    log('stopped');
    done();
  }

  await new Promise<void>((ok, fail) => {
    server.once('error', (e) => fail(new FwupError('MACHINE_FAILURE', `cannot listen on ${files.socket}: ${e.message}`)));
    server.listen(files.socket, () => ok());
  });
  writeFileSync(files.pid, `${process.pid}\n`);
  log(`running: pid ${process.pid}, ${machine.cpus} CPUs on ${machine.workers} worker threads`);
  const onSignal = () => {
    stopping = true;
    busy = busy.then(shutdown);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  await finished;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
}
