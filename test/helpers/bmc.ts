import { join } from 'node:path';
import { REPO_ROOT, fwup, json } from './cli.js';

export const FIXTURES = join(REPO_ROOT, 'fixtures');

export interface TestBmc {
  /** The machine's --target spec (emu:DIR) and directory. */
  target: string;
  dir: string;
  /** http(s)://127.0.0.1:PORT */
  url: string;
  user: string;
  password: string;
  /** The BMC's self-signed certificate (with tls), for --ca / verify=. */
  certFile: string | null;
  stop(): Promise<void>;
}

/**
 * An emulated machine in `root/name`, trusting the test release key, running in the background with
 * its Redfish BMC on a free loopback port (started through the real CLI, as an operator would).
 */
export async function startBmcMachine(root: string, opts: { name?: string; tls?: boolean; cpus?: number; initArgs?: string[]; env?: Record<string, string>; startArgs?: string[] } = {}): Promise<TestBmc> {
  const dir = join(root, opts.name ?? 'bmc');
  const init = await fwup(['machine', 'init', dir, '--flash-size', '4M', '--cpus', String(opts.cpus ?? 2), ...(opts.initArgs ?? ['--trust', join(FIXTURES, 'keys', 'test-release.pub')])], { cwd: root });
  if (init.code !== 0) throw new Error(`machine init failed: ${init.stderr}`);
  const env = { FWUP_REDFISH_USER: 'operator', FWUP_REDFISH_PASSWORD: 'correct horse battery', ...opts.env };
  const r = await fwup(['machine', 'start', '--target', `emu:${dir}`, '--redfish', '127.0.0.1:0', ...(opts.tls ? ['--tls'] : []), ...(opts.startArgs ?? []), '--json'], { cwd: root, env });
  if (r.code !== 0) throw new Error(`machine start --redfish failed (${r.code}): ${r.stdout}${r.stderr}`);
  const out = json(r) as { pid: number; redfish: { url: string; certFile: string | null; user: string } };
  return {
    target: `emu:${dir}`, dir, url: out.redfish.url, user: env.FWUP_REDFISH_USER, password: env.FWUP_REDFISH_PASSWORD, certFile: out.redfish.certFile,
    stop: async () => {
      await fwup(['machine', 'stop', '--target', `emu:${dir}`], { cwd: root });
      // The directory is removed next: wait until the machine process has really gone.
      const deadline = Date.now() + 15_000;
      while (alive(out.pid)) {
        if (Date.now() > deadline) {
          process.kill(out.pid, 'SIGKILL');
          break;
        }
        await new Promise((done) => setTimeout(done, 20));
      }
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
