import { open, rm } from 'node:fs/promises';
import { FwupError } from '../errors/fwup-error.js';
import type { BmcEngine } from '../targets/emu/bmc/bmc-updates.js';
import { silentLogger, type Context } from './context.js';
import { httpGet } from './http-get.js';
import { httpStatusError, networkError } from './net-errors.js';
import { stage } from './stage.js';

/**
 * What the emulated BMC runs for an update that arrives over Redfish: the same stage engine as `fwup
 * stage` (verification, policy, write, read back, record), and a bounded download for SimpleUpdate.
 */
export function bmcEngine(ctx: Context, dir: string): BmcEngine {
  const quiet: Context = { ...ctx, log: silentLogger, progress: { start: () => ({ update() {}, succeed() {}, fail() {} }) } };
  return {
    async stage(path, flags) {
      const r = await stage(quiet, path, { target: `emu:${dir}`, allowOlder: flags.allowOlder, allowReinstall: flags.allowReinstall, allowUnsigned: flags.allowUnsigned });
      return { version: r.staged.version, fileSha256: r.staged.fileSha256, size: r.staged.size };
    },
    async download(url, dest, maxBytes) {
      const u = new URL(url);
      const got = await httpGet(u, { headers: {}, headersTimeoutMs: 30_000, maxRedirects: 5, allowInsecureRedirect: false, log: silentLogger });
      const res = got.response;
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => {});
        throw httpStatusError(res.status, res.statusText, url);
      }
      const declared = Number(res.headers.get('content-length') ?? NaN);
      if (declared > maxBytes) {
        await res.body?.cancel().catch(() => {});
        throw new FwupError('NET_TOO_LARGE', `${url} is ${declared} bytes; the BMC takes images of at most ${maxBytes}`);
      }
      const file = await open(dest, 'wx', 0o600);
      let size = 0;
      try {
        for await (const chunk of res.body ?? []) {
          size += chunk.length;
          if (size > maxBytes) throw new FwupError('NET_TOO_LARGE', `${url} sends more than ${maxBytes} bytes`);
          await file.write(chunk);
        }
        await file.sync();
      } catch (e) {
        await file.close();
        await rm(dest, { force: true });
        throw e instanceof FwupError ? e : networkError(e, { url, bytesSoFar: size, resumable: false });
      }
      await file.close();
    },
  };
}
