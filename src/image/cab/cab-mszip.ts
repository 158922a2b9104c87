import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { CAB_BLOCK_MAX, MSZIP_SIGNATURE } from './cab-layouts.js';
import { cabInvalid } from './cab-common.js';

/**
 * MSZIP ([MS-MCI] 2.3): each CFDATA block is 'CK' then a complete raw deflate stream, whose window
 * starts with the last 32 KiB the folder produced so far (the previous block's output, in every
 * cabinet a conforming tool writes). zlib's preset dictionary is exactly that window.
 */

/** The largest dictionary deflate can use. */
const WINDOW = CAB_BLOCK_MAX;

/**
 * Inflate one block's data (the 'CK' included) to exactly `cbUncomp` bytes. zlib stops as soon as
 * the output would pass cbUncomp, so a block that inflates further (a zip bomb) costs at most 32 KiB.
 */
export function inflateMsZipBlock(data: Buffer, history: Buffer, cbUncomp: number, where: string): Buffer {
  if (data.length < MSZIP_SIGNATURE.length || !data.subarray(0, MSZIP_SIGNATURE.length).equals(MSZIP_SIGNATURE)) {
    throw cabInvalid(`${where} does not start with the MSZIP signature 'CK'`);
  }
  const dictionary = history.length > WINDOW ? history.subarray(history.length - WINDOW) : history;
  let out: Buffer;
  try {
    out = inflateRawSync(data.subarray(MSZIP_SIGNATURE.length), {
      maxOutputLength: cbUncomp,
      ...(dictionary.length > 0 ? { dictionary } : {}),
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err?.code === 'ERR_BUFFER_TOO_LARGE') {
      throw cabInvalid(`${where} inflates past its cbUncomp of ${cbUncomp} bytes`, 'a block that inflates past its declared size is refused (a zip bomb, or a damaged cabinet)');
    }
    throw cabInvalid(`${where} is not a valid deflate stream (${err?.message ?? String(e)})`);
  }
  if (out.length !== cbUncomp) {
    throw cabInvalid(`${where} inflates to ${out.length} bytes, but its cbUncomp says ${cbUncomp}`);
  }
  return out;
}

/** One MSZIP block ('CK' + a finished raw deflate stream) for `chunk`, the previous block as the window. */
export function deflateMsZipBlock(chunk: Buffer, previous: Buffer): Buffer {
  const dictionary = previous.length > WINDOW ? previous.subarray(previous.length - WINDOW) : previous;
  // Level 9 and default settings: zlib's output is fixed for a given zlib, so the cabinet is reproducible.
  const body = deflateRawSync(chunk, { level: 9, ...(dictionary.length > 0 ? { dictionary } : {}) });
  return Buffer.concat([MSZIP_SIGNATURE, body]);
}
