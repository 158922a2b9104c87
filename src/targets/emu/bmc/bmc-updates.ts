import { mkdirSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { FwupError } from '../../../errors/fwup-error.js';
import { message } from '../../../targets/redfish/redfish-messages.js';
import type { LiveMachine } from '../live-machine.js';
import { HttpError, declaredLength } from './bmc-http.js';
import { APPLY_TIMES, SYSTEM_FIRMWARE, URI, inventoryUri, type ApplyTime, type ResetType } from './bmc-resources.js';
import { BmcTasks, type BmcTask } from './bmc-tasks.js';
import { MultipartError, multipartBoundary, parseMultipart } from './multipart.js';

/** What the BMC asks of fwup's engine (injected by core: targets never import it). */
export interface BmcEngine {
  /** `fwup stage PATH` on this machine: verify, policy, write, read back, record. */
  stage(path: string, flags: { allowOlder: boolean; allowReinstall: boolean; allowUnsigned: boolean }): Promise<{ version: string; fileSha256: string; size: number }>;
  /** Fetch an ImageURI (http or https) into `dest`, at most `maxBytes`. */
  download(url: string, dest: string, maxBytes: number): Promise<void>;
}

export interface UpdateParameters {
  targets: string[];
  applyTime: ApplyTime;
  force: boolean;
}

export interface BmcUpdateSettings {
  dir: string;
  maxImageBytes: number;
  allowUnsigned: boolean;
  applyTimeoutMs: number;
  log: (m: string) => void;
}

const RETRY_AFTER_S = 5;
const TARGET = inventoryUri(SYSTEM_FIRMWARE);

/** Validate the Targets / apply time / ForceUpdate of an update request (multipart or SimpleUpdate). */
export function updateParameters(body: Record<string, unknown>, defaultApplyTime: ApplyTime, action: string): UpdateParameters {
  const targets = body.Targets ?? [];
  if (!Array.isArray(targets) || targets.some((t) => typeof t !== 'string')) throw new HttpError(400, 'ActionParameterValueNotInList', [JSON.stringify(targets), 'Targets', action]);
  for (const t of targets as string[]) {
    if (t.replace(/\/$/, '') !== TARGET) throw new HttpError(400, 'ActionParameterValueNotInList', [t, 'Targets', action]);
  }
  const at = body['@Redfish.OperationApplyTime'] ?? defaultApplyTime;
  if (typeof at !== 'string' || !(APPLY_TIMES as readonly string[]).includes(at)) throw new HttpError(400, 'ActionParameterValueNotInList', [String(at), '@Redfish.OperationApplyTime', action]);
  const force = body.ForceUpdate ?? false;
  if (typeof force !== 'boolean') throw new HttpError(400, 'ActionParameterValueNotInList', [String(force), 'ForceUpdate', action]);
  return { targets: targets as string[], applyTime: at as ApplyTime, force };
}

/**
 * The update flows of the emulated BMC. Every image goes through fwup's own stage engine and the
 * machine's firmware; Immediate runs the warm apply on the live machine (the OS keeps running), OnReset
 * waits for ComputerSystem.Reset (the cold apply), OnStartUpdateRequest for UpdateService.StartUpdate.
 * One update at a time: a second one while another runs or waits gets 503 with Retry-After.
 */
export class BmcUpdates {
  /** A reset runs (the system's PowerState shows it). */
  resetting: 'PoweringOn' | 'PoweringOff' | null = null;

  constructor(private readonly live: LiveMachine, readonly tasks: BmcTasks, private readonly engine: BmcEngine, private readonly s: BmcUpdateSettings) {
    mkdirSync(this.spoolDir, { recursive: true, mode: 0o700 });
  }

  private get spoolDir(): string {
    return join(this.s.dir, 'bmc-spool');
  }

  ensureIdle(): void {
    if (this.tasks.active() || this.resetting) {
      throw new HttpError(503, 'ServiceTemporarilyUnavailable', [String(RETRY_AFTER_S)], { 'Retry-After': String(RETRY_AFTER_S) });
    }
  }

  /** HttpPushUri: the body is the image. */
  async receivePush(req: IncomingMessage, applyTime: ApplyTime): Promise<BmcTask> {
    this.ensureIdle();
    declaredLength(req, this.s.maxImageBytes);
    return this.receive('HTTP push update', async (file) => {
      let size = 0;
      for await (const c of req as AsyncIterable<Buffer>) {
        size += c.length;
        if (size > this.s.maxImageBytes) throw new HttpError(413, 'PayloadTooLarge');
        await file.write(c);
      }
      if (size === 0) throw new HttpError(400, 'PropertyMissing', ['the image (the request body is empty)']);
      return { targets: [], applyTime, force: false };
    });
  }

  /** MultipartHttpPushUri: UpdateParameters (JSON) and UpdateFile. */
  async receiveMultipart(req: IncomingMessage, defaultApplyTime: ApplyTime): Promise<BmcTask> {
    this.ensureIdle();
    const boundary = multipartBoundary(req.headers['content-type']);
    if (!boundary) throw new HttpError(415, 'UnsupportedMediaType');
    declaredLength(req, this.s.maxImageBytes + 1024 * 1024);
    return this.receive('multipart HTTP push update', async (file) => {
      let parsed;
      try {
        parsed = await parseMultipart(req as AsyncIterable<Buffer>, boundary, 'UpdateFile', file, { maxField: 64 * 1024, maxFile: this.s.maxImageBytes, maxParts: 8, maxHeaderBytes: 8192 });
      } catch (e) {
        if (e instanceof MultipartError) throw e.status === 413 ? new HttpError(413, 'PayloadTooLarge') : new HttpError(400, 'GeneralError', [`malformed multipart body: ${e.message}`]);
        throw e;
      }
      const raw = parsed.fields.get('UpdateParameters');
      if (!raw) throw new HttpError(400, 'ActionParameterMissing', ['MultipartHttpPushUri', 'UpdateParameters']);
      if (!parsed.file || parsed.file.size === 0) throw new HttpError(400, 'ActionParameterMissing', ['MultipartHttpPushUri', 'UpdateFile']);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new HttpError(400, 'MalformedJSON');
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'MalformedJSON');
      return updateParameters(body as Record<string, unknown>, defaultApplyTime, 'MultipartHttpPushUri');
    });
  }

  /** SimpleUpdate: the BMC fetches ImageURI itself (in the task, after the 202). */
  simpleUpdate(body: Record<string, unknown>): BmcTask {
    this.ensureIdle();
    const uri = body.ImageURI;
    if (typeof uri !== 'string' || uri === '') throw new HttpError(400, 'ActionParameterMissing', ['UpdateService.SimpleUpdate', 'ImageURI']);
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new HttpError(400, 'ActionParameterValueNotInList', [uri, 'ImageURI', 'UpdateService.SimpleUpdate']);
    }
    const scheme = url.protocol.replace(':', '').toUpperCase();
    const protocol = body.TransferProtocol ?? scheme;
    if (protocol !== 'HTTP' && protocol !== 'HTTPS') throw new HttpError(400, 'ActionParameterValueNotInList', [String(protocol), 'TransferProtocol', 'UpdateService.SimpleUpdate']);
    if (protocol !== scheme) throw new HttpError(400, 'ActionParameterValueNotInList', [uri, 'ImageURI', 'UpdateService.SimpleUpdate']);
    const params = updateParameters(body, 'Immediate', 'UpdateService.SimpleUpdate');
    const task = this.tasks.create('SimpleUpdate');
    const path = join(this.spoolDir, `image-${task.id}.bin`);
    void this.live.exclusive(async () => {
      this.tasks.progress(task, 5, 'TransferringToComponent', [url.href, TARGET]);
      try {
        await this.engine.download(url.href, path, this.s.maxImageBytes);
      } catch (e) {
        this.fail(task, 'TransferFailed', url.href, e);
        await rm(path, { force: true });
        return;
      }
      await this.install(task, path, url.href, params);
    });
    return task;
  }

  /** ComputerSystem.Reset: a cold apply when an update waits for it, else the reset itself. */
  reset(type: ResetType): void {
    if (this.resetting) throw new HttpError(503, 'ServiceTemporarilyUnavailable', [String(RETRY_AFTER_S)], { 'Retry-After': String(RETRY_AFTER_S) });
    const waiting = this.tasks.awaiting('reset');
    const off = type === 'ForceOff' || type === 'GracefulShutdown';
    this.resetting = off ? 'PoweringOff' : 'PoweringOn';
    // The reset the task asked for is done: its ResetRequired no longer stands. Clients read the
    // task's messages as the operations still pending (Ansible's PerformRequestedOperations resets
    // for each ResetRequired it finds, finished task or not).
    if (waiting && !off) waiting.messages = waiting.messages.filter((m) => !m.MessageId.endsWith('.ResetRequired'));
    void this.live.exclusive(async () => {
      try {
        if (off) {
          await this.live.powerOff();
          this.s.log(`bmc: reset ${type}: the machine is off`);
          return;
        }
        if (type === 'On') await this.live.powerOn(null);
        if (waiting) {
          await this.activate(waiting, 'cold');
        } else if (type !== 'On') {
          await this.live.restart();
        }
        this.s.log(`bmc: reset ${type}${waiting ? ` (installed the update of task ${waiting.id})` : ''}`);
      } catch (e) {
        this.s.log(`bmc: reset ${type} failed: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        this.resetting = null;
      }
    });
  }

  /** UpdateService.StartUpdate: run the update that waits for it (warm). */
  startUpdate(): BmcTask {
    const waiting = this.tasks.awaiting('start-update');
    if (!waiting) throw new HttpError(400, 'GeneralError', ['no update waits for StartUpdate: push one with @Redfish.OperationApplyTime OnStartUpdateRequest first']);
    waiting.awaiting = null;
    void this.live.exclusive(() => this.activate(waiting, 'warm'));
    return waiting;
  }

  /**
   * DELETE on a Task: an update that waits for its activation is withdrawn (the machine's staged request
   * is cleared, as `fwup unstage` does); a finished task is forgotten; a running one cannot be stopped.
   */
  async cancel(task: BmcTask): Promise<void> {
    if (task.end !== null) {
      this.tasks.discard(task);
      return;
    }
    if (!task.awaiting) throw new HttpError(400, 'GeneralError', [`task ${task.id} is running and cannot be cancelled: wait for it to finish`]);
    await this.live.exclusive(async () => {
      const p = this.live.open(null);
      try {
        p.services.clearRequest();
      } finally {
        p.close();
      }
    });
    task.awaiting = null;
    task.state = 'Cancelled';
    task.status = 'Warning';
    task.end = this.tasks.now().toISOString();
    task.messages.push(message('Success'));
    this.s.log(`bmc: task ${task.id} cancelled: the staged update was withdrawn`);
  }

  private async receive(name: string, body: (file: import('node:fs/promises').FileHandle) => Promise<UpdateParameters>): Promise<BmcTask> {
    const task = this.tasks.create(name);
    const path = join(this.spoolDir, `image-${task.id}.bin`);
    const t0 = performance.now();
    let params: UpdateParameters;
    const file = await open(path, 'wx', 0o600);
    try {
      // No fsync: the spool is read at once by the stage engine, and an upload a crash cut short is lost with its task anyway.
      params = await body(file);
    } catch (e) {
      await file.close();
      await rm(path, { force: true });
      // A refused request leaves no task behind: the client got its error, nothing ran.
      this.tasks.discard(task);
      throw e;
    }
    const { size } = await file.stat();
    await file.close();
    this.s.log(`bmc: task ${task.id}: ${name}: received ${size} bytes in ${(performance.now() - t0).toFixed(0)} ms`);
    this.tasks.progress(task, 10, 'TargetDetermined', [TARGET, 'UpdateFile']);
    void this.live.exclusive(() => this.install(task, path, 'UpdateFile', params));
    return task;
  }

  /** Stage through fwup's engine, then activate now or wait for the apply time's trigger. */
  private async install(task: BmcTask, path: string, image: string, params: UpdateParameters): Promise<void> {
    this.tasks.progress(task, 20, 'VerifyingAtComponent', [image, TARGET]);
    try {
      const t0 = performance.now();
      const staged = await this.engine.stage(path, { allowOlder: params.force, allowReinstall: params.force, allowUnsigned: this.s.allowUnsigned });
      task.report = { staged };
      this.s.log(`bmc: task ${task.id}: staged ${staged.version} (${staged.size} bytes, sha256 ${staged.fileSha256}) in ${(performance.now() - t0).toFixed(0)} ms`);
    } catch (e) {
      if (e instanceof FwupError && e.code === 'NOTHING_TO_DO') {
        this.tasks.finish(task, true, 'UpdateSkipped', [TARGET, image, e.message]);
        task.status = 'Warning';
      } else {
        this.fail(task, 'VerificationFailed', image, e);
      }
      return;
    } finally {
      await rm(path, { force: true });
    }
    switch (params.applyTime) {
      case 'Immediate':
        await this.activate(task, 'warm');
        return;
      case 'OnReset':
        task.awaiting = 'reset';
        this.tasks.progress(task, 50, 'AwaitToActivate', [image, TARGET]);
        task.messages.push(message('ResetRequired', [URI.reset, 'ForceRestart']));
        return;
      case 'OnStartUpdateRequest':
        task.awaiting = 'start-update';
        this.tasks.progress(task, 50, 'AwaitToActivate', [image, TARGET]);
        return;
    }
  }

  /** The method on the live machine: warm (the OS keeps running) or cold (the reset the task waited for). */
  private async activate(task: BmcTask, mode: 'warm' | 'cold'): Promise<void> {
    task.awaiting = null;
    this.tasks.progress(task, 60, 'ApplyingOnComponent', ['UpdateFile', TARGET]);
    try {
      const report = await this.live.apply({ mode, kind: 'install', timeoutMs: this.s.applyTimeoutMs, confirm: true, faultPlan: null, corruptSaveCpu: null });
      task.report = { ...(task.report as object), apply: report };
      if (report.ok) {
        this.tasks.finish(task, true, 'UpdateSuccessful', [TARGET, report.after.version]);
      } else {
        const failed = report.checks.find((c) => !c.ok);
        this.tasks.finish(task, false, 'ApplyFailed', ['UpdateFile', TARGET], [message('GeneralError', [`the outcome check failed: ${failed ? `${failed.name}: ${failed.detail}` : 'see the report'}; ${report.reverted ? 'the previous firmware was restored' : 'the firmware was not changed'}`])]);
      }
    } catch (e) {
      this.fail(task, 'ApplyFailed', 'UpdateFile', e);
    }
  }

  private fail(task: BmcTask, key: 'TransferFailed' | 'VerificationFailed' | 'ApplyFailed', image: string, e: unknown): void {
    const why = e instanceof Error ? e.message : String(e);
    const code = e instanceof FwupError ? e.code : 'INTERNAL';
    task.report = { ...(task.report as object | null ?? {}), error: { code, message: why, hint: e instanceof FwupError ? e.hint : null } };
    this.tasks.finish(task, false, key, [image, TARGET], [message('GeneralError', [why])]);
    this.s.log(`bmc: task ${task.id}: ${key}: ${code}: ${why}`);
  }
}
