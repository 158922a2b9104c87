import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { BufferSource } from '../src/image/byte-source.js';
import { DEFAULT_CAB_LIMITS, readCabinet, type CabLimits, type Cabinet } from '../src/image/cab/cab-read.js';
import { writeCabinet, type CabInputFile } from '../src/image/cab/cab-write.js';
import { cfDataLayout, cfFileLayout, cfFolderLayout, cfHeaderLayout, cfHeaderReserveLayout } from '../src/image/cab/cab-layouts.js';
import { FwupError } from '../src/errors/fwup-error.js';
import { ERROR_CODES } from '../src/errors/codes.js';
import { REPO_ROOT, prngBytes, tempDir } from './helpers/cli.js';
import { mutate } from './helpers/mutate.js';
import { GCAB, needs } from './helpers/requirements.js';
import { HEADER_AT, craftCabinet, gcab, refreshChecksums, storedBlocks, type RawBlock } from './helpers/cab-craft.js';
import { REJECTIONS } from './helpers/cab-rejections.js';

const read = (b: Buffer, limits?: Partial<CabLimits>): Cabinet => readCabinet(new BufferSource(b, 'test.cab'), limits);

/** Compressible text that still changes from block to block, so MSZIP windows matter. */
function text(bytes: number): Buffer {
  const lines: string[] = [];
  for (let i = 0, n = 0; n < bytes; i++) {
    const l = `line ${i % 311} of ${i % 7} says ${'abcdefgh'.repeat(1 + (i % 5))}\n`;
    lines.push(l);
    n += l.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

const TREE = (): CabInputFile[] => [
  { name: 'a.txt', data: Buffer.from('hello\n') },
  { name: 'sub/r.bin', data: prngBytes(7, 200 * 1024) },
  { name: 'empty', data: Buffer.alloc(0) },
  { name: 'sub/deeper/text.txt', data: text(150 * 1024) },
  { name: 'ünï.txt', data: Buffer.from('a UTF-8 name\n') },
];

async function writeTree(dir: string, files: CabInputFile[]): Promise<void> {
  for (const f of files) {
    await mkdir(dirname(join(dir, f.name)), { recursive: true });
    await writeFile(join(dir, f.name), f.data);
  }
}

function sameFiles(cab: Cabinet, files: CabInputFile[]): void {
  assert.deepEqual(cab.files.map((f) => f.name), files.map((f) => f.name));
  for (const [i, f] of files.entries()) {
    assert.equal(cab.files[i]!.size, f.data.length, `${f.name} size`);
    assert.ok(cab.files[i]!.data.equals(f.data), `${f.name} bytes`);
  }
}

for (const z of [false, true]) {
  test(`cab: a cabinet made by gcab -c${z ? ' -z' : ''} reads back every name and byte`, async (t) => {
    if (!needs(t, GCAB())) return;
    const { dir, cleanup } = await tempDir();
    try {
      const files = TREE();
      await writeTree(dir, files);
      gcab(['-c', ...(z ? ['-z'] : []), 'out.cab', ...files.map((f) => f.name)], dir);
      const cab = read(await readFile(join(dir, 'out.cab')));
      sameFiles(cab, files);
      assert.deepEqual(cab.folders.map((f) => f.compression), [z ? 'mszip' : 'none']);
      assert.equal(cab.folders[0]!.blocks, Math.ceil(files.reduce((n, f) => n + f.data.length, 0) / 0x8000));
      // gcab stores '\' and lists it; fwup hands out '/'.
      const listed = gcab(['-t', 'out.cab'], dir).trim().split('\n');
      assert.deepEqual(listed.map((l) => l.replace(/\\/g, '/')), files.map((f) => f.name));
      assert.ok(listed.includes('sub\\r.bin'));
      assert.equal(cab.files[4]!.attribs & 0x80, 0x80, 'gcab flags the UTF-8 name');
    } finally {
      await cleanup();
    }
  });

  test(`cab: a cabinet written by fwup (compress ${z}) is listed and extracted by gcab byte for byte`, async (t) => {
    if (!needs(t, GCAB())) return;
    const { dir, cleanup } = await tempDir();
    try {
      const files = TREE();
      const bytes = writeCabinet(files, { compress: z, date: new Date('2024-05-06T07:08:10Z') });
      await writeFile(join(dir, 'fw.cab'), bytes);
      const listed = gcab(['-t', 'fw.cab'], dir).trim().split('\n');
      assert.deepEqual(listed, files.map((f) => f.name.replace(/\//g, '\\')));
      const details = gcab(['-l', 'fw.cab'], dir);
      assert.match(details, /^a\.txt 6 2024-05-06 07:08:10 0x20$/m);
      assert.match(details, /^ünï\.txt 13 2024-05-06 07:08:10 0xA0$/m);
      await mkdir(join(dir, 'x'));
      gcab(['-x', '-C', 'x', 'fw.cab'], dir);
      for (const f of files) assert.ok((await readFile(join(dir, 'x', f.name))).equals(f.data), `gcab extracted ${f.name}`);
      if (z) {
        // fwup's blocks use the previous block as their window (gcab's own never do): gcab decoded them.
        const cab = read(bytes);
        let at = cab.folders[0]!.dataOffset;
        let needsWindow = 0;
        for (let k = 0; k < cab.folders[0]!.blocks; k++) {
          const cb = bytes.readUInt16LE(at + 4);
          try {
            inflateRawSync(bytes.subarray(at + 10, at + 8 + cb));
          } catch {
            needsWindow++;
          }
          at += 8 + cb;
        }
        assert.ok(needsWindow > 0, 'some block refers back into the previous one');
      }
    } finally {
      await cleanup();
    }
  });
}

test('cab: write -> read round trip without gcab, every block boundary, both modes, deterministic', () => {
  const shapes: CabInputFile[][] = [
    [],
    [{ name: 'only-empty', data: Buffer.alloc(0) }],
    [{ name: 'exact', data: prngBytes(1, 0x8000) }],
    [{ name: 'one-over', data: prngBytes(2, 0x8001) }, { name: 'dir\\back\\slash', data: text(70000) }],
    TREE(),
  ];
  for (const compress of [false, true]) {
    for (const files of shapes) {
      const bytes = writeCabinet(files, { compress });
      const cab = read(bytes);
      sameFiles(cab, files.map((f) => ({ ...f, name: f.name.replace(/\\/g, '/') })));
      const total = files.reduce((n, f) => n + f.data.length, 0);
      assert.equal(cab.folders.length, files.length ? 1 : 0);
      if (files.length) assert.equal(cab.folders[0]!.blocks, Math.ceil(total / 0x8000));
      assert.ok(cab.files.every((f) => f.modified === '1980-01-01T00:00:00'), 'default date: the MS-DOS epoch');
      assert.ok(writeCabinet(files, { compress }).equals(bytes), 'same input, same bytes');
    }
  }
  const dated = (d: string) => writeCabinet([{ name: 'a', data: Buffer.from('x') }], { compress: true, date: new Date(d) });
  assert.ok(!dated('2024-01-01T00:00:00Z').equals(dated('2024-01-01T00:00:02Z')));
  assert.equal(read(dated('2099-12-31T23:59:58Z')).files[0]!.modified, '2099-12-31T23:59:58');
  const tree = TREE();
  assert.ok(writeCabinet(tree, { compress: true }).length < writeCabinet(tree, { compress: false }).length - 100_000);
});

test('cab: the writer refuses names and dates a cabinet cannot hold', () => {
  const w = (name: string) => () => writeCabinet([{ name, data: Buffer.alloc(1) }], { compress: false });
  const cases: Array<[string, RegExp]> = [
    ['../evil', /has a '\.\.' segment/],
    ['/etc/passwd', /is absolute/],
    ['\\Windows\\x', /is absolute/],
    ['C:/x', /drive letter/],
    ['a\0b', /contains a NUL/],
    ['', /is empty/],
    ['a//b', /empty or '\.' segment/],
    ['x'.repeat(256), /is 256 bytes, over the 255/],
  ];
  for (const [name, re] of cases) assert.throws(w(name), (e: FwupError) => e.code === 'CAB_INVALID' && re.test(e.message), name);
  assert.throws(
    () => writeCabinet([{ name: 'a', data: Buffer.alloc(1) }, { name: 'a', data: Buffer.alloc(2) }], { compress: true }),
    (e: FwupError) => e.code === 'CAB_INVALID' && /appears twice/.test(e.message),
  );
  assert.throws(() => writeCabinet([{ name: 'a', data: Buffer.alloc(1), date: new Date('1979-12-31T00:00:00Z') }], { compress: true }), (e: FwupError) => e.code === 'USAGE');
  const many = Array.from({ length: 0x10000 }, (_, i) => ({ name: `f${i}`, data: Buffer.alloc(0) }));
  assert.throws(() => writeCabinet(many, { compress: false }), (e: FwupError) => e.code === 'IMAGE_TOO_LARGE' && /65536 files: a cabinet holds at most 65535/.test(e.message));
});

test('cab: a cabinet cut short at any point is IMAGE_TRUNCATED, with or without cbCabinet patched to match', () => {
  for (const compress of [false, true]) {
    const full = writeCabinet(TREE(), { compress });
    const cuts = new Set<number>();
    for (let n = 0; n < 200; n++) cuts.add(n);
    for (let n = 200; n < full.length; n += 211) cuts.add(n);
    // Around every CFDATA header: inside it, just after it, one byte into its data.
    let at = read(full).folders[0]!.dataOffset;
    while (at < full.length) {
      for (const d of [0, 1, 7, 8, 9]) cuts.add(at + d);
      at += cfDataLayout.size + full.readUInt16LE(at + cfDataLayout.offsetOf('cbData'));
    }
    cuts.add(full.length - 1);
    for (const n of cuts) {
      const cut = Buffer.from(full.subarray(0, n));
      const check = (b: Buffer, how: string) =>
        assert.throws(() => read(b), (e: unknown) => {
          assert.ok(e instanceof FwupError, `${how}: ${String(e)}`);
          assert.equal(e.code, 'IMAGE_TRUNCATED', `${how}: ${e.message}`);
          assert.match(e.message, /truncated cabinet|needs \d+ bytes at offset/, how);
          return true;
        });
      check(cut, `cut at ${n}`);
      if (n >= cfHeaderLayout.size) check(patchSize(cut), `cut at ${n}, cbCabinet ${n}`);
    }
  }
});

function patchSize(b: Buffer): Buffer {
  const c = Buffer.from(b);
  c.writeUInt32LE(c.length, HEADER_AT('cbCabinet'));
  return c;
}

for (const r of REJECTIONS) {
  test(`cab: refuses ${r.what}`, () => {
    const bytes = r.cab();
    const started = Date.now();
    assert.throws(() => read(bytes, r.limits), (e: unknown) => {
      assert.ok(e instanceof FwupError, String(e));
      assert.equal(e.code, r.code, e.message);
      assert.match(e.message, r.message);
      return true;
    });
    assert.ok(Date.now() - started < 2000, 'refused quickly');
  });
}

test('cab: reserve areas are skipped and a latin-1 name is read as latin-1', () => {
  const data = text(40000);
  const reserve = { header: Buffer.alloc(20, 0xaa), perFolder: 4, perData: 8 };
  const blocks = storedBlocks(data).map((b) => ({ ...b, reserve: Buffer.alloc(8, 0x55) }));
  const craft = (bs: RawBlock[]) =>
    craftCabinet({ reserve, folders: [{ blocks: bs, reserve: Buffer.alloc(4, 0xf0) }], files: [{ name: Buffer.from([0x63, 0x61, 0x66, 0xe9]), cbFile: data.length }] });
  const cab = read(craft(blocks));
  assert.equal(cab.files[0]!.name, 'café');
  assert.ok(cab.files[0]!.data.equals(data));
  assert.equal(cab.reserve?.header.length, 20);
  assert.equal(cab.folders[0]!.reserve.length, 4);
  // [MS-CAB] sums a CFDATA reserve with the sizes (craftCabinet's default); gcab and libmspack sum
  // only cbData and cbUncomp: both are taken, and anything else is still refused.
  const shortSum = (b: RawBlock) => {
    const sizes = Buffer.alloc(4);
    sizes.writeUInt16LE(b.data.length, 0);
    sizes.writeUInt16LE(b.data.length, 2);
    return xorSum(sizes, xorSum(b.data, 0));
  };
  assert.ok(read(craft(blocks.map((b) => ({ ...b, csum: shortSum(b) })))).files[0]!.data.equals(data));
  assert.throws(() => read(craft(blocks.map((b) => ({ ...b, csum: (shortSum(b) ^ 0x100) >>> 0 })))), /checksum mismatch/);
});

/** The checksum written out again here, so the test does not only check the module against itself. */
function xorSum(b: Buffer, seed: number): number {
  let s = seed;
  const whole = b.length - (b.length % 4);
  for (let i = 0; i < whole; i += 4) s ^= b.readUInt32LE(i);
  let tail = 0;
  for (const byte of b.subarray(whole)) tail = tail * 256 + byte;
  return (s ^ tail) >>> 0;
}

test('cab: seeded fuzz of gcab-made cabinets: only FwupErrors with known codes, never another exception', async (t) => {
  if (!needs(t, GCAB())) return;
  const { dir, cleanup } = await tempDir();
  try {
    const files: CabInputFile[] = [
      { name: 'a.txt', data: Buffer.from('hello\n') },
      { name: 'sub/t.txt', data: text(40000) },
      { name: 'r.bin', data: prngBytes(3, 3000) },
      { name: 'empty', data: Buffer.alloc(0) },
    ];
    await writeTree(dir, files);
    gcab(['-c', '-z', 'z.cab', ...files.map((f) => f.name)], dir);
    gcab(['-c', 'n.cab', ...files.map((f) => f.name)], dir);
    const sources = [await readFile(join(dir, 'z.cab')), await readFile(join(dir, 'n.cab'))];
    const runs = 5000;
    const outcomes = new Map<string, number>();
    const started = Date.now();
    for (let seed = 1; seed <= runs; seed++) {
      const orig = sources[seed % 2]!;
      const firstBlock = orig.readUInt32LE(cfHeaderLayout.size);
      const m = mutate(orig, seed, firstBlock + cfDataLayout.size);
      // Half the runs fix the checksums up, so mutated block data reaches the inflater.
      const bytes = seed % 4 < 2 ? refreshChecksums(Buffer.from(m.bytes)) : m.bytes;
      let outcome = 'ok';
      try {
        const cab = read(bytes);
        for (const f of cab.files) assert.equal(f.data.length, f.size);
      } catch (e) {
        if (!(e instanceof FwupError)) assert.fail(`seed ${seed} (${m.how}): ${e instanceof Error ? e.stack : String(e)}`);
        assert.ok(e.code in ERROR_CODES, `seed ${seed}: code ${e.code}`);
        // The rule, without its numbers: which checks the mutations reach.
        outcome = `${e.code} ${e.message.replace(/^[a-z ]*cabinet[a-z ]*: /, '').replace(/0x[0-9A-F]+|\d+|"[^"]*"/g, '#').slice(0, 48)}`;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    const ms = Date.now() - started;
    const top = [...outcomes].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, n]) => `${n} ${k}`);
    console.log(`cab fuzz: ${runs} mutations in ${ms} ms, ${outcomes.size} distinct outcomes, the commonest:\n  ${top.join('\n  ')}`);
    const reached = (re: RegExp) => [...outcomes.keys()].some((k) => re.test(k));
    for (const re of [/^IMAGE_TRUNCATED/, /^IMAGE_BAD_FIELD/, /^IMAGE_TOO_LARGE/, /checksum mismatch/, /not a valid deflate stream|inflates/, /^ok$/]) {
      assert.ok(reached(re), `some mutations end in ${re}`);
    }
    assert.ok(ms < 10_000, `fuzz took ${ms} ms`);
  } finally {
    await cleanup();
  }
});


test('cab: docs/cabinet-format.md lists every field at its layout offset and size, and the default limits', async () => {
  const doc = await readFile(join(REPO_ROOT, 'docs', 'cabinet-format.md'), 'utf8');
  for (const layout of [cfHeaderLayout, cfHeaderReserveLayout, cfFolderLayout, cfFileLayout, cfDataLayout] as const) {
    for (const f of layout.fields as ReadonlyArray<{ name: string }>) {
      const at = (layout.offsetOf as (n: string) => number)(f.name);
      const size = (layout.sizeOf as (n: string) => number)(f.name);
      assert.match(doc, new RegExp(`^\\| ${at} \\| ${size} \\| ${f.name} \\|`, 'm'), `${layout.name}.${f.name}`);
    }
  }
  const MiB = 1024 * 1024;
  for (const [k, v] of Object.entries(DEFAULT_CAB_LIMITS)) {
    assert.match(doc, new RegExp(`^\\| \`${k}\` \\| ${v % MiB === 0 ? `${v / MiB} MiB` : v} \\|`, 'm'), k);
  }
});
