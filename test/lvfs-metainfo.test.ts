import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BufferSource } from '../src/image/byte-source.js';
import { readCabinet } from '../src/image/cab/cab-read.js';
import { MAX_METAINFO_BYTES, parseMetainfo, type Metainfo } from '../src/image/lvfs/metainfo.js';
import { FwupError } from '../src/errors/fwup-error.js';
import { prngBytes, tempDir } from './helpers/cli.js';
import { FWUPDTOOL, GCAB, needs } from './helpers/requirements.js';
import { fwupdBuildCabinet, gcabCreate, makeMetainfo } from './helpers/lvfs-tools.js';

const parse = (xml: string | Buffer): Metainfo => parseMetainfo(typeof xml === 'string' ? Buffer.from(xml) : xml, 'firmware.metainfo.xml');

/** As the LVFS ships it: translations, <developer>, marked-up release notes, requirements of every kind. */
const REAL_WORLD = `<?xml version="1.0" encoding="UTF-8"?>
<!-- Copyright 2026 Example Corp -->
<component type="firmware">
  <id>com.example.Dock.firmware</id>
  <name>Example Dock</name>
  <name xml:lang="de">Beispiel-Dock</name>
  <summary>Firmware for the Example USB-C Dock</summary>
  <summary xml:lang="de">Firmware für das Beispiel-Dock</summary>
  <description><p>Updating the firmware improves &amp; fixes things.</p></description>
  <developer id="com.example">
    <name>Example Corp</name>
  </developer>
  <provides>
    <firmware type="flashed">8A21A3C6-2B6E-4B5C-9D0A-0123456789AB</firmware>
    <firmware type="runtime">not-a-guid</firmware>
    <firmware type="flashed">5e9d0c2f-1e6a-4d3b-8f7e-abcdefabcdef</firmware>
  </provides>
  <url type="homepage">https://www.example.com/</url>
  <metadata_license>CC0-1.0</metadata_license>
  <project_license>proprietary</project_license>
  <requires>
    <id compare="ge" version="1.9.10">org.freedesktop.fwupd</id>
    <firmware compare="ge" version="0.1.2"/>
    <firmware>bootloader</firmware>
    <firmware depth="1" compare="eq" version="3.0">12345678-1234-1234-1234-123456789abc</firmware>
    <hardware>6de5d951-d755-576b-bd09-c5cf66b27234|27e6f4e1-bb5b-4d3a-9c3d-1a2b3c4d5e6f</hardware>
    <client>detach-action</client>
    <not_yet_known>x</not_yet_known>
  </requires>
  <categories>
    <category>X-Device</category>
    <category>X-Dock</category>
  </categories>
  <custom>
    <value key="LVFS::UpdateProtocol">com.example.dock</value>
    <value key="LVFS::VersionFormat">triplet</value>
  </custom>
  <releases>
    <release urgency="high" version="2.1.0" date="2026-03-01" timestamp="1772323200" install_duration="120">
      <checksum filename="dock-2.1.0.bin" target="content" type="sha1">2AAE6C35C94FCFB415DBE95F408B9CE91EE846ED</checksum>
      <checksum filename="dock-2.1.0.bin" target="content" type="sha256">b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9</checksum>
      <checksum filename="com.example.Dock-2.1.0.cab" target="container" type="sha1">0a4d55a8d778e5022fab701977c5d840bbc486d0</checksum>
      <description>
        <p>This release fixes <em>two</em> bugs:</p>
        <ul>
          <li>Charging stops at 80%.</li>
          <li>The   display
             flickers.</li>
        </ul>
      </description>
      <description xml:lang="de"><p>Behebt Fehler.</p></description>
    </release>
    <release version="2.0.0" date="2025-11-20" urgency="low"/>
  </releases>
</component>
`;

test('metainfo: every field of a real-world-shaped document, exactly', () => {
  assert.deepEqual(parse(REAL_WORLD), {
    id: 'com.example.Dock.firmware',
    name: 'Example Dock',
    summary: 'Firmware for the Example USB-C Dock',
    developer: 'Example Corp',
    license: 'proprietary',
    metadataLicense: 'CC0-1.0',
    provides: ['8a21a3c6-2b6e-4b5c-9d0a-0123456789ab', '5e9d0c2f-1e6a-4d3b-8f7e-abcdefabcdef'],
    versionFormat: 'triplet',
    releases: [
      {
        version: '2.1.0',
        date: '2026-03-01',
        timestamp: 1772323200,
        urgency: 'high',
        installDuration: 120,
        description: 'This release fixes two bugs:\n- Charging stops at 80%.\n- The display flickers.',
        checksums: [
          { type: 'sha1', target: 'content', filename: 'dock-2.1.0.bin', value: '2aae6c35c94fcfb415dbe95f408b9ce91ee846ed' },
          { type: 'sha256', target: 'content', filename: 'dock-2.1.0.bin', value: 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9' },
          { type: 'sha1', target: 'container', filename: 'com.example.Dock-2.1.0.cab', value: '0a4d55a8d778e5022fab701977c5d840bbc486d0' },
        ],
      },
      { version: '2.0.0', date: '2025-11-20', timestamp: null, urgency: 'low', installDuration: null, description: null, checksums: [] },
    ],
    requires: [
      { kind: 'id', element: 'id', value: 'org.freedesktop.fwupd', compare: 'ge', version: '1.9.10', depth: null },
      { kind: 'firmware', element: 'firmware', value: null, compare: 'ge', version: '0.1.2', depth: null },
      { kind: 'firmware', element: 'firmware', value: 'bootloader', compare: null, version: null, depth: null },
      { kind: 'firmware', element: 'firmware', value: '12345678-1234-1234-1234-123456789abc', compare: 'eq', version: '3.0', depth: 1 },
      { kind: 'hardware', element: 'hardware', value: '6de5d951-d755-576b-bd09-c5cf66b27234|27e6f4e1-bb5b-4d3a-9c3d-1a2b3c4d5e6f', compare: null, version: null, depth: null },
      { kind: 'client', element: 'client', value: 'detach-action', compare: null, version: null, depth: null },
      { kind: 'other', element: 'not_yet_known', value: 'x', compare: null, version: null, depth: null },
    ],
    categories: ['X-Device', 'X-Dock'],
  });
});

test('metainfo: what makeMetainfo writes reads back field for field (the helper the cabinet suites use)', () => {
  const m = parse(makeMetainfo({
    id: 'org.example.Board.firmware', name: 'Board', summary: 'BIOS', developer: 'Example', license: 'LicenseRef-proprietary',
    provides: ['AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE'], versionFormat: 'quad',
    releases: [{ version: '1.2.3.4', urgency: 'critical', date: '2026-01-02', installDuration: 5, description: ['Fixes.', '- one', '- two'],
      checksums: [{ type: 'sha256', target: 'content', filename: 'fw.bin', value: 'AB'.repeat(32) }, { filename: 'fw.bin', target: 'content' }] }],
    requires: [{ kind: 'id', compare: 'ge', version: '1.8.0', value: 'org.freedesktop.fwupd' }],
    categories: ['X-System'],
  }));
  assert.deepEqual(m.provides, ['aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee']);
  assert.equal(m.versionFormat, 'quad');
  assert.deepEqual(m.releases, [{
    version: '1.2.3.4', date: '2026-01-02', timestamp: null, urgency: 'critical', installDuration: 5, description: 'Fixes.\n- one\n- two',
    checksums: [
      { type: 'sha256', target: 'content', filename: 'fw.bin', value: 'ab'.repeat(32) },
      { type: '', target: 'content', filename: 'fw.bin', value: '' },
    ],
  }]);
  assert.deepEqual([m.id, m.name, m.summary, m.developer, m.license, m.categories], ['org.example.Board.firmware', 'Board', 'BIOS', 'Example', 'LicenseRef-proprietary', ['X-System']]);
  assert.deepEqual(m.requires, [{ kind: 'id', element: 'id', value: 'org.freedesktop.fwupd', compare: 'ge', version: '1.8.0', depth: null }]);
});

test('metainfo: a UTF-8 byte-order mark and non-ASCII text are read', () => {
  const m = parse(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(makeMetainfo({ name: 'Prüfgerät ✓' }))]));
  assert.equal(m.name, 'Prüfgerät ✓');
});

const ok = makeMetainfo();
const swap = (from: string, to: string): string => {
  assert.ok(ok.includes(from), `the base document holds ${from}`);
  return ok.replace(from, to);
};
const BILLION_LAUGHS = `<?xml version="1.0"?>
<!DOCTYPE component [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
<component type="firmware"><id>&lol2;</id><releases><release version="1"/></releases></component>`;

const REJECTIONS: Array<{ what: string; xml: () => string | Buffer; message: RegExp }> = [
  { what: 'a DOCTYPE with an external entity (file:///etc/passwd)',
    xml: () => `<?xml version="1.0"?>\n<!DOCTYPE component [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n<component type="firmware"><id>&xxe;</id><releases><release version="1"/></releases></component>`,
    message: /^firmware\.metainfo\.xml: has a <!DOCTYPE declaration \(line 2\): document type definitions and entity declarations are refused$/ },
  { what: 'internal entity expansion (billion laughs)', xml: () => BILLION_LAUGHS, message: /has a <!DOCTYPE declaration \(line 2\)/ },
  { what: 'an entity declaration without a DOCTYPE', xml: () => swap('<component', '<!ENTITY x "y">\n<component'), message: /has a <!ENTITY declaration \(line 3\)/ },
  { what: 'a DOCTYPE naming an external DTD', xml: () => swap('<component', '<!DOCTYPE component SYSTEM "http://example.com/x.dtd">\n<component'), message: /has a <!DOCTYPE declaration \(line 3\)/ },
  { what: 'an undeclared entity reference', xml: () => swap('<id>com', '<id>&lol;com'), message: /not well-formed XML \(error near line \d+: entity not found:&lol;\)/ },
  { what: 'more than 1 MiB', xml: () => swap('</component>', `<!-- ${'x'.repeat(MAX_METAINFO_BYTES)} -->\n</component>`), message: /^firmware\.metainfo\.xml: 10\d{5} bytes is more than the 1048576 bytes accepted$/ },
  { what: 'latin-1 bytes (not UTF-8)', xml: () => Buffer.from(makeMetainfo({ name: 'Prüfgerät' }), 'latin1'), message: /is not valid UTF-8 \(at byte \d+, 0xFC\)/ },
  { what: 'UTF-16', xml: () => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(ok, 'utf16le')]), message: /is UTF-16 \(byte-order mark FFFE\): only UTF-8 is accepted/ },
  { what: 'another declared encoding', xml: () => swap('encoding="UTF-8"', 'encoding="ISO-8859-1"'), message: /declares encoding "ISO-8859-1": only UTF-8 is accepted/ },
  { what: 'a NUL character', xml: () => swap('<id>', '<id>\0'), message: /holds a NUL character/ },
  { what: 'malformed XML (mismatched tags)', xml: () => swap('</id>', '</name>'), message: /not well-formed XML \(fatalError near line 4: Opening and ending tag mismatch: "id" != "name"\)/ },
  { what: 'malformed XML (cut short)', xml: () => ok.slice(0, ok.indexOf('</releases>')), message: /not well-formed XML \(.*unclosed xml tag/ },
  { what: 'malformed XML (two roots)', xml: () => `${ok}<component type="firmware"/>`, message: /not well-formed XML/ },
  { what: 'the wrong root element', xml: () => ok.replace('<component', '<components').replace('</component>', '</components>'), message: /the root element is <components> \(line 3\), not <component type="firmware">/ },
  { what: 'a component of another type', xml: () => swap('type="firmware"', 'type="desktop-application"'), message: /the root <component> has type="desktop-application", not type="firmware"/ },
  { what: 'a component with no type', xml: () => makeMetainfo({ type: null }), message: /the root <component> has type=none, not type="firmware"/ },
  { what: 'no <id>', xml: () => swap('  <id>com.example.Widget.firmware</id>\n', ''), message: /the <component> has no <id>$/ },
  { what: 'an empty <id>', xml: () => swap('com.example.Widget.firmware', '  '), message: /<id> \(line 4\) is empty/ },
  { what: 'two <id>', xml: () => swap('</id>', '</id><id>b</id>'), message: /<component> has 2 <id> elements \(lines 4, 4\); one is allowed/ },
  { what: 'no <releases>', xml: () => makeMetainfo({ releases: [] }), message: /the <component> has no <releases>$/ },
  { what: 'an empty <releases>', xml: () => swap(/<release .*\n {4}<\/release>/.exec(ok)![0], ''), message: /<releases> \(line \d+\) holds no <release>/ },
  { what: 'a release without a version', xml: () => swap('version="1.0.0"', 'date="2026-01-01"'), message: /<release> \(line \d+\) has no version attribute/ },
  { what: 'a release date that is not a date', xml: () => makeMetainfo({ releases: [{ version: '1', date: '01/02/2026' }] }), message: /has date="01\/02\/2026", which is not an ISO 8601 date/ },
  { what: 'a timestamp that is not a number', xml: () => swap('version="1.0.0"', 'version="1.0.0" timestamp="soon"'), message: /has timestamp="soon", which is not a non-negative integer/ },
  { what: 'an unknown urgency', xml: () => makeMetainfo({ releases: [{ version: '1', urgency: 'urgent' }] }), message: /has urgency="urgent"; known: low, medium, high, critical/ },
  { what: 'a provided GUID that is not a GUID', xml: () => makeMetainfo({ provides: ['USB\\VID_273F&PID_1004'] }), message: /<firmware> \(line \d+\) of type "flashed" holds "USB\\VID_273F&PID_1004", which is not a GUID/ },
  { what: 'a checksum of an unknown type', xml: () => makeMetainfo({ releases: [{ version: '1', checksums: [{ type: 'md5', target: 'content', value: 'a'.repeat(32) }] }] }), message: /<checksum> \(line \d+\) has type="md5"; known: sha1, sha256, sha384, sha512/ },
  { what: 'a checksum value with no type', xml: () => makeMetainfo({ releases: [{ version: '1', checksums: [{ target: 'content', value: 'a'.repeat(40) }] }] }), message: /has type=none; known/ },
  { what: 'a sha256 of the wrong length', xml: () => makeMetainfo({ releases: [{ version: '1', checksums: [{ type: 'sha256', target: 'content', value: 'ab'.repeat(20) }] }] }), message: /"(ab){20}" is not a sha256 digest \(64 hex digits\)/ },
  { what: 'a checksum of an unknown target', xml: () => makeMetainfo({ releases: [{ version: '1', checksums: [{ type: 'sha1', target: 'payload', value: 'a'.repeat(40) }] }] }), message: /has target="payload"; known: content, container, signature, device/ },
  { what: 'an unknown comparison', xml: () => makeMetainfo({ requires: [{ kind: 'id', compare: 'newer', version: '1', value: 'org.freedesktop.fwupd' }] }), message: /<id> \(line \d+\) has compare="newer"; known: eq, ne, lt, gt, le, ge, glob, regex/ },
  { what: 'a comparison without a version', xml: () => makeMetainfo({ requires: [{ kind: 'firmware', compare: 'ge' }] }), message: /<firmware> \(line \d+\) has compare="ge" but no version/ },
  { what: 'a version without a comparison', xml: () => makeMetainfo({ requires: [{ kind: 'firmware', version: '1.0' }] }), message: /has version="1\.0" but no compare/ },
  { what: 'a required id that names nothing', xml: () => makeMetainfo({ requires: [{ kind: 'id', compare: 'ge', version: '1' }] }), message: /<id> \(line \d+\) names no component id/ },
  { what: 'a depth that is not an integer', xml: () => makeMetainfo({ requires: [{ kind: 'firmware', value: 'bootloader', depth: 1.5 }] }), message: /has depth="1\.5", which is not an integer/ },
  { what: 'elements nested too deep', xml: () => swap('</component>', `${'<x>'.repeat(40)}${'</x>'.repeat(40)}</component>`), message: /elements nest deeper than 32 levels/ },
];

for (const r of REJECTIONS) {
  test(`metainfo: refused: ${r.what}`, () => {
    assert.throws(() => parse(r.xml()), (e: unknown) => {
      assert.ok(e instanceof FwupError, String(e));
      assert.equal(e.code, 'METAINFO_INVALID');
      assert.match(e.message, r.message);
      assert.match(e.message, /^firmware\.metainfo\.xml: /);
      assert.ok(e.hint.length > 0);
      return true;
    });
  });
}

test('metainfo: the external entity is never read: the refusal names no byte of /etc/passwd', () => {
  const xml = `<!DOCTYPE c [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]><component type="firmware"><id>&xxe;</id></component>`;
  assert.throws(() => parse(xml), (e: unknown) => e instanceof FwupError && !e.message.includes('root:') && /DOCTYPE/.test(e.message));
});

test('metainfo: read from cabinets made by gcab and by fwupdtool build-cabinet', async (t) => {
  if (!needs(t, GCAB()) || !needs(t, FWUPDTOOL())) return;
  const { dir, cleanup } = await tempDir();
  try {
    const xml = makeMetainfo({ id: 'com.example.Cab.firmware', provides: ['11111111-2222-3333-4444-555555555555'], releases: [{ version: '0.9', checksums: [{ filename: 'firmware.bin', target: 'content' }] }] });
    await writeFile(join(dir, 'firmware.metainfo.xml'), xml);
    await writeFile(join(dir, 'firmware.bin'), prngBytes(3, 4096));
    await gcabCreate(dir, 'gcab.cab', ['firmware.bin', 'firmware.metainfo.xml'], { compress: true });
    await fwupdBuildCabinet(dir, 'fwupd.cab', ['firmware.bin', 'firmware.metainfo.xml']);
    for (const cab of ['gcab.cab', 'fwupd.cab']) {
      const { readFile } = await import('node:fs/promises');
      const c = readCabinet(new BufferSource(await readFile(join(dir, cab)), cab));
      const f = c.files.find((x) => x.name.endsWith('.metainfo.xml'));
      assert.ok(f, `${cab} holds the metainfo`);
      const m = parseMetainfo(Buffer.from(f.data), f.name);
      assert.equal(m.id, 'com.example.Cab.firmware', cab);
      assert.deepEqual(m.provides, ['11111111-2222-3333-4444-555555555555'], cab);
      assert.deepEqual(m.releases.map((r) => r.version), ['0.9'], cab);
    }
  } finally {
    await cleanup();
  }
});
