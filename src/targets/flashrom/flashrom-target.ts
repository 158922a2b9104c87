import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FwupError } from '../../errors/fwup-error.js';
import { sha256Hex } from '../../util/digest.js';
import { HostState } from '../host-state.js';
import { ActionLog, type PlannedAction } from '../plan.js';
import { routeForRootHelper, type Route } from '../privilege.js';
import { stateName } from '../state-records.js';
import type {
  ApplyOutcome, ApplyRequest, HistoryItem, StageInput, StageOptions, StageSession, Target, TargetDeps, TargetFacts, TargetOptions,
} from '../target.js';
import { FlashromCli, programmerNeedsRoot } from './flashrom-cli.js';
import { flashromSummary, type FlashromBackup, type FlashromHistoryLine, type FlashromRequest, type FlashromStatus } from './flashrom-results.js';
import { flashromStageSession, IMAGE, LAYOUT, REQUEST } from './flashrom-stage.js';
import { BACKUP, BACKUP_RECORD, writeChip } from './flashrom-write.js';

/**
 * A real SPI flash chip through flashrom: `flashrom:PROGRAMMER[:PARAMS]`. Stage keeps the bytes to
 * write and a request under fwup's state directory and records the chip's digest; apply reads the chip
 * (the backup, kept before anything is written), writes with flashrom (erase, write, verify), reads it
 * back and compares.
 */
export class FlashromTarget implements Target {
  readonly kind = 'flashrom' as const;
  readonly spec: string;
  readonly dir: string;
  private readonly state: HostState;
  private sizeCache: number | null = null;
  private cliCache: FlashromCli | null = null;

  constructor(readonly programmer: string, private readonly deps: TargetDeps, private readonly opts: TargetOptions) {
    this.spec = `flashrom:${programmer}`;
    this.dir = join(deps.stateDir, 'flashrom', stateName(programmer));
    this.state = new HostState(this.dir, `flashrom target ${programmer}`);
  }

  lock(timeoutMs: number): Promise<() => Promise<void>> {
    return this.state.lock(timeoutMs, (m) => this.deps.log.info(m));
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

  private async ctx() {
    return { spec: this.spec, programmer: this.programmer, state: this.state, cli: this.cli(), chipSize: await this.chipSize(), deps: this.deps, options: this.opts, sudo: this.opts.sudo };
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
      unsignedHint: 'flashrom writes what it is given: pass --allow-unsigned to write an unsigned image (a raw chip dump has no signature)',
      // The exact size rule (image = chip or region) is enforced by stage, which knows the region.
      capacity: { image: Number.MAX_SAFE_INTEGER, slot: Number.MAX_SAFE_INTEGER },
      trustedKeys: [],
      rawWithoutVersion: true,
    };
  }

  async beginStage(input: StageInput, opts: StageOptions): Promise<StageSession> {
    return flashromStageSession(input, opts, await this.ctx());
  }

  async unstage(opts: { dryRun: boolean }): Promise<{ removed: boolean; plan: PlannedAction[] }> {
    const log = new ActionLog(opts.dryRun, this.deps.afterAction);
    const had = (await this.state.read<FlashromRequest>(REQUEST, 'staged request').catch(() => true)) !== null;
    for (const name of [REQUEST, IMAGE, LAYOUT]) {
      await log.run({ kind: 'remove', path: this.state.path(name), purpose: 'the staged update' }, () => this.state.remove(name));
    }
    return { removed: had, plan: log.actions };
  }

  async apply(req: ApplyRequest): Promise<ApplyOutcome> {
    const request = await this.state.read<FlashromRequest>(REQUEST, 'staged request');
    if (!request) throw new FwupError('NOT_STAGED', `nothing is staged for ${this.spec}`, { hint: `stage an image first: fwup stage IMAGE --target ${this.spec}` });
    const imagePath = this.state.path(IMAGE);
    const bytes = await readFile(imagePath).catch(() => null);
    if (!bytes || bytes.length !== request.image.size || sha256Hex(bytes) !== request.image.payloadSha256) {
      throw new FwupError('TARGET_CORRUPT', `the staged image ${imagePath} is missing or does not match its request`, { hint: 'nothing was written to the chip; stage the image again' });
    }
    const r = request.region;
    return writeChip(req, {
      action: 'install',
      source: bytes,
      sourcePath: imagePath,
      region: r,
      selector: r ? (r.source === 'ifd' ? { ifd: true, region: r.name } : { layoutFile: r.layoutFile!, region: r.name }) : null,
      expectBefore: request.chipBefore.sha256,
      version: request.image.version,
      versionNumber: request.image.versionNumber,
      consumes: [REQUEST, IMAGE, LAYOUT],
    }, await this.ctx());
  }

  /** Write back the chip content saved before the last write (which itself becomes the new backup). */
  async rollback(req: ApplyRequest): Promise<ApplyOutcome> {
    const record = await this.state.read<FlashromBackup>(BACKUP_RECORD, 'backup record');
    const path = this.state.path(BACKUP);
    if (!record) throw new FwupError('NOT_STAGED', `there is no saved chip content to roll back to for ${this.spec}`, { hint: 'fwup keeps one before every write' });
    const bytes = await readFile(path).catch(() => null);
    if (!bytes || sha256Hex(bytes) !== record.sha256) {
      throw new FwupError('TARGET_CORRUPT', `the saved chip content ${path} does not match its record`, { hint: 'nothing was written to the chip' });
    }
    // The backup is about to be replaced by the chip's current content: write from a copy of ours.
    const copy = this.state.temp('rollback');
    await this.state.writeFileAt(copy, bytes);
    try {
      return await writeChip({ ...req, reboot: false }, {
        action: 'rollback', source: bytes, sourcePath: copy, region: null, selector: null, expectBefore: null,
        version: `backup ${record.sha256.slice(0, 12)}`, versionNumber: 0, consumes: [],
      }, await this.ctx());
    } finally {
      await this.state.discard(copy);
    }
  }

  async status(): Promise<FlashromStatus> {
    const request = await this.state.read<FlashromRequest>(REQUEST, 'staged request');
    const backup = await this.state.read<FlashromBackup>(BACKUP_RECORD, 'backup record');
    const history = await this.state.history<FlashromHistoryLine>();
    let chip: FlashromStatus['chip'];
    try {
      chip = { size: await this.chipSize() };
    } catch (e) {
      if (!(e instanceof FwupError)) throw e;
      chip = { error: { code: e.code, message: e.message, hint: e.hint } };
    }
    return {
      target: this.spec,
      kind: 'flashrom',
      programmer: this.programmer,
      stateDir: this.dir,
      chip,
      staged: request ? { ...flashromSummary(request), region: request.region, chipBefore: request.chipBefore } : null,
      backup: backup ? { sha256: backup.sha256, size: backup.size, savedAt: backup.savedAt, replacedBy: backup.replacedBy } : null,
      lastWrite: history[history.length - 1] ?? null,
    };
  }

  async history(): Promise<HistoryItem[]> {
    return (await this.state.history<FlashromHistoryLine>()).map((h) => ({
      time: h.time, action: h.action, fromVersion: 0, toVersion: h.versionNumber, toDisplay: h.version, status: h.status,
      statusName: h.status === 0 ? 'success' : 'unsuccessful', detail: h.detail,
    }));
  }
}
