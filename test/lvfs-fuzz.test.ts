import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { parseMetainfo } from '../src/image/lvfs/metainfo.js';
import { parseJcat } from '../src/image/lvfs/jcat.js';
import { verifyJcat } from '../src/image/lvfs/jcat-verify.js';
import { FwupError } from '../src/errors/fwup-error.js';
import { mutate } from './helpers/mutate.js';
import { makeMetainfo } from './helpers/lvfs-tools.js';

/** Seeded mutations of valid inputs: each is read or refused with a FwupError of the format's code, never another exception. */
const ROUNDS = 600;

const METAINFO = Buffer.from(makeMetainfo({
  name: 'Widget', summary: 'x', developer: 'Example', license: 'proprietary', provides: ['12345678-1234-1234-1234-123456789abc'], versionFormat: 'triplet',
  releases: [{ version: '1.2.3', date: '2026-01-01', urgency: 'high', installDuration: 3, description: ['Fixes.', '- a'], checksums: [{ type: 'sha1', target: 'content', filename: 'f.bin', value: 'a'.repeat(40) }] }],
  requires: [{ kind: 'id', compare: 'ge', version: '1.9', value: 'org.freedesktop.fwupd' }, { kind: 'firmware', value: 'bootloader', depth: 1 }],
  categories: ['X-Device'],
}));

test(`lvfs fuzz: ${ROUNDS} mutated metainfo documents are read or refused with METAINFO_INVALID`, () => {
  let refused = 0;
  for (let seed = 1; seed <= ROUNDS; seed++) {
    const { bytes, how } = mutate(METAINFO, seed, METAINFO.length);
    try {
      parseMetainfo(bytes, 'm.xml');
    } catch (e) {
      assert.ok(e instanceof FwupError && e.code === 'METAINFO_INVALID', `seed ${seed} (${how}): ${String(e)}`);
      refused++;
    }
  }
  assert.ok(refused > ROUNDS / 4, `most mutations break something (${refused} refused)`);
});

const JSON_TEXT = Buffer.from(JSON.stringify({ JcatVersionMajor: 0, JcatVersionMinor: 1, Items: [
  { Id: 'f.bin', AliasIds: ['g.bin'], Blobs: [
    { Kind: 1, Flags: 1, Timestamp: 1700000000, Data: 'ab'.repeat(32) },
    { Kind: 3, Flags: 1, Target: 1, Data: '-----BEGIN PKCS7-----\nMIIB\n-----END PKCS7-----\n' },
    { Kind: 9, Flags: 0, Data: Buffer.alloc(64, 1).toString('base64'), AppstreamId: 'com.example' },
  ] },
] }));

test(`lvfs fuzz: ${ROUNDS} mutated catalogs (JSON and gzip) are parsed and verified, or refused with JCAT_INVALID`, async () => {
  let refused = 0;
  const gz = gzipSync(JSON_TEXT);
  for (let seed = 1; seed <= ROUNDS; seed++) {
    const json = seed % 2 === 0;
    const { bytes, how } = mutate(json ? JSON_TEXT : gz, seed, json ? JSON_TEXT.length : 32);
    const input = json ? gzipSync(bytes) : bytes;
    try {
      const cat = parseJcat(input, 'c.jcat');
      const v = await verifyJcat(cat, (id) => (id === 'f.bin' ? Buffer.from('data') : null), null);
      assert.equal(v.items.length, cat.items.length);
    } catch (e) {
      assert.ok(e instanceof FwupError && e.code === 'JCAT_INVALID', `seed ${seed} (${json ? 'json' : 'gzip'}: ${how}): ${String(e)}`);
      refused++;
    }
  }
  assert.ok(refused > ROUNDS / 4, `most mutations break something (${refused} refused)`);
});
