import { FwupError } from '../errors/fwup-error.js';
import { ERASED, type Flash } from './flash.js';
import { ForwardingFlash } from './forwarding-flash.js';

/**
 * Seeded fault injection around any Flash (as flashrom's fault programmer wraps another backend).
 * Mutating operations (program, erase) are numbered from 1; the plan names which one fails:
 *  - powerCutBefore N: operation N never starts; the machine has lost power.
 *  - tornAt N: operation N is interrupted part-way (a program leaves a prefix written and one byte with
 *    only some of its bits cleared; an erase leaves a prefix erased and a few bytes partly erased), then
 *    power is lost.
 * After the cut every operation fails, as on a machine without power. Reads may flip a bit (seeded).
 */
export interface FaultPlan {
  powerCutBefore?: number;
  tornAt?: number;
  seed?: number;
  /** Probability per read of flipping one bit in the data returned (the stored bytes are unharmed). */
  readBitFlipRate?: number;
}

export class PowerCut extends FwupError {
  constructor(readonly operation: number, torn: boolean) {
    super('POWER_CUT', `power cut ${torn ? 'during' : 'before'} flash operation ${operation} (injected)`, {
      hint: 'the next command on this machine (or `fwup machine boot`) runs the recovery boot',
      details: { operation, torn },
    });
  }
}

export function isPowerCut(e: unknown): e is PowerCut {
  return e instanceof FwupError && e.code === 'POWER_CUT';
}

/** xorshift32: small, fast, reproducible from a seed. */
export class SeededRandom {
  private x: number;
  constructor(seed: number) {
    this.x = seed >>> 0 || 0x6d2b79f5;
  }
  next(): number {
    let x = this.x;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.x = x >>> 0;
    return this.x;
  }
  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }
}

export class FaultyFlash extends ForwardingFlash {
  /** Mutating operations started so far (the torn one included). */
  operations = 0;
  powerLost = false;
  private readonly rng: SeededRandom;

  constructor(inner: Flash, private readonly plan: FaultPlan) {
    super(inner);
    this.rng = new SeededRandom(plan.seed ?? 1);
  }

  override read(offset: number, length: number, into?: Buffer): Buffer {
    this.requirePower();
    const out = this.inner.read(offset, length, into);
    if (this.plan.readBitFlipRate && length > 0 && this.rng.chance(this.plan.readBitFlipRate)) {
      const at = this.rng.below(length);
      out[at] = out[at]! ^ (1 << this.rng.below(8));
    }
    return out;
  }

  override program(offset: number, data: Uint8Array): void {
    const n = this.begin();
    if (n === this.plan.tornAt) {
      this.tornProgram(offset, data);
      this.cut(n, true);
    }
    this.inner.program(offset, data);
  }

  override erase(offset: number, length: number): void {
    const n = this.begin();
    if (n === this.plan.tornAt) {
      this.tornErase(offset, length);
      this.cut(n, true);
    }
    this.inner.erase(offset, length);
  }

  override sync(): void {
    this.requirePower();
    this.inner.sync();
  }

  private requirePower(): void {
    if (this.powerLost) throw new PowerCut(this.operations, false);
  }

  private begin(): number {
    this.requirePower();
    const n = ++this.operations;
    if (n === this.plan.powerCutBefore) this.cut(n, false);
    return n;
  }

  private cut(n: number, torn: boolean): never {
    this.powerLost = true;
    throw new PowerCut(n, torn);
  }

  private tornProgram(offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    const k = this.rng.below(data.length);
    const current = this.inner.read(offset + k, 1)[0]!;
    const partial = Buffer.from(data.subarray(0, k + 1));
    // Byte k: clear only a random subset of the bits the program would have cleared.
    const toClear = current & ~data[k]! & 0xff;
    partial[k] = current & ~(toClear & this.rng.below(256)) & 0xff;
    this.inner.program(offset, partial);
  }

  private tornErase(offset: number, length: number): void {
    const g = this.inner.geometry;
    const k = this.rng.below(length);
    const block = offset + Math.floor(k / g.blockSize) * g.blockSize;
    if (block > offset) this.inner.erase(offset, block - offset);
    // The interrupted block: bytes before the cut erased, a few after it partly erased, the rest as they were.
    const old = this.inner.read(block, g.blockSize);
    const torn = Buffer.from(old);
    const cutAt = k % g.blockSize;
    torn.fill(ERASED, 0, cutAt);
    for (let i = cutAt; i < Math.min(g.blockSize, cutAt + 16); i++) torn[i] = torn[i]! | this.rng.below(256);
    this.inner.erase(block, g.blockSize);
    this.inner.program(block, torn);
  }
}

/** Parse FWUP_FAULT: comma-separated `powercut:N`, `torn:N`, `seed:S`, `bitflip:RATE`. */
export function parseFaultPlan(text: string): FaultPlan {
  const plan: FaultPlan = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(powercut|torn|seed|bitflip):(\S+)$/.exec(part);
    const bad = () =>
      new FwupError('USAGE', `FWUP_FAULT part ${JSON.stringify(part)} is not understood`, {
        hint: 'use comma-separated powercut:N, torn:N, seed:S, bitflip:RATE (see docs/testing.md)',
      });
    if (!m) throw bad();
    const value = m[2]!;
    if (m[1] === 'bitflip') {
      const rate = Number(value);
      if (!(rate >= 0 && rate <= 1)) throw bad();
      plan.readBitFlipRate = rate;
      continue;
    }
    if (!/^\d+$/.test(value) || Number(value) < (m[1] === 'seed' ? 0 : 1)) throw bad();
    const n = Number(value);
    if (m[1] === 'powercut') plan.powerCutBefore = n;
    else if (m[1] === 'torn') plan.tornAt = n;
    else plan.seed = n;
  }
  return plan;
}
