import { test } from 'node:test';
import assert from 'node:assert/strict';
import CRC32 from 'crc-32';
import { crc32 } from '../src/util/crc32.js';
import { prngBytes } from './helpers/cli.js';

test('crc32: the native path for bulk data and the crc-32 package agree, whole and chained, at every size around the switch', () => {
  let checked = 0;
  for (const n of [0, 1, 3, 4095, 4096, 4097, 65536, 1 << 20]) {
    const b = prngBytes(n + 1, n);
    const ref = CRC32.buf(b) >>> 0;
    assert.equal(crc32(b), ref, `${n} bytes`);
    // A running CRC continued across a small and a large piece gives the one of the whole.
    const cut = Math.min(n, 100);
    assert.equal(crc32(b.subarray(cut), crc32(b.subarray(0, cut))), ref, `${n} bytes, chained`);
    checked++;
  }
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926, 'the CRC-32 check value');
  assert.equal(checked, 8);
});
