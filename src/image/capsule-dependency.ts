import { guidFromBytes } from '../util/layout.js';

/**
 * EFI_FIRMWARE_IMAGE_DEP: the dependency expression a capsule image may carry (UEFI 2.10 §23.4,
 * ImageCapsuleSupport bit 1). It sits after the authentication block and before the FMP payload
 * header, so it is signed with the payload. This module finds its end the way edk2's
 * FmpDependencyLib ValidateDependency does and renders it as text; evaluating it is the firmware's job.
 */
export const DEP_OPCODES = {
  PUSH_GUID: 0x00,
  PUSH_VERSION: 0x01,
  VERSION_STR: 0x02,
  AND: 0x03,
  OR: 0x04,
  NOT: 0x05,
  TRUE: 0x06,
  FALSE: 0x07,
  EQ: 0x08,
  GT: 0x09,
  GTE: 0x0a,
  LT: 0x0b,
  LTE: 0x0c,
  END: 0x0d,
  DECLARE_LENGTH: 0x0e,
} as const;

const NAMES = new Map<number, string>(Object.entries(DEP_OPCODES).map(([k, v]) => [v, k]));

export interface DependencyScan {
  /** Bytes up to and including the END opcode; null when the expression is invalid. */
  size: number | null;
  /** Why it is invalid. */
  problem: string | null;
  /** The opcodes as text, e.g. "PUSH_GUID 1234… PUSH_VERSION 0x00000002 GTE END". */
  text: string;
}

/** Walk the opcodes in `bytes` (everything after the authentication block) until END. */
export function scanDependency(bytes: Buffer): DependencyScan {
  const words: string[] = [];
  let at = 0;
  const operandEnd = (n: number) => at + 1 + n;
  while (at < bytes.length) {
    const op = bytes.readUInt8(at);
    const name = NAMES.get(op);
    switch (op) {
      case DEP_OPCODES.PUSH_GUID:
        if (operandEnd(16) > bytes.length) return bad(`PUSH_GUID at +${at} runs past the end of the update image`);
        words.push(`${name} ${guidFromBytes(bytes, at + 1)}`);
        at = operandEnd(16);
        break;
      case DEP_OPCODES.PUSH_VERSION:
      case DEP_OPCODES.DECLARE_LENGTH:
        if (operandEnd(4) > bytes.length) return bad(`${name} at +${at} runs past the end of the update image`);
        words.push(`${name} 0x${bytes.readUInt32LE(at + 1).toString(16).toUpperCase().padStart(8, '0')}`);
        at = operandEnd(4);
        break;
      case DEP_OPCODES.VERSION_STR: {
        const nul = bytes.indexOf(0, at + 1);
        if (nul === -1) return bad(`VERSION_STR at +${at} has no terminating NUL`);
        words.push(`${name} ${JSON.stringify(bytes.subarray(at + 1, nul).toString('utf8'))}`);
        at = nul + 1;
        break;
      }
      case DEP_OPCODES.END:
        words.push('END');
        return { size: at + 1, problem: null, text: words.join(' ') };
      default:
        if (name === undefined) return bad(`unknown opcode 0x${op.toString(16).padStart(2, '0')} at +${at}`);
        words.push(name);
        at += 1;
    }
  }
  return bad('no END opcode before the end of the update image');

  function bad(problem: string): DependencyScan {
    return { size: null, problem, text: words.join(' ') };
  }
}
