import type { PartSidecar } from './download-cache.js';

/** A part file that may be continued: its length and what it was downloaded from. */
export interface ResumablePart {
  offset: number;
  sidecar: PartSidecar;
}

/**
 * The validator to send in If-Range: a strong ETag, else Last-Modified. Weak ETags (W/"…") are not
 * allowed in If-Range (RFC 9110 §13.1.5); without any validator a part is never resumed, because
 * nothing would tell us the rest belongs to the same file.
 */
export function ifRangeValidator(s: Pick<PartSidecar, 'etag' | 'lastModified'>): string | null {
  if (s.etag && !s.etag.startsWith('W/')) return s.etag;
  return s.lastModified;
}

/** The request headers that ask for the rest of `part`. */
export function rangeHeaders(part: ResumablePart): Record<string, string> {
  return { range: `bytes=${part.offset}-`, 'if-range': ifRangeValidator(part.sidecar)! };
}

/** Should an existing part file be continued? (Otherwise it is deleted and the download starts from zero.) */
export function canResume(url: string, partSize: number, sidecar: PartSidecar | null): sidecar is PartSidecar {
  if (!sidecar || sidecar.url !== url || ifRangeValidator(sidecar) === null) return false;
  if (partSize <= 0) return false;
  // A part as long as the whole file was complete but never verified (interrupted during the checks):
  // asking for zero more bytes is not a valid range, so start again.
  return sidecar.length === null || partSize < sidecar.length;
}

/** How the body of a non-redirect response is to be used. */
export type BodyPlan =
  /** Write from byte 0; `length` is the whole file's, when known. */
  | { kind: 'fresh'; length: number | null; sidecar: PartSidecar | null; note: string | null }
  /** Append to the part from `offset`; the part's bytes must be hashed first. */
  | { kind: 'append'; offset: number; length: number }
  /** The part cannot be continued (changed file, bad range): delete it and ask again without Range. */
  | { kind: 'restart'; note: string }
  /** Not a usable answer: the caller reports the status as an error. */
  | { kind: 'status-error' };

export interface ResponseFacts {
  status: number;
  headers: { get(name: string): string | null };
}

/**
 * Decide what to do with a response, given the part we asked to continue (null: no Range was sent).
 * Pure, so every branch is tested without a server.
 */
export function planBody(url: string, res: ResponseFacts, part: ResumablePart | null): BodyPlan {
  const encoded = isEncoded(res);
  if (res.status === 200) {
    const length = encoded ? null : contentLength(res);
    const etag = res.headers.get('etag');
    const lastModified = res.headers.get('last-modified');
    // A part can be resumed later only if a validator ties it to this file and the bytes on disk are
    // the resource's own bytes (not decoded from a Content-Encoding, whose ranges mean something else).
    const resumable = !encoded && ifRangeValidator({ etag, lastModified }) !== null;
    return {
      kind: 'fresh',
      length,
      sidecar: resumable ? { version: 1, url, etag, lastModified, length } : null,
      note: part ? `the server sent the whole file instead of the rest (it ignores Range, or the file changed): starting again from byte 0` : null,
    };
  }
  if (res.status === 206 && part) {
    const range = parseContentRange(res.headers.get('content-range'));
    const etag = res.headers.get('etag');
    const why =
      encoded ? 'the partial response is content-encoded'
      : range === null ? `its Content-Range ${JSON.stringify(res.headers.get('content-range'))} is not a byte range`
      : range.start !== part.offset ? `it starts at byte ${range.start}, not ${part.offset}`
      : range.end !== range.length - 1 ? `it ends at byte ${range.end}, not at the end of the file`
      : part.sidecar.length !== null && range.length !== part.sidecar.length ? `the file is now ${range.length} bytes, not ${part.sidecar.length}`
      : part.sidecar.etag !== null && etag !== null && etag !== part.sidecar.etag ? `the ETag changed from ${part.sidecar.etag} to ${etag}`
      : contentLength(res) !== null && contentLength(res) !== range.end - range.start + 1 ? 'its Content-Length does not match its Content-Range'
      : null;
    if (why !== null || range === null) return { kind: 'restart', note: `cannot resume: ${why}` };
    return { kind: 'append', offset: part.offset, length: range.length };
  }
  if (res.status === 416 && part) {
    return { kind: 'restart', note: `cannot resume: the server says byte ${part.offset} is beyond the end of the file` };
  }
  return { kind: 'status-error' };
}

function isEncoded(res: ResponseFacts): boolean {
  const enc = res.headers.get('content-encoding');
  return enc !== null && enc.trim().toLowerCase() !== 'identity' && enc.trim() !== '';
}

function contentLength(res: ResponseFacts): number | null {
  const v = res.headers.get('content-length');
  if (v === null || !/^\d+$/.test(v.trim())) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : null;
}

/** `bytes START-END/LENGTH` (an unknown length, `*`, cannot be resumed against). */
export function parseContentRange(v: string | null): { start: number; end: number; length: number } | null {
  const m = v === null ? null : /^bytes (\d+)-(\d+)\/(\d+)$/.exec(v.trim());
  if (!m) return null;
  const [start, end, length] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (![start, end, length].every(Number.isSafeInteger) || start > end || end >= length) return null;
  return { start, end, length };
}
