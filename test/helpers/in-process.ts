import { main, type Io } from '../../src/cli/main.js';

/** Run the CLI's main() in this process with captured output: the real code path, thousands of times a second. */
export async function runInProcess(
  argv: string[],
  cwd: string,
  env: Record<string, string> = {},
  extra: Pick<Io, 'uid' | 'exec'> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    argv,
    env,
    cwd,
    stdout: { write: (s: string) => (stdout += s), isTTY: false },
    stderr: { write: (s: string) => (stderr += s), isTTY: false },
    ...extra,
  };
  const code = await main(io);
  return { code, stdout, stderr };
}
