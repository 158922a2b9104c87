import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';
import type { HostState } from '../host-state.js';
import type { StageInput, StageOptions, StageSession, StageSink } from '../target.js';
import type { Connection } from './redfish-connection.js';
import type { RedfishComponent } from './redfish-discovery.js';
import { pushImage, type PushOptions } from './redfish-push.js';
import type { RedfishHistoryLine, RedfishRequest } from './redfish-results.js';
import { followTask, taskError, taskFromReply } from './task-monitor.js';

export const REQUEST = 'request.json';

/** The apply time to stage with: the one asked for, else the latest the BMC offers (so apply sets it off). */
export function stageApplyTime(c: Connection, asked: string | undefined): string | null {
  const offered = c.service.update.pushApplyTimes;
  if (asked) {
    if (offered && !offered.includes(asked)) {
      throw new FwupError('TARGET_UNSUPPORTED', `the BMC does not offer the apply time ${asked}`, { hint: `it offers: ${offered.join(', ')}` });
    }
    return asked;
  }
  if (!offered) return null;
  for (const t of ['OnStartUpdateRequest', 'OnReset', 'Immediate']) if (offered.includes(t)) return t;
  return null;
}

export interface RedfishStageContext {
  spec: string;
  state: HostState;
  conn: Connection;
  release: () => Promise<void>;
  component: RedfishComponent;
  applyTime: string | null;
  push: Omit<PushOptions, 'applyTime' | 'force'>;
  taskTimeoutMs: number;
  now: () => Date;
  log: { info(m: string): void; warn(m: string): void };
}

/**
 * A stage on a BMC: the engine streams the verified bytes into a spool file of fwup's (read back through
 * the same descriptor), then commit pushes that file to the BMC — hashing every byte that goes out — and
 * follows the BMC's task until the image waits for its activation (or is installed, on a BMC that only
 * installs at once). The request record is written when the BMC has accepted the image.
 */
export function redfishStageSession(x: RedfishStageContext, input: StageInput, opts: StageOptions, replaces: boolean): StageSession {
  const spool = x.state.temp('upload');
  let fh: FileHandle | null = null;
  let size = 0;
  const name = basename(input.path);
  return {
    range: 'file',
    replaces,
    async open(): Promise<StageSink> {
      fh = await open(spool, 'w+', 0o600);
      return {
        write: async (chunk) => {
          await fh!.write(chunk, 0, chunk.length, size);
          size += chunk.length;
        },
        finish: async () => {
          // Read back through the same descriptor. No fsync: the spool lives for this command only
          // (the BMC stores the image; a crash before the push leaves nothing staged).
          const h = createHash('sha256');
          const buf = Buffer.alloc(1 << 20);
          for (let at = 0; at < size; ) {
            const { bytesRead } = await fh!.read(buf, 0, Math.min(buf.length, size - at), at);
            if (bytesRead === 0) break;
            h.update(buf.subarray(0, bytesRead));
            at += bytesRead;
          }
          return { readBackSha256: h.digest('hex') };
        },
      };
    },
    async commit(written, progress) {
      const c = x.conn;
      const r = input.verdict.report;
      const pushed = await pushImage(c.client, c.service, x.component, { path: spool, size, sha256: written.sha256, name }, {
        ...x.push, applyTime: x.applyTime, force: opts.allowOlder || opts.allowReinstall,
      });
      let task = null;
      try {
        if (pushed.reply) {
          task = await followTask(c.client, taskFromReply(pushed.reply), { timeoutMs: x.taskTimeoutMs, until: 'await', onProgress: (p) => progress?.(p / 100) });
          const bad = taskError(task, `stage on ${x.spec}`);
          if (bad) throw bad;
          // SimpleUpdate on a BMC that answers before it fetches (HPE iLO: 200 Success, then the download):
          // the image server stays up until the BMC has the image.
          if (pushed.server && pushed.server.served === 0 && !(await pushed.server.waitServed(x.taskTimeoutMs))) {
            throw new FwupError('BMC_TASK_TIMEOUT', `the BMC accepted SimpleUpdate but did not fetch ${pushed.server.url} within ${Math.round(x.taskTimeoutMs / 1000)} s`, {
              hint: 'check that the BMC can reach this host (--serve-address ADDRESS[:PORT]); nothing was staged',
            });
          }
          if (pushed.server && pushed.server.served > 0 && pushed.server.lastSha256 !== written.sha256) {
            throw new FwupError('FILE_IO', `the image server sent bytes hashing to ${pushed.server.lastSha256}, not the verified ${written.sha256}`, { hint: 'run stage again' });
          }
        }
      } finally {
        await pushed.server?.close();
      }
      // A task that is over can still leave the image for the next host reset: a ResetRequired message
      // (iDRAC: "Job completed, server reboot pending") or ResetRequiredOnUpdate (bmcweb's host firmware).
      const resetPending = task !== null && task.state === 'Completed' && (task.resetRequest !== null || x.component.resetRequiredOnUpdate === true);
      const installed = task !== null && task.state === 'Completed' && !resetPending;
      const staged = {
        version: r.version, versionNumber: r.versionNumber, format: r.format, size, fileSha256: written.sha256, payloadSha256: r.sha256,
        stagedAt: x.now().toISOString(), flags: installed ? ['INSTALLED'] : resetPending ? ['AWAITS_RESET'] : task?.awaiting ? [`AWAITS_${task.awaiting.toUpperCase().replace('-', '_')}`] : [],
      };
      if (!opts.dryRun) {
        const record: RedfishRequest = {
          recordVersion: 1, target: x.spec, component: { uri: x.component.uri, id: x.component.id, versionBefore: x.component.version },
          method: pushed.method, applyTime: x.applyTime, task, stagedAt: staged.stagedAt,
          image: { version: r.version, versionNumber: r.versionNumber, fileSha256: written.sha256, size, format: r.format },
        };
        await x.state.write(REQUEST, record);
        const line: RedfishHistoryLine = { time: staged.stagedAt, action: 'stage', version: r.version, versionNumber: r.versionNumber, before: x.component.version, after: null, detail: `${pushed.method}${x.applyTime ? `, apply time ${x.applyTime}` : ''}: task ${task?.uri ?? '-'} ${task?.state ?? '(dry run)'}` };
        await x.state.appendHistory(line);
        if (resetPending) x.log.info(`the BMC holds ${r.version} for the next host reset: fwup apply --cold sets it off`);
        if (installed) x.log.warn(`the BMC installed ${r.version} at once (apply time ${x.applyTime ?? 'its default'}): fwup apply only checks the outcome`);
      }
      return {
        staged,
        details: { kind: 'redfish', bmc: c.client.origin, component: x.component.uri, method: pushed.method, applyTime: x.applyTime, task, sentSha256: pushed.sentSha256 ?? pushed.server?.lastSha256 ?? null, installed },
        plan: c.client.plan,
      };
    },
    async close() {
      await fh?.close().catch(() => {});
      await x.state.discard(spool);
      await x.release();
    },
  };
}
