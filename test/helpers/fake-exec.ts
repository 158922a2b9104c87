import type { Exec, ExecResult } from '../../src/targets/exec.js';

/** A recording exec for in-process runs: where a helper must not run for real (a reboot, sudo). */
export interface FakeExec {
  exec: Exec;
  calls: string[][];
}

export function fakeExec(answer: (argv: string[]) => Partial<ExecResult> = () => ({})): FakeExec {
  const calls: string[][] = [];
  return {
    calls,
    exec: async (file, args) => {
      const argv = [file, ...args];
      calls.push(argv);
      return { exitCode: 0, stdout: '', stderr: '', spawnError: null, ...answer(argv) };
    },
  };
}
