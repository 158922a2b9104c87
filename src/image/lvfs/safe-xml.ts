import { createRequire } from 'node:module';
import type { DOMParser as XmldomParser, Element as XmldomElement, Node as XmldomNode } from '@xmldom/xmldom';
import type { ErrorCode } from '../../errors/codes.js';
import { FwupError } from '../../errors/fwup-error.js';

/**
 * The one place fwup parses XML (with @xmldom/xmldom, a maintained pure-JavaScript parser). The
 * document is refused before the parser sees it when it is too large, not UTF-8, or has a DOCTYPE or
 * any markup declaration: the formats read here never need one, and without a DTD there are no
 * external entities to fetch and no entity expansion to blow up. Every warning or error of the parser
 * is fatal. The result is a plain tree of elements (no DOM leaves this module).
 */

export interface XmlElement {
  /** The tag name as written (prefix included). */
  name: string;
  attributes: Readonly<Record<string, string>>;
  children: XmlElement[];
  /** The element's own text and CDATA (not its children's), entity references resolved. */
  text: string;
  /** All the text inside it, children's included, in document order (the DOM's textContent). */
  textContent: string;
  /** 1-based line of the start tag. */
  line: number | null;
}

export interface SafeXmlOptions {
  /** The file's name, for messages. */
  name: string;
  /** The error code raised for every refusal. */
  code: ErrorCode;
  hint: string;
  maxBytes: number;
  /** Deepest element nesting accepted (the root is depth 1). */
  maxDepth?: number;
  maxElements?: number;
}

const DEFAULT_MAX_DEPTH = 32;
const DEFAULT_MAX_ELEMENTS = 20_000;
const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;

type XmldomModule = typeof import('@xmldom/xmldom');
let xmldom: XmldomModule | null = null;

/** Loaded on first use: the CLI's start-up time is measured, and only cabinet commands read XML. */
function library(): XmldomModule {
  xmldom ??= createRequire(import.meta.url)('@xmldom/xmldom') as XmldomModule;
  return xmldom;
}

export function parseSafeXml(bytes: Buffer, opts: SafeXmlOptions): XmlElement {
  const fail = (rule: string): never => {
    throw new FwupError(opts.code, `${opts.name}: ${rule}`, { hint: opts.hint, details: { file: opts.name, rule } });
  };
  if (bytes.length > opts.maxBytes) fail(`${bytes.length} bytes is more than the ${opts.maxBytes} bytes accepted`);
  const text = decodeUtf8(bytes, fail);
  refuseDeclarations(text, fail);

  let problem: string | null = null;
  const parser: XmldomParser = new (library().DOMParser)({
    locator: true,
    onError: (level, message, context: { locator?: { lineNumber?: number } } | undefined) => {
      const line = context?.locator?.lineNumber;
      problem ??= `${level}${line === undefined ? '' : ` near line ${line}`}: ${message.trim()}`;
      throw new Error(message);
    },
  });
  let root: XmldomElement | null;
  try {
    root = parser.parseFromString(text, 'text/xml').documentElement;
  } catch (e) {
    return fail(`not well-formed XML (${problem ?? (e instanceof Error ? e.message : String(e))})`);
  }
  if (problem !== null) return fail(`not well-formed XML (${problem})`);
  if (!root) return fail('not well-formed XML (no root element)');
  const budget = { elements: opts.maxElements ?? DEFAULT_MAX_ELEMENTS, maxDepth: opts.maxDepth ?? DEFAULT_MAX_DEPTH };
  return toTree(root, 1, budget, fail);
}

/** UTF-8 only: a UTF-16 or UTF-32 byte-order mark, an invalid sequence or another declared encoding is refused. */
function decodeUtf8(bytes: Buffer, fail: (rule: string) => never): string {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    fail(`is UTF-16 (byte-order mark ${bytes.subarray(0, 2).toString('hex').toUpperCase()}): only UTF-8 is accepted`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    const lossy = Buffer.from(new TextDecoder('utf-8').decode(bytes), 'utf8');
    let at = 0;
    while (at < bytes.length && bytes[at] === lossy[at]) at++;
    return fail(`is not valid UTF-8 (at byte ${at}, 0x${(bytes[at] ?? 0).toString(16).padStart(2, '0').toUpperCase()})`);
  }
  if (text.includes('\0')) fail(`holds a NUL character (at offset ${text.indexOf('\0')})`);
  const declared = /^\s*<\?xml[^>]*\bencoding\s*=\s*["']([^"']*)["']/.exec(text)?.[1];
  if (declared !== undefined && !/^utf-?8$/i.test(declared)) fail(`declares encoding "${declared}": only UTF-8 is accepted`);
  return text;
}

/** A DOCTYPE or any markup declaration (ENTITY, ELEMENT, ATTLIST, NOTATION), wherever it is. */
function refuseDeclarations(text: string, fail: (rule: string) => never): void {
  const m = /<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)\b/i.exec(text);
  if (!m) return;
  const line = text.slice(0, m.index).split('\n').length;
  fail(`has a <!${m[1]!.toUpperCase()} declaration (line ${line}): document type definitions and entity declarations are refused`);
}

function toTree(el: XmldomElement, depth: number, budget: { elements: number; maxDepth: number }, fail: (rule: string) => never): XmlElement {
  const line = (el as { lineNumber?: number }).lineNumber ?? null;
  if (depth > budget.maxDepth) fail(`elements nest deeper than ${budget.maxDepth} levels (<${el.tagName}> at line ${line})`);
  if (--budget.elements < 0) fail('has too many elements');
  const attributes: Record<string, string> = {};
  for (let i = 0; i < el.attributes.length; i++) {
    const a = el.attributes.item(i)!;
    attributes[a.name] = a.value;
  }
  const children: XmlElement[] = [];
  let text = '';
  for (let n: XmldomNode | null = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === ELEMENT_NODE) children.push(toTree(n as XmldomElement, depth + 1, budget, fail));
    else if (n.nodeType === TEXT_NODE || n.nodeType === CDATA_SECTION_NODE) text += n.nodeValue ?? '';
  }
  return { name: el.tagName, attributes, children, text, textContent: el.textContent ?? '', line };
}
