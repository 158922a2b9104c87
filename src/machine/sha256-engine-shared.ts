/** The words the firmware and the hash engine's thread share (a command register and a done register). */
export const W = { SEQ: 0, CMD: 1, LENGTH: 2, DONE: 3 } as const;
export const CMD = { START: 1, UPDATE: 2, DIGEST: 3, STOP: 4 } as const;

export interface EngineShared {
  ctl: SharedArrayBuffer;
  /** The bytes to hash: the firmware reads flash straight into this buffer. */
  data: SharedArrayBuffer;
  digest: SharedArrayBuffer;
}
