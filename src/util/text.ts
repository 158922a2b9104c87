/**
 * Text from an image, a target or a file shown on a terminal: every control character, DEL, the C1
 * controls and the Unicode format characters that reorder or hide text (bidi overrides, zero-width
 * characters) become visible escapes, so no image can move the cursor, clear a line or paint a fake
 * "signature valid" over the real verdict.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/gu;

export function escapeText(s: string): string {
  return s.replace(UNSAFE, (ch) => {
    const c = ch.codePointAt(0)!;
    if (ch === '\n') return '\\n';
    if (ch === '\t') return '\\t';
    if (ch === '\r') return '\\r';
    return c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u{${c.toString(16)}}`;
  });
}

// eslint-disable-next-line no-control-regex
const OUTPUT_UNSAFE = /\u001b(?!\[[0-9;]*m)|[\u0000-\u0008\u000b-\u001a\u001c-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069]/gu;

/**
 * The last line of defence, over a whole rendered text: only fwup's own colour codes (SGR) and line
 * breaks survive; anything else a renderer let through is escaped.
 */
export function sanitizeOutput(s: string): string {
  return s.replace(OUTPUT_UNSAFE, (ch) => escapeText(ch));
}
