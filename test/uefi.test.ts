import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT } from '../src/errors/exit-codes.js';
import { recordDigest } from '../src/targets/state-records.js';
import { REPO_ROOT, hashTree, json } from './helpers/cli.js';
import { readVar } from './helpers/sysroot.js';
import { CAP, SYS_FW, recordName, stateFile, uefiTest, world, type World } from './helpers/uefi-world.js';
import { MKFIFO, needs } from './helpers/requirements.js';

uefiTest('uefi: stage through the capsule loader writes the whole capsule to it and keeps a self-checked request', async () => {
  const w = await world();
  try {
    const r = await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = json<{ details: { delivery: string; deliveredTo: string } }>(r);
    assert.equal(out.details.delivery, 'loader');
    assert.deepEqual(await readFile(join(w.root, 'dev/efi_capsule_loader')), await readFile(CAP('unsigned-4k.cap')));
    // Nothing else in the sysroot moved: no capsule on the ESP, no OsIndications.
    assert.equal(await readVar(w.root, 'OsIndications'), null);
    assert.deepEqual(await readdir(join(w.root, 'boot/efi/EFI')), ['BOOT']);
    const req = JSON.parse((await stateFile(w, recordName('request')))!) as { record: { delivery: string; entries: Array<{ fwClass: string; targetVersion: number; fwVersionBefore: number }> }; sha256: string };
    assert.equal(req.sha256, recordDigest(req.record));
    assert.equal(req.record.delivery, 'loader');
    assert.deepEqual(req.record.entries.map((e) => [e.fwClass, e.targetVersion, e.fwVersionBefore]), [[SYS_FW, 0x20a, 0x200]]);
    // The same capsule again is nothing to do.
    const again = await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned']);
    assert.equal(again.code, EXIT.NOTHING_TO_DO, again.stderr);
  } finally {
    await w.cleanup();
  }
});

uefiTest('uefi: a capsule loader that is a FIFO receives exactly the capsule bytes', async (t) => {
  if (!needs(t, MKFIFO())) return;
  const w = await world({ loader: 'fifo' });
  try {
    const chunks: Buffer[] = [];
    const reader = new Promise<Buffer>((done, fail) => {
      createReadStream(join(w.root, 'dev/efi_capsule_loader'))
        .on('data', (c) => chunks.push(c as Buffer))
        .on('end', () => done(Buffer.concat(chunks)))
        .on('error', fail);
    });
    const r = await w.run(['stage', CAP('signed-sha256-mc.cap')]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await reader, await readFile(CAP('signed-sha256-mc.cap')));
  } finally {
    await w.cleanup();
  }
});

uefiTest('uefi: capsule on disk copies the capsule to \\EFI\\UpdateCapsule and sets OsIndications bit 0x4 (created NV|BS|RT)', async () => {
  const w = await world({ loader: 'none' });
  try {
    const r = await w.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(json<{ details: { delivery: string } }>(r).details.delivery, 'disk');
    const onDisk = join(w.root, 'boot/efi/EFI/UpdateCapsule', `fwup-${SYS_FW.toLowerCase()}.cap`);
    assert.deepEqual(await readFile(onDisk), await readFile(CAP('unsigned-persist.cap')));
    assert.deepEqual(await readVar(w.root, 'OsIndications'), { attributes: 0x7, value: 0x4n, length: 12 });
  } finally {
    await w.cleanup();
  }
});

uefiTest('uefi: capsule on disk keeps the other OsIndications bits and attributes; unstage puts back exactly what was there', async () => {
  const w = await world({ loader: 'none', osIndications: { attributes: 0x7, value: 0x41n } });
  try {
    const before = await w.snapshot();
    const r = await w.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readVar(w.root, 'OsIndications'), { attributes: 0x7, value: 0x45n, length: 12 });
    const u = await w.run(['unstage']);
    assert.equal(u.code, 0, u.stderr);
    assert.deepEqual(await readVar(w.root, 'OsIndications'), { attributes: 0x7, value: 0x41n, length: 12 });
    assert.equal(await hashTree(w.root), before.split('/')[0]);
  } finally {
    await w.cleanup();
  }
});

uefiTest('uefi: unstage of a capsule on disk removes the capsule and the OsIndications fwup created', async () => {
  const w = await world({ loader: 'none' });
  try {
    const before = await hashTree(w.root);
    assert.equal((await w.run(['stage', CAP('unsigned-persist.cap'), '--allow-unsigned'])).code, 0);
    assert.notEqual(await hashTree(w.root), before);
    const u = await w.run(['unstage']);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(await hashTree(w.root), before);
    assert.equal((await w.run(['unstage'])).code, EXIT.NOTHING_TO_DO);
  } finally {
    await w.cleanup();
  }
});

uefiTest('uefi: --capsule-delivery forces the path; --esp names the ESP', async () => {
  const w = await world({ esp: '/efi' });
  try {
    const r = await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--capsule-delivery', 'disk', '--esp', '/efi', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(json<{ details: { delivery: string; deliveredTo: string } }>(r).details.deliveredTo, join(w.root, 'efi/EFI/UpdateCapsule', `fwup-${SYS_FW.toLowerCase()}.cap`));
    assert.deepEqual(await readFile(join(w.root, 'dev/efi_capsule_loader')), Buffer.alloc(0), 'the loader was not used');
  } finally {
    await w.cleanup();
  }
  const n = await world({ loader: 'none' });
  try {
    const before = await n.snapshot();
    const r = await n.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--capsule-delivery', 'loader']);
    assert.equal(r.code, EXIT.TARGET, r.stderr);
    assert.match(r.stderr, /efi_capsule_loader does not exist/);
    assert.equal(await n.snapshot(), before);
  } finally {
    await n.cleanup();
  }
});

uefiTest('uefi: InitiateReset capsules are refused for the loader up front, and go on disk when the firmware takes that', async () => {
  const cap = CAP('unsigned-persist-reset.cap');
  const w = await world();
  try {
    const before = await w.snapshot();
    const forced = await w.run(['stage', cap, '--allow-unsigned', '--capsule-delivery', 'loader', '--json']);
    assert.equal(forced.code, EXIT.FAILURE);
    const err = json<{ error: { code: string; message: string; hint: string } }>(forced).error;
    assert.equal(err.code, 'CAPSULE_REJECTED');
    assert.match(err.message, /refuses capsules with InitiateReset and OEM flags 0x00A5/);
    assert.match(err.hint, /--capsule-delivery disk/);
    assert.equal(await w.snapshot(), before);
    const auto = await w.run(['stage', cap, '--allow-unsigned', '--json']);
    assert.equal(auto.code, 0, auto.stderr + auto.stdout);
    const d = json<{ details: { delivery: string; why: string } }>(auto).details;
    assert.equal(d.delivery, 'disk');
    assert.match(d.why, /InitiateReset/);
  } finally {
    await w.cleanup();
  }
  const noDisk = await world({ osIndicationsSupported: 0x1n });
  try {
    const before = await noDisk.snapshot();
    const r = await noDisk.run(['stage', cap, '--allow-unsigned']);
    assert.equal(r.code, EXIT.FAILURE);
    assert.match(r.stderr, /InitiateReset/);
    assert.equal(await noDisk.snapshot(), before);
  } finally {
    await noDisk.cleanup();
  }
});

uefiTest('uefi: every refusal leaves the sysroot and the state directory byte-identical', async () => {
  const w = await world({ loader: 'none', osIndicationsSupported: null });
  const v = await world();
  const noEsrt = await world({ esrt: null });
  try {
    const cases: Array<{ what: string; w: World; args: string[]; code: number; err: string; msg: RegExp; hint?: RegExp }> = [
      { what: 'no way to deliver', w, args: [CAP('unsigned-4k.cap'), '--allow-unsigned'], code: EXIT.TARGET, err: 'TARGET_UNSUPPORTED', msg: /no way to hand the capsule/ },
      { what: 'no ESRT', w: noEsrt, args: [CAP('unsigned-4k.cap'), '--allow-unsigned'], code: EXIT.TARGET, err: 'TARGET_UNSUPPORTED', msg: /no ESRT/ },
      { what: 'no ESRT entry', w: v, args: [CAP('signed-64k.cap')], code: EXIT.POLICY, err: 'POLICY_PLATFORM', msg: /0777B0AD-7BA9-4122-BA99-C7669D5A1587, which this system does not have/ },
      { what: 'unsigned', w: v, args: [CAP('unsigned-4k.cap')], code: EXIT.SIGNATURE, err: 'IMAGE_UNSIGNED', msg: /not signed/, hint: /^the firmware checks a capsule's signature itself .*--allow-unsigned/ },
      { what: 'not a capsule', w: v, args: [join(REPO_ROOT, 'fixtures/images/fw-2.0.0-signed.fwup')], code: EXIT.TARGET, err: 'TARGET_UNSUPPORTED', msg: /takes UEFI capsules/ },
      { what: 'bad capsule flag combination', w: v, args: [CAP('invalid/initiate-reset-without-persist.cap'), '--allow-unsigned'], code: EXIT.INVALID_IMAGE, err: 'CAPSULE_INVALID', msg: /InitiateReset requires PersistAcrossReset/ },
      { what: 'truncated capsule', w: v, args: [CAP('invalid/trunc-in-image-header.cap'), '--allow-unsigned'], code: EXIT.INVALID_IMAGE, err: 'CAPSULE_INVALID', msg: /invalid capsule/ },
      { what: 'bad MSS1', w: v, args: [CAP('invalid/mss1-signature-altered.cap'), '--allow-unsigned'], code: EXIT.INVALID_IMAGE, err: 'CAPSULE_INVALID', msg: /MSS1/ },
      { what: 'bad capsule option', w: v, args: [CAP('unsigned-4k.cap'), '--allow-unsigned', '--capsule-delivery', 'usb'], code: EXIT.USAGE, err: 'USAGE', msg: /choose auto, loader, disk or fwupd-efi/ },
    ];
    for (const c of cases) {
      const before = await c.w.snapshot();
      const r = await c.w.run(['stage', ...c.args, '--json']);
      assert.equal(r.code, c.code, `${c.what}: ${r.stdout}${r.stderr}`);
      const e = json<{ error: { code: string; message: string; hint: string } }>(r).error;
      assert.equal(e.code, c.err, c.what);
      assert.match(e.message, c.msg, c.what);
      assert.doesNotMatch(e.hint, /development machine|--key\b/, `${c.what}: a hint for this target, not the emulated machine's`);
      if (c.hint) assert.match(e.hint, c.hint, c.what);
      assert.equal(await c.w.snapshot(), before, `${c.what}: nothing changed`);
    }
  } finally {
    await w.cleanup();
    await v.cleanup();
    await noEsrt.cleanup();
  }
});

uefiTest('uefi: versions are checked against the ESRT entry; --allow-older and --allow-reinstall relax them', async () => {
  const older = await world({ esrt: [{ fwClass: SYS_FW, fwVersion: 0x20b, lowestSupportedFwVersion: 0x100 }] });
  const lowest = await world({ esrt: [{ fwClass: SYS_FW, fwVersion: 0x100, lowestSupportedFwVersion: 0x300 }] });
  const same = await world({ esrt: [{ fwClass: SYS_FW, fwVersion: 0x20a, lowestSupportedFwVersion: 0x100 }] });
  try {
    const cases: Array<[World, number, RegExp]> = [
      [older, EXIT.POLICY, /older than the installed 0x0000020B/],
      [lowest, EXIT.POLICY, /below entry0's lowest supported version 0x00000300/],
      [same, EXIT.NOTHING_TO_DO, /already installed/],
    ];
    for (const [w, code, msg] of cases) {
      const before = await w.snapshot();
      const r = await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned']);
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, msg);
      assert.equal(await w.snapshot(), before);
    }
    assert.equal((await older.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--allow-older'])).code, 0);
    assert.equal((await lowest.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--allow-older'])).code, 0);
    assert.equal((await same.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--allow-reinstall'])).code, 0);
  } finally {
    await older.cleanup();
    await lowest.cleanup();
    await same.cleanup();
  }
});

uefiTest('uefi: a broken signature is not fwup\'s to judge here: the structure is checked, the firmware verifies', async () => {
  const w = await world();
  try {
    const r = await w.run(['stage', CAP('invalid/signed-payload-byte-flipped.cap'), '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(json<{ image: { signature: { status: string } } }>(r).image.signature.status, 'not-verified');
  } finally {
    await w.cleanup();
  }
});

uefiTest('uefi: the kernel\'s errors from the loader are mapped (ENOSPC from a loader that is /dev/full)', async () => {
  const w = await world({ loader: 'full' });
  try {
    const r = await w.run(['stage', CAP('unsigned-4k.cap'), '--allow-unsigned', '--json']);
    assert.equal(r.code, EXIT.FAILURE, r.stdout);
    const e = json<{ error: { code: string; message: string; details: { errno: string } } }>(r).error;
    assert.equal(e.code, 'CAPSULE_REJECTED');
    assert.equal(e.details.errno, 'ENOSPC');
    assert.match(e.message, /larger than the firmware accepts/);
    assert.equal(await stateFile(w, recordName('request')), null, 'no request recorded for a refused capsule');
  } finally {
    await w.cleanup();
  }
});

