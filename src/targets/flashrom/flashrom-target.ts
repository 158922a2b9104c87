import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';
import { sha256Hex } from '../../util/digest.js';
import { acquireLock } from '../lock-file.js';
import { ActionLog } from '../plan.js';
import { routeForRootHelper, type Route } from '../privilege.js';
import { rebootHost, type RebootReport } from '../host-reboot.js';
import {
  appendHistory, readHistory, readRecord, removeIfPresent, stateName, writeFileDurably, writeRecord,
} from '../state-records.js';
import type {
  ApplyOutcome, ApplyRequest, HistoryItem, StageOptions, StageResult, StagedSummary, Target, TargetDeps, TargetFacts,
  TargetOptions, TargetStatus, VerifiedImage,
} from '../target.js';
import { FlashromCli, programmerNeedsRoot, type RegionSelector } from './flashrom-cli.js';
import type { BlockCounts } from './flashrom-output.js';
import { findRegion, ifdRegions, parseLayoutFile, regionSize, type FlashRegion } from './flash-regions.js';

/** The staged request: `request.json` beside `image.bin` (the bytes flashrom will write). */
interface FlashromRequest {
  recordVersion: 1;
  target: string;
  programmer: string;
  /** null: the whole chip. layoutFile is fwup's copy (layout.txt), so an edit of the user's file cannot move the write. */
  region: { name: string; start: number; end: number; source: 'layout' | 'ifd'; layoutFile: string | null; layoutSource: string | null } | null;
  image: { size: number; sha256: string; crc32: number; format: StagedSummary['format']; version: string; versionNumber: number; source: string };
  /** The chip as read at stage time; apply refuses if it changed since. */
  chipBefore: { size: number; sha256: string };
  stagedAt: string;
}

/** The chip's content before the last write, kept for `fwup rollback`. */
interface FlashromBackup {
  recordVersion: 1;
  size: number;
  sha256: string;
  savedAt: string;
  /** What replaced it. */
  replacedBy: string;
}

interface HistoryLine {
  time: string;
  action: 'install' | 'rollback';
  version: string;
  versionNumber: number;
  region: string | null;
  before: string;
  after: string;
  status: number;
  detail: string;
}

const REQUEST = 'request.json';
const IMAGE = 'image.bin';
const LAYOUT = 'layout.txt';
const BACKUP = 'backup.bin';
const BACKUP_RECORD = 'backup.json';
const HISTORY = 'history.jsonl';

/**
 * A real SPI flash chip through flashrom: `flashrom:PROGRAMMER[:PARAMS]`. Stage keeps the bytes to
 * write and a request under fwup's state directory and records the chip's digest; apply reads the chip
 * (the backup), writes with flashrom (erase, write, verify), reads it back and compares.
 */
export class FlashromTarget implements Target {
  readonly kind = 'flashrom' as const;
  readonly spec: string;
  readonly dir: string;
  private sizeCache: number | null = null;
  private cliCache: FlashromCli | null = null;

  constructor(
    readonly programmer: string,
    private readonly deps: TargetDeps,
    private readonly opts: TargetOptions,
  ) {
    this.spec = `flashrom:${programmer}`;
    this.dir = join(deps.stateDir, 'flashrom', stateName(programmer));
  }

  async lock(timeoutMs: number): Promise<() => Promise<void>> {
    await mkdir(this.dir, { recursive: true });
    return acquireLock(join(this.dir, 'lock'), timeoutMs, `flashrom target ${this.programmer}`);
  }

  /** flashrom, run directly or through sudo; refuses here (before anything runs) when root is missing. */
  private cli(): FlashromCli {
    if (this.cliCache) return this.cliCache;
    let route: Route = 'direct';
    if (programmerNeedsRoot(this.programmer)) {
      route = routeForRootHelper(this.deps, this.opts.sudo, ['flashrom', '-p', this.programmer], 'the programmer drives the hardware directly');
    }
    return (this.cliCache = new FlashromCli(this.deps.exec, this.programmer, route, this.deps.cwd));
  }

  private async chipSize(): Promise<number> {
    return (this.sizeCache ??= await this.cli().chipSize());
  }

  async facts(): Promise<TargetFacts> {
    await this.chipSize(); // a missing chip or programmer fails here, before the image is even read
    return {
      kind: 'flashrom',
      spec: this.spec,
      platform: null,
      activeVersion: null,
      activeVersionNumber: null,
      lowestSupportedVersion: 0,
      securityVersion: 0,
      // A flash chip checks no signatures and fwup holds no keys for it: a signed .fwup is reported
      // "not verified"; an unsigned image (every raw dump) needs --allow-unsigned, the explicit consent.
      hasTrustedKeys: false,
      development: true,
      // The exact size rule (image = chip or region) is enforced by stage, which knows the region.
      capacity: Number.MAX_SAFE_INTEGER,
      trustedKeys: [],
      rawWithoutVersion: true,
    };
  }

  async stage(image: VerifiedImage, opts: StageOptions): Promise<StageResult> {
    if (image.format === 'capsule') {
      throw new FwupError('TARGET_UNSUPPORTED', 'a UEFI capsule is not a flash image: flashrom writes raw bytes', {
        hint: 'give the capsule to the firmware with --target uefi, or stage the raw payload',
      });
    }
    const log = new ActionLog(opts.dryRun);
    const chipSize = await this.chipSize();
    const payload = { offset: image.report.payloadOffset, size: image.report.payloadSize, sha256: image.report.sha256 };
    const selection = await this.selection(chipSize);
    if (selection.region) checkSize(payload.size, regionSize(selection.region), `region ${selection.region.name}`);
    else if (!selection.ifd) checkSize(payload.size, chipSize, `the ${chipSize}-byte chip`);

    const existing = await readRecord<FlashromRequest>(join(this.dir, REQUEST), 'staged request');
    const chipTmp = join(this.dir, `.chip-${process.pid}.tmp`);
    try {
      await log.run({ kind: 'exec', argv: this.cli().argv(['-r', chipTmp]), purpose: 'read the chip: its digest before the update' }, () => this.cli().read(chipTmp));
      let region = selection.region;
      let chipSha = '';
      let bytes: Buffer | null = null;
      if (log.dryRun) {
        if (selection.ifd) log.note({ kind: 'check', purpose: `the image must be exactly the size of IFD region ${this.opts.region} (read from the chip)` });
      } else {
        const chip = await readFile(chipTmp);
        if (chip.length !== chipSize) throw new FwupError('HELPER_FAILED', `flashrom read ${chip.length} bytes from a ${chipSize}-byte chip`);
        chipSha = sha256Hex(chip);
        if (selection.ifd) {
          region = findRegion(ifdRegions(chip), this.opts.region!, chipSize, "the chip's Intel Flash Descriptor");
          checkSize(payload.size, regionSize(region), `IFD region ${region.name}`);
        }
        bytes = await readPayload(image.path, payload);
        const current = region ? chip.subarray(region.start, region.end + 1) : chip;
        if (!opts.allowReinstall && current.equals(bytes)) {
          throw new FwupError('NOTHING_TO_DO', `the chip already holds this image${region ? ` in region ${region.name}` : ''}`, {
            hint: 'pass --allow-reinstall to stage it anyway',
          });
        }
        if (existing && existing.image.sha256 === payload.sha256 && existing.chipBefore.sha256 === chipSha && sameRegion(existing.region, region)) {
          throw new FwupError('NOTHING_TO_DO', `this image (sha256 ${payload.sha256.slice(0, 16)}…) is already staged`, { hint: 'apply it with `fwup apply`' });
        }
      }
      const now = this.deps.now().toISOString();
      const request: FlashromRequest = {
        recordVersion: 1,
        target: this.spec,
        programmer: this.programmer,
        region: region
          ? {
              name: region.name, start: region.start, end: region.end, source: selection.ifd ? 'ifd' : 'layout',
              layoutFile: selection.layout ? join(this.dir, LAYOUT) : null, layoutSource: selection.layout?.path ?? null,
            }
          : null,
        image: {
          size: payload.size, sha256: payload.sha256, crc32: image.report.crc32, format: image.format,
          version: image.report.version, versionNumber: image.report.versionNumber, source: image.path,
        },
        chipBefore: { size: chipSize, sha256: chipSha },
        stagedAt: now,
      };
      const imagePath = join(this.dir, IMAGE);
      await log.run({ kind: 'write', path: imagePath, bytes: payload.size, purpose: 'the bytes to write' }, () => writeFileDurably(imagePath, bytes!));
      const layout = selection.layout;
      if (layout) {
        const copy = join(this.dir, LAYOUT);
        await log.run({ kind: 'write', path: copy, bytes: layout.text.length, purpose: `a copy of ${layout.path}: the layout flashrom gets at apply` }, () =>
          writeFileDurably(copy, Buffer.from(layout.text)),
        );
      }
      opts.onProgress?.(payload.size, payload.size);
      const requestPath = join(this.dir, REQUEST);
      await log.run({ kind: 'write', path: requestPath, bytes: 0, purpose: 'the update request (with its SHA-256)' }, () => writeRecord(requestPath, request));
      return {
        staged: summary(request),
        replaced: existing !== null,
        write: null,
        plan: log.actions,
        dryRun: log.dryRun,
        details: { programmer: this.programmer, chipSize, region: request.region, chipBefore: log.dryRun ? null : request.chipBefore },
      };
    } finally {
      await removeIfPresent(chipTmp);
    }
  }

  /** The whole chip, a region of a layout file, or a region of the IFD (known only once the chip is read). */
  private async selection(chipSize: number): Promise<{ region: FlashRegion | null; ifd: boolean; layout: { path: string; text: string } | null }> {
    const { region, layout, ifd } = this.opts;
    if (!region) {
      if (layout || ifd) {
        throw new FwupError('USAGE', '--layout and --ifd say where regions are: name the one to write with --region NAME', {
          hint: 'without --region, fwup writes the whole chip and needs a chip-sized image',
        });
      }
      return { region: null, ifd: false, layout: null };
    }
    if (layout && ifd) throw new FwupError('USAGE', 'give either --layout FILE or --ifd, not both', { hint: '--ifd reads the regions from the chip itself' });
    if (ifd) return { region: null, ifd: true, layout: null };
    if (!layout) {
      throw new FwupError('USAGE', `--region ${region} needs to know where the regions are`, {
        hint: 'add --layout FILE (flashrom layout: START:END NAME lines), or --ifd for an Intel Flash Descriptor',
      });
    }
    const path = isAbsolute(layout) ? layout : resolve(this.deps.cwd, layout);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      throw new FwupError('FILE_NOT_FOUND', `cannot read the layout file ${path}: ${(e as Error).message}`);
    }
    return { region: findRegion(parseLayoutFile(text, path), region, chipSize, path), ifd: false, layout: { path, text } };
  }

  async unstage(): Promise<boolean> {
    const had = await removeIfPresent(join(this.dir, REQUEST));
    await removeIfPresent(join(this.dir, IMAGE));
    await removeIfPresent(join(this.dir, LAYOUT));
    return had;
  }

  async apply(req: ApplyRequest): Promise<ApplyOutcome> {
    const request = await readRecord<FlashromRequest>(join(this.dir, REQUEST), 'staged request');
    if (!request) throw new FwupError('NOT_STAGED', `nothing is staged for ${this.spec}`, { hint: 'stage an image first: fwup stage IMAGE --target ' + this.spec });
    const imagePath = join(this.dir, IMAGE);
    const bytes = await readFile(imagePath).catch(() => null);
    if (!bytes || bytes.length !== request.image.size || sha256Hex(bytes) !== request.image.sha256) {
      throw new FwupError('TARGET_CORRUPT', `the staged image ${imagePath} is missing or does not match its request`, {
        hint: 'nothing was written to the chip; stage the image again',
      });
    }
    const r = request.region;
    return this.writeChip(req, {
      action: 'install',
      source: bytes,
      sourcePath: imagePath,
      region: r,
      selector: r ? (r.source === 'ifd' ? { ifd: true, region: r.name } : { layoutFile: r.layoutFile!, region: r.name }) : null,
      expectBefore: request.chipBefore.sha256,
      version: request.image.version,
      versionNumber: request.image.versionNumber,
      consumes: [REQUEST, IMAGE, LAYOUT],
    });
  }

  /** Write back the chip content saved before the last write (which itself becomes the new backup). */
  async rollback(req: ApplyRequest): Promise<ApplyOutcome> {
    const record = await readRecord<FlashromBackup>(join(this.dir, BACKUP_RECORD), 'backup record');
    const path = join(this.dir, BACKUP);
    if (!record) throw new FwupError('NOT_STAGED', `there is no saved chip content to roll back to for ${this.spec}`, { hint: 'fwup keeps one after every apply' });
    const bytes = await readFile(path).catch(() => null);
    if (!bytes || sha256Hex(bytes) !== record.sha256) {
      throw new FwupError('TARGET_CORRUPT', `the saved chip content ${path} does not match its record`, { hint: 'nothing was written to the chip' });
    }
    return this.writeChip({ ...req, reboot: false }, {
      action: 'rollback', source: bytes, sourcePath: path, region: null, selector: null, expectBefore: null,
      version: `backup ${record.sha256.slice(0, 12)}`, versionNumber: 0, consumes: [],
    });
  }

  /**
   * The write path shared by apply and rollback: read the chip (backup, and the check that it is what
   * stage saw), write with flashrom, read back and compare, then keep the backup and record history.
   */
  private async writeChip(req: ApplyRequest, job: WriteJob): Promise<ApplyOutcome> {
    const log = new ActionLog(req.dryRun);
    const cli = this.cli();
    const chipSize = await this.chipSize();
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
    const backupTmp = join(this.dir, `.backup-${process.pid}.tmp`);
    const writeTmp = join(this.dir, `.write-${process.pid}.tmp`);
    const readbackTmp = join(this.dir, `.readback-${process.pid}.tmp`);
    let keepBackup = false;
    try {
      req.onProgress?.({ phase: 'read', done: 0, total: chipSize });
      await log.run({ kind: 'exec', argv: cli.argv(['-r', backupTmp]), purpose: 'read the chip: the backup, and the check that it is what stage saw' }, () =>
        timed('read', () => cli.read(backupTmp)),
      );
      const before = log.dryRun ? null : await readFile(backupTmp);
      const beforeSha = before ? sha256Hex(before) : '';
      if (before && job.expectBefore && beforeSha !== job.expectBefore) {
        throw new FwupError('TARGET_CHANGED', `the chip changed since the image was staged (sha256 ${job.expectBefore.slice(0, 16)}… then, ${beforeSha.slice(0, 16)}… now)`, {
          hint: 'something else wrote the chip; nothing was written: stage the image again if it is still what you want',
        });
      }
      // A region is written by giving flashrom a whole-chip file: the current content with the region replaced.
      let writePath = job.sourcePath;
      if (job.region) {
        writePath = writeTmp;
        await log.run({ kind: 'write', path: writeTmp, bytes: chipSize, purpose: `the chip's current content with region ${job.region.name} replaced` }, async () => {
          const merged = Buffer.from(before!);
          job.source.copy(merged, job.region!.start);
          await writeFileDurably(writeTmp, merged);
        });
      }
      const range = job.region ? { start: job.region.start, size: job.region.end - job.region.start + 1 } : { start: 0, size: chipSize };
      let blocks: BlockCounts | undefined;
      try {
        blocks = await log.run({ kind: 'exec', argv: cli.writeArgs(writePath, job.selector), purpose: 'erase, write and verify (flashrom)' }, () =>
          timed('write', () => cli.write(writePath, job.selector, range, (p) => req.onProgress?.({ phase: p.phase, done: p.done, total: p.total }))),
        );
      } catch (e) {
        if (e instanceof FwupError) {
          if (e.details?.chipState !== 'unchanged') {
            keepBackup = true;
            throw new FwupError(e.code, e.message, {
              hint: `${e.hint ?? ''}. The chip may be partly written: its previous content is saved; restore it with \`fwup rollback --target ${this.spec}\` before rebooting.`,
              details: { ...e.details, chip: 'unknown state' },
            });
          }
          throw new FwupError(e.code, e.message, { hint: `${e.hint ?? ''}. flashrom reports that the chip was not changed.`, details: { ...e.details, chip: 'unchanged' } });
        }
        throw e;
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
          keepBackup = true;
          throw new FwupError('FLASH_VERIFY', `read-back after the write does not match: ${problem}`, {
            hint: `the chip holds something else than intended; its previous content is saved: \`fwup rollback --target ${this.spec}\` writes it back`,
          });
        }
      }
      const now = this.deps.now().toISOString();
      await this.keepBackup(log, backupTmp, beforeSha, now, job.version);
      for (const name of job.consumes) {
        await log.run({ kind: 'remove', path: join(this.dir, name), purpose: 'the request is done' }, () => removeIfPresent(join(this.dir, name)));
      }
      const historyPath = join(this.dir, HISTORY);
      const line: HistoryLine = {
        time: now, action: job.action, version: job.version, versionNumber: job.versionNumber, region: job.region?.name ?? null,
        before: beforeSha, after: afterSha, status: 0,
        detail: `${job.region ? `region ${job.region.name}` : 'whole chip'}: sha256 ${beforeSha.slice(0, 12)}… -> ${afterSha.slice(0, 12)}…`,
      };
      await log.run({ kind: 'write', path: historyPath, bytes: 0, purpose: 'history entry' }, () => appendHistory(historyPath, line));
      let reboot: RebootReport | null = null;
      if (req.reboot) reboot = await rebootHost(this.deps, req.mode, this.opts.sudo, log);
      return {
        target: this.spec,
        kind: 'flashrom',
        ok: true,
        plan: log.actions,
        dryRun: log.dryRun,
        report: {
          action: job.action,
          programmer: this.programmer,
          chipSize,
          region: job.region,
          version: job.version,
          before: { sha256: beforeSha || null },
          after: { sha256: afterSha || null },
          blocks: blocks ?? null,
          verified: !log.dryRun,
          backup: log.dryRun ? null : join(this.dir, BACKUP),
          reboot,
          durationMs: Date.now() - started,
          phases,
        },
      };
    } finally {
      if (keepBackup) {
        // The chip may be half written: the content read before the write is the way back.
        await readFile(backupTmp)
          .then((b) => this.keepBackup(new ActionLog(false), backupTmp, sha256Hex(b), this.deps.now().toISOString(), 'a failed write'))
          .catch(() => {});
      }
      for (const p of [backupTmp, writeTmp, readbackTmp]) await removeIfPresent(p);
    }
  }

  private async keepBackup(log: ActionLog, tmp: string, sha: string, now: string, replacedBy: string): Promise<void> {
    const path = join(this.dir, BACKUP);
    await log.run({ kind: 'write', path, bytes: 0, purpose: 'keep the chip content from before the write (for rollback)' }, async () => {
      await syncFile(tmp);
      await rename(tmp, path);
      await writeRecord<FlashromBackup>(join(this.dir, BACKUP_RECORD), { recordVersion: 1, size: (await readFile(path)).length, sha256: sha, savedAt: now, replacedBy });
    });
  }

  async status(): Promise<TargetStatus> {
    const request = await readRecord<FlashromRequest>(join(this.dir, REQUEST), 'staged request');
    const backup = await readRecord<FlashromBackup>(join(this.dir, BACKUP_RECORD), 'backup record');
    const history = await readHistory<HistoryLine>(join(this.dir, HISTORY));
    let chip: Record<string, unknown>;
    try {
      chip = { size: await this.chipSize() };
    } catch (e) {
      chip = { error: e instanceof FwupError ? { code: e.code, message: e.message } : String(e) };
    }
    return {
      target: this.spec,
      kind: 'flashrom',
      programmer: this.programmer,
      stateDir: this.dir,
      chip,
      staged: request ? { ...summary(request), region: request.region, chipBefore: request.chipBefore } : null,
      backup: backup ? { sha256: backup.sha256, size: backup.size, savedAt: backup.savedAt, replacedBy: backup.replacedBy } : null,
      lastWrite: history[history.length - 1] ?? null,
    };
  }

  async history(): Promise<HistoryItem[]> {
    return (await readHistory<HistoryLine>(join(this.dir, HISTORY))).map((h) => ({
      time: h.time, action: h.action, fromVersion: 0, toVersion: h.versionNumber, status: h.status, statusName: h.status === 0 ? 'success' : 'unsuccessful', detail: h.detail,
    }));
  }
}

interface WriteJob {
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

function checkSize(size: number, want: number, what: string): void {
  if (size !== want) {
    throw new FwupError('IMAGE_SIZE_MISMATCH', `the image is ${size} bytes but ${what} is ${want} bytes`, {
      hint: 'flashrom writes exactly the chip or region size: use the image built for this chip, or name a region with --region NAME and --layout FILE (or --ifd)',
    });
  }
}

function sameRegion(a: FlashromRequest['region'], b: FlashRegion | null): boolean {
  return (a === null && b === null) || (a !== null && b !== null && a.name === b.name && a.start === b.start && a.end === b.end);
}

async function readPayload(path: string, p: { offset: number; size: number; sha256: string }): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(p.size);
    const { bytesRead } = await fh.read(buf, 0, p.size, p.offset);
    if (bytesRead !== p.size || sha256Hex(buf) !== p.sha256) {
      throw new FwupError('FILE_IO', `${path} changed while it was being staged`, { hint: 'nothing was staged; run stage again once the file is stable' });
    }
    return buf;
  } finally {
    await fh.close();
  }
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

async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function summary(r: FlashromRequest): StagedSummary {
  return {
    version: r.image.version,
    versionNumber: r.image.versionNumber,
    format: r.image.format,
    size: r.image.size,
    sha256: r.image.sha256,
    crc32: r.image.crc32,
    stagedAt: r.stagedAt,
    flags: r.region ? [`region:${r.region.name}`] : [],
  };
}
