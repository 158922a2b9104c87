import { createConnection } from 'node:net';
import { FwupError } from '../../errors/fwup-error.js';
import type { ErrorCode } from '../../errors/codes.js';

/**
 * The control protocol of a running machine: one JSON request per line, one JSON response per line,
 * over the unix socket in the machine directory.
 */
export interface ServiceRequest {
  op: 'status' | 'apply' | 'rollback' | 'stop';
  args?: Record<string, unknown>;
}

export type ServiceResponse = { ok: true; result: unknown } | { ok: false; error: { code: string; message: string; hint: string | null } };

export function encodeError(e: unknown): ServiceResponse {
  if (e instanceof FwupError) return { ok: false, error: { code: e.code, message: e.message, hint: e.hint ?? null } };
  return { ok: false, error: { code: 'INTERNAL', message: `machine service: ${e instanceof Error ? e.message : String(e)}`, hint: 'this is a bug in fwup; see machine.log in the machine directory' } };
}

/** Send one request and wait for its answer. */
export function callService(socket: string, req: ServiceRequest, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(socket);
    let buf = '';
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => {
      conn.destroy();
      settle(() => reject(new FwupError('MACHINE_TIMEOUT', `the running machine did not answer ${req.op} within ${timeoutMs} ms`, { hint: 'see machine.log in the machine directory' })));
    }, timeoutMs);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(`${JSON.stringify(req)}\n`));
    conn.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      conn.end();
      let res: ServiceResponse;
      try {
        res = JSON.parse(buf.slice(0, nl)) as ServiceResponse;
      } catch {
        settle(() => reject(new FwupError('MACHINE_FAILURE', `the running machine answered ${req.op} with something that is not JSON`, { hint: 'see machine.log in the machine directory' })));
        return;
      }
      settle(() => {
        if (res.ok) resolve(res.result);
        else reject(new FwupError(res.error.code as ErrorCode, res.error.message, { hint: res.error.hint ?? 'see machine.log in the machine directory' }));
      });
    });
    // The machine process died (kill -9, a crash) with the request in flight: fail now, not at the timeout.
    conn.on('close', () =>
      settle(() => reject(new FwupError('MACHINE_FAILURE', `the running machine closed the connection without answering ${req.op}: it stopped or crashed`, {
        hint: 'see machine.log in the machine directory; `fwup status` shows what the flash holds now (the next command boots the machine when none runs)',
      }))),
    );
    conn.on('error', (e) =>
      settle(() => reject(new FwupError('MACHINE_FAILURE', `cannot reach the running machine at ${socket}: ${e.message}`, {
        hint: 'the machine process is gone; the next fwup command cleans up after it (fwup machine status)',
      }))),
    );
  });
}
