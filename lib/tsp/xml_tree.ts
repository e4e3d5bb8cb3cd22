/**
 * A small, lenient, non-validating XML reader for TSP messages (protocol brief §2.5, §2.6, §3.2).
 *
 * Pipeline: {@link repairXml} (structure, no DTD, the §3.2 repair), then one pass over the text
 * that builds the element tree and refuses what is not well-formed: a close tag that does not
 * name the open element exactly (names are case-sensitive in XML; the repair compares them
 * case-insensitively only to decide what to close), an attribute without a quoted value or
 * without whitespace before it, a duplicate attribute, a `&` in text that starts no reference,
 * markup left unterminated. Line ends are normalised to LF (XML §2.11).
 * Element and attribute names are lower-cased, text and attribute values trimmed. The five
 * predefined entities and numeric character references are decoded (bounded, non-recursive);
 * nothing else is expanded, and numbers stay text. Comments and processing instructions are
 * skipped; CDATA content is text.
 *
 * Hand-written rather than over an XML library: TSP documents are tiny and of one fixed shape,
 * and the server parses one per request. `fast-xml-parser` (validator + parser, used until
 * 2026-11) took about 14 µs per `query` document, this reader about 1 µs, which is what a TEP's
 * query stream needs (benchmark issue: 100k queries/s on one session). `xml_tree_test.ts` and
 * the codec's golden and fuzz tests pin the behaviour.
 *
 * @module
 */
import { isNameChar, isNameStart, isSpace } from "./_xml_chars.ts";
import { DEFAULT_MAX_XML_DEPTH, repairXml, type XmlRepairReason } from "./xml_repair.ts";

/** One element: lower-case name, lower-case attribute names, child elements, trimmed text. */
export interface XmlElement {
  /** Element name, lower case. */
  readonly name: string;
  /** Attributes by lower-case name (a map, so that names such as `__proto__` are harmless). */
  readonly attrs: ReadonlyMap<string, string>;
  /** Child elements in document order. */
  readonly children: readonly XmlElement[];
  /** The element's own text nodes, each trimmed, joined, entities decoded, trimmed. */
  readonly text: string;
}

/** Why {@link parseXmlTree} refused a document. */
export type XmlTreeReason = XmlRepairReason | "too-large" | "not-well-formed";

/** Result of {@link parseXmlTree}. */
export type XmlTreeResult =
  | { readonly ok: true; readonly root: XmlElement; readonly repaired: boolean }
  | { readonly ok: false; readonly reason: XmlTreeReason };

/** Options of {@link parseXmlTree}. */
export interface XmlTreeOptions {
  /** Longest document in characters. Default 16384. */
  readonly maxLength?: number;
  /** Deepest nesting. Default {@link DEFAULT_MAX_XML_DEPTH}. */
  readonly maxDepth?: number;
}

/** Parse an XML document into an {@link XmlElement} tree; see the module notes. Never throws. */
export function parseXmlTree(text: string, options: XmlTreeOptions = {}): XmlTreeResult {
  const maxLength = options.maxLength ?? 16384;
  if (typeof text !== "string") return { ok: false, reason: "malformed" };
  if (text.length > maxLength) return { ok: false, reason: "too-large" };
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_XML_DEPTH;
  // Fast path: a document that is well-formed as it stands needs no repair, and this one pass
  // refuses everything repairXml would (more than one root, text outside it, declarations,
  // nesting too deep). Anything else takes the full path for the repair or the precise reason.
  const direct = buildTree(normaliseLineEnds(text), maxDepth);
  if (direct !== null) return { ok: true, root: direct, repaired: false };
  const rep = repairXml(text, maxDepth);
  if (!rep.ok) return { ok: false, reason: rep.reason };
  const root = buildTree(normaliseLineEnds(rep.text), maxDepth);
  return root === null
    ? { ok: false, reason: "not-well-formed" }
    : { ok: true, root, repaired: rep.repaired };
}

/** XML line-end normalisation (§2.11): CR LF and lone CR read as LF. */
function normaliseLineEnds(t: string): string {
  return t.indexOf("\r") < 0 ? t : t.replace(/\r\n?/g, "\n");
}

interface Building {
  readonly name: string;
  readonly lower: string;
  readonly attrs: Map<string, string>;
  readonly children: XmlElement[];
  /** Text nodes so far, each trimmed, joined. */
  text: string;
  /** The text node being read: raw, across comments, PIs and CDATA sections. */
  pending: string;
}

/** Attribute names may also use any non-ASCII character (XML allows most of them). */
function isAttrNameStart(c: number): boolean {
  return isNameStart(c) || c >= 0x80;
}

function isAttrNameChar(c: number): boolean {
  return isNameChar(c) || c >= 0x80;
}

/**
 * Every `&` in text must start a reference: `&name;`, `&#digits;` or `&#xhex;` (a bare `&` is
 * not well-formed). Attribute values are not checked (lenient, as before).
 */
function referencesOk(s: string): boolean {
  let i = s.indexOf("&");
  while (i >= 0) {
    let j = i + 1;
    let c = s.charCodeAt(j);
    if (c === 0x23) { // '#'
      j++;
      const hex = s.charCodeAt(j) === 0x78;
      if (hex) j++;
      const start = j;
      for (;;) {
        c = s.charCodeAt(j);
        const digit = c >= 0x30 && c <= 0x39;
        const hexLetter = (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
        if (!(digit || (hex && hexLetter))) break;
        j++;
      }
      if (j === start) return false;
    } else {
      if (!isNameStart(c)) return false;
      while (isNameChar(s.charCodeAt(j))) j++;
    }
    if (s.charCodeAt(j) !== 0x3b) return false;
    i = s.indexOf("&", j + 1);
  }
  return true;
}

function onlySpace(t: string): boolean {
  for (let i = 0; i < t.length; i++) if (!isSpace(t.charCodeAt(i))) return false;
  return true;
}

/** Add raw text to the current text node of the open element (none outside the root). */
function addText(top: Building | undefined, s: string): void {
  if (top !== undefined) top.pending += s;
}

/** End the open element's current text node: trimmed, and kept unless empty. */
function endTextNode(b: Building): void {
  if (b.pending === "") return;
  const t = b.pending.trim();
  b.pending = "";
  if (t !== "") b.text += t;
}

function finish(b: Building): XmlElement {
  endTextNode(b);
  return {
    name: b.lower,
    attrs: b.attrs,
    children: b.children,
    text: b.text === "" ? "" : decodeEntities(b.text).trim(),
  };
}

/**
 * Build the tree of a well-formed document: one root, no text or CDATA outside it, every tag
 * closed by its exact name, no declaration other than comments and processing instructions,
 * nesting at most `maxDepth`. `null` otherwise.
 */
function buildTree(s: string, maxDepth: number): XmlElement | null {
  const n = s.length;
  const stack: Building[] = [];
  let root: XmlElement | null = null;
  let i = 0;
  while (i < n) {
    const lt = s.indexOf("<", i);
    const end = lt < 0 ? n : lt;
    if (end > i) {
      const t = s.slice(i, end);
      if (stack.length === 0) {
        if (!onlySpace(t)) return null; // text outside the root
      } else {
        if (!referencesOk(t)) return null;
        addText(stack[stack.length - 1], t);
      }
    }
    if (lt < 0) break;
    const c1 = s.charCodeAt(lt + 1);
    if (c1 === 0x21) { // <!-- comment --> or <![CDATA[ ... ]]>
      if (s.startsWith("<!--", lt)) {
        const j = s.indexOf("-->", lt + 4);
        if (j < 0) return null;
        i = j + 3;
      } else if (s.startsWith("<![CDATA[", lt)) {
        const j = s.indexOf("]]>", lt + 9);
        if (j < 0) return null;
        const top = stack[stack.length - 1];
        if (top === undefined) return null; // CDATA outside the root
        endTextNode(top); // a text node of its own, kept as is
        top.text += s.slice(lt + 9, j);
        i = j + 3;
      } else {
        return null;
      }
      continue;
    }
    if (c1 === 0x3f) { // <? processing instruction ?>
      const j = s.indexOf("?>", lt + 2);
      if (j < 0) return null;
      i = j + 2;
      continue;
    }
    if (c1 === 0x2f) { // </name>
      const top = stack.pop();
      if (top === undefined) return null;
      let j = lt + 2;
      const nameEnd = j + top.name.length;
      if (!s.startsWith(top.name, j)) return null;
      j = nameEnd;
      while (j < n && isSpace(s.charCodeAt(j))) j++;
      if (j >= n || s.charCodeAt(j) !== 0x3e) return null;
      const el = finish(top);
      if (stack.length === 0) {
        if (root !== null) return null;
        root = el;
      } else {
        stack[stack.length - 1].children.push(el);
      }
      i = j + 1;
      continue;
    }
    // <name attr="value" ...> or <name .../>
    let j = lt + 1;
    if (!isNameStart(c1)) return null;
    while (j < n && isNameChar(s.charCodeAt(j))) j++;
    const name = s.slice(lt + 1, j);
    const b: Building = {
      name,
      lower: name.toLowerCase(),
      attrs: new Map(),
      children: [],
      text: "",
      pending: "",
    };
    if (stack.length > 0) endTextNode(stack[stack.length - 1]);
    let selfClosing = false;
    const seen: string[] = [];
    for (;;) {
      const before = j;
      while (j < n && isSpace(s.charCodeAt(j))) j++;
      if (j >= n) return null;
      const c = s.charCodeAt(j);
      if (c === 0x3e) {
        j++;
        break;
      }
      if (c === 0x2f) {
        if (s.charCodeAt(j + 1) !== 0x3e) return null;
        selfClosing = true;
        j += 2;
        break;
      }
      // An attribute: whitespace before it, a name, `=`, a quoted value.
      if (j === before || !isAttrNameStart(c)) return null;
      const a0 = j;
      while (j < n && isAttrNameChar(s.charCodeAt(j))) j++;
      const attrName = s.slice(a0, j);
      while (j < n && isSpace(s.charCodeAt(j))) j++;
      if (s.charCodeAt(j) !== 0x3d) return null;
      j++;
      while (j < n && isSpace(s.charCodeAt(j))) j++;
      const q = s.charCodeAt(j);
      if (q !== 0x22 && q !== 0x27) return null;
      const close = s.indexOf(q === 0x22 ? '"' : "'", j + 1);
      if (close < 0) return null;
      const raw = s.slice(j + 1, close);
      if (seen.includes(attrName)) return null;
      seen.push(attrName);
      b.attrs.set(attrName.toLowerCase(), decodeEntities(raw).trim());
      j = close + 1;
    }
    if (selfClosing) {
      const el = finish(b);
      if (stack.length === 0) {
        if (root !== null) return null;
        root = el;
      } else {
        stack[stack.length - 1].children.push(el);
      }
    } else {
      if (stack.length >= maxDepth) return null;
      stack.push(b);
    }
    i = j;
  }
  return stack.length === 0 ? root : null;
}

const NAMED: Readonly<Record<string, string>> = {
  lt: "<",
  gt: ">",
  amp: "&",
  quot: '"',
  apos: "'",
};

/** Decode the five predefined entities and numeric references; leave anything else as is. */
function decodeEntities(s: string): string {
  if (s.indexOf("&") < 0) return s;
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|lt|gt|amp|quot|apos);/g, (m, ref: string) => {
    if (ref[0] !== "#") return NAMED[ref];
    const cp = ref[1] === "x" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return m;
    return String.fromCodePoint(cp);
  });
}
