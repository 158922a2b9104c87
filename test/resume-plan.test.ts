import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canResume, ifRangeValidator, parseContentRange, planBody, type ResumablePart } from '../src/core/resume-plan.js';
import type { PartSidecar } from '../src/core/download-cache.js';

const URL_ = 'http://h/fw.fwup';
const sidecar: PartSidecar = { version: 1, url: URL_, etag: '"v1"', lastModified: null, length: 1000 };
const part: ResumablePart = { offset: 400, sidecar };

function res(status: number, headers: Record<string, string>) {
  const h = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { status, headers: { get: (n: string) => h.get(n.toLowerCase()) ?? null } };
}

test('resume-plan: every answer to a request, with and without a part to continue', () => {
  const cases: Array<[string, ReturnType<typeof res>, ResumablePart | null, string]> = [
    ['200 fresh', res(200, { 'content-length': '1000', etag: '"v1"' }), null, 'fresh'],
    ['200 to a Range request: start again with this body', res(200, { 'content-length': '1000', etag: '"v2"' }), part, 'fresh'],
    ['206 continuing the part', res(206, { 'content-range': 'bytes 400-999/1000', 'content-length': '600', etag: '"v1"' }), part, 'append'],
    ['206 without Content-Length (chunked)', res(206, { 'content-range': 'bytes 400-999/1000' }), part, 'append'],
    ['206 at another offset', res(206, { 'content-range': 'bytes 0-999/1000' }), part, 'restart'],
    ['206 of a file that changed size', res(206, { 'content-range': 'bytes 400-1199/1200' }), part, 'restart'],
    ['206 not to the end', res(206, { 'content-range': 'bytes 400-499/1000' }), part, 'restart'],
    ['206 with another ETag', res(206, { 'content-range': 'bytes 400-999/1000', etag: '"v2"' }), part, 'restart'],
    ['206 with an unknown length', res(206, { 'content-range': 'bytes 400-999/*' }), part, 'restart'],
    ['206 content-encoded', res(206, { 'content-range': 'bytes 400-999/1000', 'content-encoding': 'gzip' }), part, 'restart'],
    ['206 Content-Length disagreeing with Content-Range', res(206, { 'content-range': 'bytes 400-999/1000', 'content-length': '601' }), part, 'restart'],
    ['206 although no Range was sent', res(206, { 'content-range': 'bytes 0-999/1000' }), null, 'status-error'],
    ['416 to a Range request', res(416, { 'content-range': 'bytes */300' }), part, 'restart'],
    ['416 without Range', res(416, {}), null, 'status-error'],
    ['404', res(404, {}), part, 'status-error'],
    ['204 No Content', res(204, {}), null, 'status-error'],
  ];
  for (const [name, r, p, kind] of cases) assert.equal(planBody(URL_, r, p).kind, kind, name);
});

test('resume-plan: a fresh body is resumable later only with a validator and no content-coding', () => {
  const fresh = (h: Record<string, string>) => {
    const plan = planBody(URL_, res(200, h), null);
    assert.equal(plan.kind, 'fresh');
    return plan.kind === 'fresh' ? plan : assert.fail();
  };
  assert.deepEqual(fresh({ 'content-length': '10', etag: '"a"' }).sidecar, { version: 1, url: URL_, etag: '"a"', lastModified: null, length: 10 });
  assert.equal(fresh({ 'content-length': '10' }).sidecar, null);
  assert.equal(fresh({ 'content-length': '10', etag: 'W/"weak"' }).sidecar, null, 'a weak ETag cannot be used in If-Range');
  assert.notEqual(fresh({ etag: 'W/"weak"', 'last-modified': 'Wed, 21 Oct 2026 07:28:00 GMT' }).sidecar, null);
  const gz = fresh({ 'content-length': '10', etag: '"a"', 'content-encoding': 'gzip' });
  assert.equal(gz.sidecar, null);
  assert.equal(gz.length, null, 'a Content-Length of encoded bytes is not the file length');
  assert.equal(fresh({ 'content-length': '10', 'content-encoding': 'identity' }).length, 10);
});

test('resume-plan: canResume, If-Range validators and Content-Range parsing', () => {
  assert.equal(canResume(URL_, 400, sidecar), true);
  assert.equal(canResume(URL_, 0, sidecar), false);
  assert.equal(canResume(URL_, 1000, sidecar), false, 'a complete but unverified part starts again');
  assert.equal(canResume('http://h/other', 400, sidecar), false);
  assert.equal(canResume(URL_, 400, null), false);
  assert.equal(canResume(URL_, 400, { ...sidecar, etag: null }), false);
  assert.equal(canResume(URL_, 5000, { ...sidecar, length: null }), true);
  assert.equal(ifRangeValidator({ etag: '"x"', lastModified: 'date' }), '"x"');
  assert.equal(ifRangeValidator({ etag: 'W/"x"', lastModified: 'date' }), 'date');
  assert.equal(ifRangeValidator({ etag: null, lastModified: null }), null);
  assert.deepEqual(parseContentRange('bytes 5-9/10'), { start: 5, end: 9, length: 10 });
  for (const bad of [null, 'bytes 5-9/*', 'bytes 9-5/10', 'bytes 5-10/10', 'items 5-9/10', 'bytes=5-9/10']) {
    assert.equal(parseContentRange(bad), null, String(bad));
  }
});
