import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { FwupError, fromSystemError } from '../../errors/fwup-error.js';
import { sha256Hex } from '../../util/digest.js';
import type { HostState } from '../host-state.js';
import { ActionLog } from '../plan.js';
import type { StageInput, StageOptions, StageSession, TargetDeps, TargetOptions } from '../target.js';
import type { FlashromCli } from './flashrom-cli.js';
import { flashromSummary, type FlashromRequest } from './flashrom-results.js';
import { findRegion, ifdRegions, parseLayoutFile, regionSize, type FlashRegion } from './flash-regions.js';

export const REQUEST = 'request.json';
export const IMAGE = 'image.bin';
export const LAYOUT = 'layout.txt';

interface Selection {
  region: FlashRegion | null;
  ifd: boolean;
  layout: { path: string; text: string } | null;
}

/**
 * Stage for flashrom: read the chip (its digest is what apply later checks it against) and choose
 * the bytes' place (the whole chip, a region of a layout file, or of the chip's IFD), all before
 * anything is written. The payload then arrives through the sink into a temporary file, is read back,
 * and becomes `image.bin` with the request beside it at commit.
 */
export async function flashromStageSession(
  input: StageInput,
  opts: StageOptions,
  ctx: { spec: string; programmer: string; state: HostState; cli: FlashromCli; chipSize: number; deps: TargetDeps; options: TargetOptions },
): Promise<StageSession> {
  const { verdict } = input;
  if (verdict.format.name === 'capsule') {
    throw new FwupError('TARGET_UNSUPPORTED', 'a UEFI capsule is not a flash image: flashrom writes raw bytes', {
      hint: 'give the capsule to the firmware with --target uefi, or stage the raw payload',
    });
  }
  const { state, cli, chipSize } = ctx;
  const log = new ActionLog(opts.dryRun, ctx.deps.afterAction);
  const report = verdict.report;
  const payload = { size: report.payloadSize, sha256: report.sha256 };
  const selection = await select(ctx.options, ctx.deps.cwd, chipSize);
  if (selection.region) checkSize(payload.size, regionSize(selection.region), `region ${selection.region.name}`);
  else if (!selection.ifd) checkSize(payload.size, chipSize, `the ${chipSize}-byte chip`);

  const existing = await state.read<FlashromRequest>(REQUEST, 'staged request');
  const chipTmp = state.temp('chip');
  let region = selection.region;
  let chipSha = '';
  try {
    await log.run({ kind: 'exec', argv: cli.argv(['-r', chipTmp]), purpose: 'read the chip: its digest before the update' }, () => cli.read(chipTmp));
    if (log.dryRun) {
      if (selection.ifd) log.note({ kind: 'check', purpose: `the image must be exactly the size of IFD region ${ctx.options.region} (read from the chip)` });
    } else {
      const chip = await readFile(chipTmp);
      if (chip.length !== chipSize) throw new FwupError('HELPER_FAILED', `flashrom read ${chip.length} bytes from a ${chipSize}-byte chip`, { hint: 'check the programmer and its connection' });
      chipSha = sha256Hex(chip);
      if (selection.ifd) {
        region = findRegion(ifdRegions(chip), ctx.options.region!, chipSize, "the chip's Intel Flash Descriptor");
        checkSize(payload.size, regionSize(region), `IFD region ${region.name}`);
      }
      const current = region ? chip.subarray(region.start, region.end + 1) : chip;
      if (!opts.allowReinstall && sha256Hex(current) === payload.sha256) {
        throw new FwupError('NOTHING_TO_DO', `the chip already holds this image${region ? ` in region ${region.name}` : ''}`, { hint: 'pass --allow-reinstall to stage it anyway' });
      }
      if (existing && existing.image.payloadSha256 === payload.sha256 && existing.chipBefore.sha256 === chipSha && sameRegion(existing.region, region)) {
        throw new FwupError('NOTHING_TO_DO', `this image (payloadSha256 ${payload.sha256.slice(0, 16)}…) is already staged`, { hint: 'apply it with `fwup apply`' });
      }
    }
  } finally {
    await state.discard(chipTmp);
  }
  const imageTmp = state.temp('image');
  return {
    range: 'payload',
    replaces: existing !== null,
    open: async () => {
      const hash = createHash('sha256');
      let fd = -1;
      await log.run({ kind: 'write', path: state.path(IMAGE), bytes: payload.size, purpose: 'the bytes to write (read back before the request is recorded)' }, async () => {
        fd = openTemp(imageTmp);
      });
      return {
        write: (chunk: Buffer) => {
          hash.update(chunk);
          if (fd >= 0) writeAll(fd, chunk, imageTmp);
        },
        finish: async () => {
          if (fd < 0) return { readBackSha256: hash.digest('hex') }; // a dry run stores nothing: what it would store
          fsyncSync(fd);
          closeSync(fd);
          fd = -1;
          return { readBackSha256: sha256Hex(readFileSync(imageTmp)) };
        },
      };
    },
    commit: async (written) => {
      const request: FlashromRequest = {
        recordVersion: 2,
        target: ctx.spec,
        programmer: ctx.programmer,
        region: region
          ? {
              name: region.name, start: region.start, end: region.end, source: selection.ifd ? 'ifd' : 'layout',
              layoutFile: selection.layout ? state.path(LAYOUT) : null, layoutSource: selection.layout?.path ?? null,
            }
          : null,
        image: {
          size: written.bytes, fileSha256: verdict.fileSha256, payloadSha256: written.sha256, format: verdict.format.name,
          version: report.version, versionNumber: report.versionNumber, source: input.path,
        },
        chipBefore: { size: chipSize, sha256: chipSha },
        stagedAt: ctx.deps.now().toISOString(),
      };
      if (!log.dryRun) await rename(imageTmp, state.path(IMAGE)).catch((e: unknown) => { throw fromSystemError(e, state.path(IMAGE), 'write'); });
      const layout = selection.layout;
      if (layout) {
        await log.run({ kind: 'write', path: state.path(LAYOUT), bytes: layout.text.length, purpose: `a copy of ${layout.path}: the layout flashrom gets at apply` }, () =>
          state.writeBytes(LAYOUT, Buffer.from(layout.text)),
        );
      }
      await log.run({ kind: 'write', path: state.path(REQUEST), bytes: 0, purpose: 'the update request (with its SHA-256)' }, () => state.write(REQUEST, request));
      return {
        staged: flashromSummary(request),
        details: { kind: 'flashrom', programmer: ctx.programmer, chipSize, region: request.region, chipBefore: log.dryRun ? null : request.chipBefore },
        plan: log.actions,
      };
    },
    close: async () => {
      await state.discard(imageTmp);
    },
  };
}

/** The whole chip, a region of a layout file, or a region of the IFD (known only once the chip is read). */
async function select(o: TargetOptions, cwd: string, chipSize: number): Promise<Selection> {
  const { region, layout, ifd } = o;
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
  const path = isAbsolute(layout) ? layout : resolve(cwd, layout);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new FwupError('FILE_NOT_FOUND', `cannot read the layout file ${path}: ${(e as Error).message}`, { hint: 'check the path given to --layout' });
  }
  return { region: findRegion(parseLayoutFile(text, path), region, chipSize, path), ifd: false, layout: { path, text } };
}

export function checkSize(size: number, want: number, what: string): void {
  if (size !== want) {
    throw new FwupError('IMAGE_SIZE_MISMATCH', `the image is ${size} bytes but ${what} is ${want} bytes`, {
      hint: 'flashrom writes exactly the chip or region size: use the image built for this chip, or name a region with --region NAME and --layout FILE (or --ifd)',
    });
  }
}

function sameRegion(a: FlashromRequest['region'], b: FlashRegion | null): boolean {
  return (a === null && b === null) || (a !== null && b !== null && a.name === b.name && a.start === b.start && a.end === b.end);
}

function openTemp(path: string): number {
  try {
    return openSync(path, 'w', 0o600);
  } catch (e) {
    throw fromSystemError(e, path, 'create');
  }
}

function writeAll(fd: number, data: Buffer, path: string): void {
  try {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
  } catch (e) {
    throw fromSystemError(e, path, 'write');
  }
}

