import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineLayout, guidFromBytes, guidToBytes } from '../src/util/layout.js';
import { FwupError } from '../src/errors/fwup-error.js';

const demo = defineLayout('Demo', [
  { name: 'magic', type: 'u32', equals: 0x4f4d4544 },
  { name: 'small', type: 'u8', max: 9 },
  { name: 'half', type: 'u16' },
  { name: 'big', type: 'u64' },
  { name: 'id', type: 'guid' },
  { name: 'name', type: 'text', length: 8 },
  { name: 'blob', type: 'bytes', length: 3 },
] as const);

const value = {
  magic: 0x4f4d4544,
  small: 7,
  half: 0xbeef,
  big: 0x0020000000000001n,
  id: '6DCBD5ED-E82D-4C44-BDA1-7194199AD92A',
  name: 'abc',
  blob: Buffer.from([1, 2, 3]),
};

test('layout: offsets and size are derived from the field list', () => {
  assert.equal(demo.size, 4 + 1 + 2 + 8 + 16 + 8 + 3);
  assert.equal(demo.offsetOf('big'), 7);
  assert.equal(demo.offsetOf('id'), 15);
  assert.equal(demo.sizeOf('name'), 8);
});

test('layout: serialize then parse gives the same value, 64-bit exact', () => {
  const bytes = demo.serialize(value);
  assert.equal(bytes.length, demo.size);
  const back = demo.parse(bytes);
  assert.deepEqual(back, value);
  assert.equal(back.big, 2n ** 53n + 1n);
  assert.deepEqual(demo.serialize(back), bytes);
});

test('layout: parse at an unaligned offset inside a larger buffer', () => {
  const buf = Buffer.alloc(demo.size + 5, 0xaa);
  demo.serialize(value, buf, 5);
  assert.deepEqual(demo.parse(buf, 5), value);
});

test('layout: a short buffer is IMAGE_TRUNCATED naming the struct', () => {
  const bytes = demo.serialize(value);
  assert.throws(() => demo.parse(bytes.subarray(0, demo.size - 1)), (e: unknown) => {
    assert.ok(e instanceof FwupError);
    assert.equal(e.code, 'IMAGE_TRUNCATED');
    assert.match(e.message, /Demo needs 42 bytes/);
    return true;
  });
});

test('layout: constant and range violations name the field', () => {
  const bytes = demo.serialize(value);
  const badMagic = Buffer.from(bytes);
  badMagic[0] = 0;
  assert.throws(() => demo.parse(badMagic), /Demo\.magic is 0x4F4D4500, expected 0x4F4D4544/);
  const badSmall = Buffer.from(bytes);
  badSmall[4] = 10;
  assert.throws(() => demo.parse(badSmall), /Demo\.small is 10, above the maximum 9/);
  assert.throws(() => demo.serialize({ ...value, small: 12 }), /above the maximum/);
});

test('layout: text fields reject garbage after the NUL, invalid UTF-8 and overlong strings', () => {
  const bytes = demo.serialize(value);
  const at = demo.offsetOf('name');
  const junk = Buffer.from(bytes);
  junk[at + 6] = 0x41;
  assert.throws(() => demo.parse(junk), /Demo\.name has bytes after its terminating NUL/);
  const badUtf8 = Buffer.from(bytes);
  badUtf8[at] = 0xff;
  assert.throws(() => demo.parse(badUtf8), /Demo\.name is not valid UTF-8/);
  assert.throws(() => demo.serialize({ ...value, name: '123456789' }), /longer than 8 bytes/);
  // Exactly the field length needs no NUL.
  assert.equal(demo.parse(demo.serialize({ ...value, name: '12345678' })).name, '12345678');
});

test('guid: mixed-endian UEFI byte order round-trips', () => {
  const b = guidToBytes('6DCBD5ED-E82D-4C44-BDA1-7194199AD92A');
  assert.equal(b.toString('hex'), 'edd5cb6d2de8444cbda17194199ad92a');
  assert.equal(guidFromBytes(b), '6DCBD5ED-E82D-4C44-BDA1-7194199AD92A');
  assert.throws(() => guidToBytes('not-a-guid'), /not a GUID/);
});
