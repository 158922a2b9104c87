import type { FileHandle } from 'node:fs/promises';

/** Why a multipart body was refused: the BMC answers 400 (malformed) or 413 (too large). */
export class MultipartError extends Error {
  constructor(readonly status: 400 | 413, message: string) {
    super(message);
  }
}

export interface MultipartLimits {
  /** Bytes of a part kept in memory (UpdateParameters and the like). */
  maxField: number;
  /** Bytes of the one file part, streamed to `file`. */
  maxFile: number;
  maxParts: number;
  maxHeaderBytes: number;
}

export interface MultipartResult {
  fields: Map<string, Buffer>;
  /** The file part's form name and size; null when the body carried none. */
  file: { name: string; filename: string | null; size: number } | null;
}

/** The boundary of a multipart/form-data Content-Type, or null. */
export function multipartBoundary(contentType: string | undefined): string | null {
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType)) return null;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2]!) : null;
}

/**
 * Parse multipart/form-data as it streams in: small parts are kept, the part that names a file
 * (`filename=`, or the form name `fileName`) is written to `file` without being held in memory, and
 * every size is bounded before the bytes are accepted.
 */
export async function parseMultipart(body: AsyncIterable<Buffer>, boundary: string, fileName: string, file: FileHandle, limits: MultipartLimits): Promise<MultipartResult> {
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const fields = new Map<string, Buffer>();
  let result: MultipartResult['file'] = null;
  // The body starts with "--boundary": a leading CRLF makes the first delimiter look like the others.
  let buf: Buffer = Buffer.from('\r\n');
  let state = 'preamble' as 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'done';
  let part: { name: string; filename: string | null; toFile: boolean; chunks: Buffer[]; size: number } | null = null;
  let parts = 0;
  let fileSize = 0;

  const emit = async (bytes: Buffer) => {
    if (!part || bytes.length === 0) return;
    part.size += bytes.length;
    if (part.toFile) {
      fileSize += bytes.length;
      if (fileSize > limits.maxFile) throw new MultipartError(413, `the file part is larger than ${limits.maxFile} bytes`);
      await file.write(bytes);
    } else {
      if (part.size > limits.maxField) throw new MultipartError(413, `the part ${JSON.stringify(part.name)} is larger than ${limits.maxField} bytes`);
      part.chunks.push(bytes);
    }
  };

  const step = async (): Promise<boolean> => {
    switch (state) {
      case 'preamble':
      case 'body': {
        const at = buf.indexOf(delimiter);
        if (at < 0) {
          // Keep what could be the start of a delimiter split across chunks.
          const keep = Math.min(buf.length, delimiter.length - 1);
          if (state === 'body') await emit(buf.subarray(0, buf.length - keep));
          else if (buf.length > limits.maxHeaderBytes) throw new MultipartError(400, 'no multipart boundary where the body starts');
          buf = buf.subarray(buf.length - keep);
          return false;
        }
        if (state === 'body') {
          await emit(buf.subarray(0, at));
          finishPart();
        }
        buf = buf.subarray(at + delimiter.length);
        state = 'after-delimiter';
        return true;
      }
      case 'after-delimiter': {
        if (buf.length < 2) return false;
        if (buf[0] === 0x2d && buf[1] === 0x2d) {
          state = 'done';
          return false;
        }
        // Transport padding (spaces, tabs) may follow a delimiter before its CRLF.
        const crlf = buf.indexOf('\r\n');
        if (crlf < 0) {
          if (buf.length > 256) throw new MultipartError(400, 'a multipart delimiter is not followed by a line end');
          return false;
        }
        if (!/^[ \t]*$/.test(buf.subarray(0, crlf).toString('latin1'))) throw new MultipartError(400, 'a multipart delimiter is followed by other text');
        buf = buf.subarray(crlf + 2);
        state = 'headers';
        return true;
      }
      case 'headers': {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buf.length > limits.maxHeaderBytes) throw new MultipartError(400, `a part's headers are longer than ${limits.maxHeaderBytes} bytes`);
          return false;
        }
        startPart(buf.subarray(0, end).toString('utf8'));
        buf = buf.subarray(end + 4);
        state = 'body';
        return true;
      }
      case 'done':
        return false;
    }
  };

  function startPart(headerText: string): void {
    if (++parts > limits.maxParts) throw new MultipartError(400, `more than ${limits.maxParts} parts`);
    const disposition = headerText.split('\r\n').find((l) => /^content-disposition\s*:/i.test(l));
    if (!disposition || !/:\s*form-data\s*(;|$)/i.test(disposition)) throw new MultipartError(400, 'a part has no Content-Disposition: form-data header');
    const name = /;\s*name="([^"]*)"/i.exec(disposition)?.[1] ?? /;\s*name=([^;\s]+)/i.exec(disposition)?.[1];
    if (!name) throw new MultipartError(400, 'a part has no name');
    const filename = /;\s*filename="([^"]*)"/i.exec(disposition)?.[1] ?? null;
    const toFile = name === fileName || filename !== null;
    if (toFile && result) throw new MultipartError(400, 'more than one file part');
    if (!toFile && fields.has(name)) throw new MultipartError(400, `the part ${JSON.stringify(name)} is there twice`);
    part = { name, filename, toFile, chunks: [], size: 0 };
  }

  function finishPart(): void {
    if (!part) return;
    if (part.toFile) result = { name: part.name, filename: part.filename, size: part.size };
    else fields.set(part.name, Buffer.concat(part.chunks));
    part = null;
  }

  for await (const chunk of body) {
    if (state === 'done') continue; // the epilogue is ignored
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (await step());
  }
  if (state !== 'done') throw new MultipartError(400, 'the multipart body ends before its closing boundary');
  return { fields, file: result };
}
