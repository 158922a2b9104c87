import { readFile } from 'node:fs/promises';
import { FwupError } from '../../errors/fwup-error.js';
import { sha256Hex } from '../../util/digest.js';
import { rebootHost, type RebootReport } from '../host-reboot.js';
import type { HostState } from '../host-state.js';
import { ActionLog } from '../plan.js';
import type { ApplyOutcome, ApplyRequest, TargetDeps } from '../target.js';
import type { FlashromCli, RegionSelector } from './flashrom-cli.js';
import type { BlockCounts } from './flashrom-output.js';
import type { FlashromBackup, FlashromHistoryLine } from './flashrom-results.js';

export const BACKUP = 'backup.bin';
export const BACKUP_RECORD = 'backup.json';

export interface WriteJob {
  action: 'install' | 'rollback';
  /** The bytes to write: region-sized for a region, chip-sized otherwise. */
  source: Buffer;
  sourcePath: string;
  region: { name: string; start: number; end: number } | null;
  selector: RegionSelector;
  /** The chip's SHA-256 at stage time, or null (rollback). */
  expectBefore: string | null;
  version: string;
  versionNumber: number;
  /** State files removed once the write is verified. */
  consumes: string[];
}

/**
 * The write path shared by apply and rollback: read the chip and keep that content durably as the
 * backup *before* anything is written (if it cannot be kept, nothing is written), write with flashrom,
 * read back and compare, then record history. A half-finished write thus always has its way back.
 */
export async function writeChip(
  req: ApplyRequest,
  job: WriteJob,
  ctx: { spec: string; programmer: string; state: HostState; cli: FlashromCli; chipSize: number; deps: TargetDeps; sudo: boolean },
): Promise<ApplyOutcome> {
  const { state, cli, chipSize } = ctx;
  const log = new ActionLog(req.dryRun, ctx.deps.afterAction);
  const started = Date.now();
  const phases: Array<{ name: string; ms: number }> = [];
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try {
      return await fn();
    } finally {
      phases.push({ name, ms: Date.now() - t });
    }
  };
  const backupTmp = state.temp('backup');
  const writeTmp = state.temp('write');
  const readbackTmp = state.temp('readback');
  try {
    req.onProgress?.({ phase: 'read', done: 0, total: chipSize });
    await log.run({ kind: 'exec', argv: cli.argv(['-r', backupTmp]), purpose: 'read the chip: the backup, and the check that it is what stage saw' }, () =>
      timed('read', () => cli.read(backupTmp)),
    );
    const before = log.dryRun ? null : await readFile(backupTmp);
    const beforeSha = before ? sha256Hex(before) : '';
    if (before && before.length !== chipSize) throw new FwupError('HELPER_FAILED', `flashrom read ${before.length} bytes from a ${chipSize}-byte chip`, { hint: 'check the programmer; nothing was written' });
    if (before && job.expectBefore && beforeSha !== job.expectBefore) {
      throw new FwupError('TARGET_CHANGED', `the chip changed since the image was staged (sha256 ${job.expectBefore.slice(0, 16)}… then, ${beforeSha.slice(0, 16)}… now)`, {
        hint: 'something else wrote the chip; nothing was written: stage the image again if it is still what you want',
      });
    }
    const now = ctx.deps.now().toISOString();
    // The way back is made durable before the first byte of the chip can change.
    await log.run({ kind: 'write', path: state.path(BACKUP), bytes: chipSize, purpose: 'keep the chip content from before the write (rollback), durably, before writing' }, async () => {
      await state.writeBytes(BACKUP, before!);
      await state.write<FlashromBackup>(BACKUP_RECORD, { recordVersion: 1, size: before!.length, sha256: beforeSha, savedAt: now, replacedBy: job.version });
    });
    // A region is written by giving flashrom a whole-chip file: the current content with the region replaced.
    let writePath = job.sourcePath;
    if (job.region) {
      writePath = writeTmp;
      await log.run({ kind: 'write', path: writeTmp, bytes: chipSize, purpose: `the chip's current content with region ${job.region.name} replaced` }, async () => {
        const merged = Buffer.from(before!);
        job.source.copy(merged, job.region!.start);
        await state.writeFileAt(writeTmp, merged);
      });
    }
    const range = job.region ? { start: job.region.start, size: job.region.end - job.region.start + 1 } : { start: 0, size: chipSize };
    let blocks: BlockCounts | undefined;
    try {
      blocks = await log.run({ kind: 'exec', argv: cli.writeArgs(writePath, job.selector), purpose: 'erase, write and verify (flashrom)' }, () =>
        timed('write', () => cli.write(writePath, job.selector, range, (p) => req.onProgress?.({ phase: p.phase, done: p.done, total: p.total }))),
      );
    } catch (e) {
      if (!(e instanceof FwupError)) throw e;
      const unchanged = e.details?.chipState === 'unchanged';
      await state.appendHistory(historyLine(now, job, beforeSha, '', 1, `write failed: ${e.message.slice(0, 120)}`)).catch(() => {});
      throw new FwupError(e.code, e.message, {
        hint: unchanged
          ? `${e.hint ?? ''}. flashrom reports that the chip was not changed.`
          : `${e.hint ?? ''}. The chip may be partly written: its previous content is saved (${state.path(BACKUP)}); restore it with \`fwup rollback --target ${ctx.spec}\` before rebooting.`,
        details: { ...e.details, chip: unchanged ? 'unchanged' : 'unknown state' },
      });
    }
    req.onProgress?.({ phase: 'read-back', done: 0, total: chipSize });
    await log.run({ kind: 'exec', argv: cli.argv(['-r', readbackTmp]), purpose: 'read back' }, () => timed('read-back', () => cli.read(readbackTmp)));
    log.note({ kind: 'check', purpose: job.region ? `region ${job.region.name} equals the image, every other byte is unchanged` : 'the chip equals the image' });
    let afterSha = '';
    if (!log.dryRun) {
      const after = await readFile(readbackTmp);
      afterSha = sha256Hex(after);
      const problem = compareReadBack(after, before!, job);
      if (problem) {
        await state.appendHistory(historyLine(now, job, beforeSha, afterSha, 1, `read-back differs: ${problem}`)).catch(() => {});
        throw new FwupError('FLASH_VERIFY', `read-back after the write does not match: ${problem}`, {
          hint: `the chip holds something else than intended; its previous content is saved: \`fwup rollback --target ${ctx.spec}\` writes it back`,
        });
      }
    }
    for (const name of job.consumes) {
      await log.run({ kind: 'remove', path: state.path(name), purpose: 'the request is done' }, () => state.remove(name));
    }
    await log.run({ kind: 'write', path: state.path('history.jsonl'), bytes: 0, purpose: 'history entry' }, () =>
      state.appendHistory(historyLine(now, job, beforeSha, afterSha, 0, `${job.region ? `region ${job.region.name}` : 'whole chip'}: sha256 ${beforeSha.slice(0, 12)}… -> ${afterSha.slice(0, 12)}…`)),
    );
    let reboot: RebootReport | null = null;
    if (req.reboot) reboot = await rebootHost(ctx.deps, req.mode, ctx.sudo, log);
    return {
      target: ctx.spec,
      kind: 'flashrom',
      ok: true,
      plan: log.actions,
      dryRun: log.dryRun,
      report: {
        action: job.action, programmer: ctx.programmer, chipSize, region: job.region, version: job.version,
        before: { sha256: beforeSha || null }, after: { sha256: afterSha || null }, blocks: blocks ?? null, verified: !log.dryRun,
        backup: log.dryRun ? null : state.path(BACKUP), reboot, durationMs: Date.now() - started, phases,
      },
    };
  } finally {
    for (const p of [backupTmp, writeTmp, readbackTmp]) await state.discard(p);
  }
}

function historyLine(time: string, job: WriteJob, before: string, after: string, status: number, detail: string): FlashromHistoryLine {
  return { time, action: status === 0 ? job.action : 'failed', version: job.version, versionNumber: job.versionNumber, region: job.region?.name ?? null, before, after, status, detail };
}

/** null when the read-back is what the write meant; else what differs. */
function compareReadBack(after: Buffer, before: Buffer, job: WriteJob): string | null {
  if (after.length !== before.length) return `read ${after.length} bytes, expected ${before.length}`;
  if (!job.region) return after.equals(job.source) ? null : `the chip (sha256 ${sha256Hex(after).slice(0, 16)}…) is not the image (${sha256Hex(job.source).slice(0, 16)}…)`;
  const { start, end, name } = job.region;
  if (!after.subarray(start, end + 1).equals(job.source)) return `region ${name} is not the image`;
  if (!after.subarray(0, start).equals(before.subarray(0, start)) || !after.subarray(end + 1).equals(before.subarray(end + 1))) {
    return `bytes outside region ${name} changed`;
  }
  return null;
}
