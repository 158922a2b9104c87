import { guidFromBytes } from '../util/layout.js';

/**
 * EFI_FIRMWARE_IMAGE_DEP: the dependency expression a capsule image may carry (UEFI 2.10 §23.4,
 * ImageCapsuleSupport bit 1). It sits after the authentication block and before the FMP payload
 * header, so it is signed with the payload. This module finds its end the way edk2's
 * FmpDependencyLib ValidateDependency does, also refusing what GenerateCapsule's decoder refuses
 * (operand stack underflow, a VERSION_STR that is not UTF-8), and renders it as text; evaluating it is
 * the firmware's job.
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
/** Operands each operator pops (it pushes one result). */
const ARITY = new Map<number, number>([
  [DEP_OPCODES.NOT, 1],
  ...[DEP_OPCODES.AND, DEP_OPCODES.OR, DEP_OPCODES.EQ, DEP_OPCODES.GT, DEP_OPCODES.GTE, DEP_OPCODES.LT, DEP_OPCODES.LTE].map((o) => [o, 2] as [number, number]),
]);
const UTF8 = new TextDecoder('utf-8', { fatal: true });

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
  // Operand stack depth, tracked as edk2 BaseTools CapsuleDependency.py (CapsuleDependencyClass.Decode)
  // does: it refuses a unary operator with no operand, a binary one with fewer than two, and an END
  // that leaves nothing on the stack. A VERSION_STR joins the operand below it, or stands alone.
  let depth = 0;
  const needs = (n: number, label: string) =>
    depth < n ? `${label} at +${at} needs ${n} operand${n > 1 ? 's' : ''} but the operand stack holds ${depth}` : null;
  const operandEnd = (n: number) => at + 1 + n;
  while (at < bytes.length) {
    const op = bytes.readUInt8(at);
    const name = NAMES.get(op);
    switch (op) {
      case DEP_OPCODES.PUSH_GUID:
        if (operandEnd(16) > bytes.length) return bad(`PUSH_GUID at +${at} runs past the end of the update image`);
        words.push(`${name} ${guidFromBytes(bytes, at + 1)}`);
        at = operandEnd(16);
        depth += 1;
        break;
      case DEP_OPCODES.PUSH_VERSION:
      case DEP_OPCODES.DECLARE_LENGTH:
        if (operandEnd(4) > bytes.length) return bad(`${name} at +${at} runs past the end of the update image`);
        words.push(`${name} 0x${bytes.readUInt32LE(at + 1).toString(16).toUpperCase().padStart(8, '0')}`);
        at = operandEnd(4);
        if (op === DEP_OPCODES.PUSH_VERSION) depth += 1;
        break;
      case DEP_OPCODES.VERSION_STR: {
        const nul = bytes.indexOf(0, at + 1);
        if (nul === -1) return bad(`VERSION_STR at +${at} has no terminating NUL`);
        // CapsuleDependency.py (OpConvert.Byte2Str) decodes the string as strict UTF-8 and refuses it otherwise.
        let str: string;
        try {
          str = UTF8.decode(bytes.subarray(at + 1, nul));
        } catch {
          return bad(`VERSION_STR at +${at} is not valid UTF-8`);
        }
        words.push(`${name} ${JSON.stringify(str)}`);
        at = nul + 1;
        if (depth === 0) depth = 1;
        break;
      }
      case DEP_OPCODES.END: {
        const empty = needs(1, 'END');
        if (empty) return bad(empty);
        words.push('END');
        return { size: at + 1, problem: null, text: words.join(' ') };
      }
      default: {
        if (name === undefined) return bad(`unknown opcode 0x${op.toString(16).padStart(2, '0')} at +${at}`);
        const arity = ARITY.get(op);
        if (arity !== undefined) {
          const short = needs(arity, name);
          if (short) return bad(short);
          depth -= arity - 1;
        } else {
          depth += 1; // TRUE, FALSE
        }
        words.push(name);
        at += 1;
      }
    }
  }
  return bad('no END opcode before the end of the update image');

  function bad(problem: string): DependencyScan {
    return { size: null, problem, text: words.join(' ') };
  }
}
