/**
 * A small, lenient, non-validating XML reader for TSP messages (protocol brief §2.5, §2.6, §3.2),
 * over `fast-xml-parser`.
 *
 * Pipeline: {@link repairXml} (structure, no DTD, the §3.2 repair) → `XMLValidator` (well-formed
 * attributes and tags) → `XMLParser` with number coercion off, entity processing off, values
 * trimmed, and element and attribute names lower-cased. The five predefined entities and numeric
 * character references are decoded here (bounded, non-recursive); nothing else is expanded.
 *
 * @module
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { DEFAULT_MAX_XML_DEPTH, repairXml, type XmlRepairReason } from "./xml_repair.ts";

/** One element: lower-case name, lower-case attribute names, child elements, trimmed text. */
export interface XmlElement {
  /** Element name, lower case. */
  readonly name: string;
  /** Attributes by lower-case name (a map, so that names such as `__proto__` are harmless). */
  readonly attrs: ReadonlyMap<string, string>;
  /** Child elements in document order. */
  readonly children: readonly XmlElement[];
  /** The element's own text nodes joined, entities decoded, trimmed. */
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

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: false,
  htmlEntities: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  allowBooleanAttributes: false,
  commentPropName: false,
  cdataPropName: false,
  transformTagName: (n: string) => n.toLowerCase(),
  transformAttributeName: (n: string) => n.toLowerCase(),
});

const ATTRS = ":@";
const TEXT = "#text";

/** Parse an XML document into an {@link XmlElement} tree; see the module notes. Never throws. */
export function parseXmlTree(text: string, options: XmlTreeOptions = {}): XmlTreeResult {
  const maxLength = options.maxLength ?? 16384;
  if (typeof text !== "string") return { ok: false, reason: "malformed" };
  if (text.length > maxLength) return { ok: false, reason: "too-large" };
  const rep = repairXml(text, options.maxDepth ?? DEFAULT_MAX_XML_DEPTH);
  if (!rep.ok) return { ok: false, reason: rep.reason };
  try {
    if (XMLValidator.validate(rep.text, { allowBooleanAttributes: false }) !== true) {
      return { ok: false, reason: "not-well-formed" };
    }
    const doc: unknown = parser.parse(rep.text);
    if (!Array.isArray(doc)) return { ok: false, reason: "not-well-formed" };
    for (const node of doc) {
      const el = convert(node);
      if (el) return { ok: true, root: el, repaired: rep.repaired };
    }
    return { ok: false, reason: "no-root" };
  } catch {
    return { ok: false, reason: "not-well-formed" };
  }
}

/** Convert one preserveOrder node (`{ name: [children], ":@": {attrs} }`) or `undefined`. */
function convert(node: unknown): XmlElement | undefined {
  if (node === null || typeof node !== "object") return undefined;
  let name: string | undefined;
  for (const key of Object.keys(node)) {
    if (key !== ATTRS && key !== TEXT) {
      name = key;
      break;
    }
  }
  if (name === undefined) return undefined;
  const rec = node as Record<string, unknown>;
  const attrs = new Map<string, string>();
  const rawAttrs = Object.hasOwn(rec, ATTRS) ? rec[ATTRS] : undefined;
  if (rawAttrs !== null && typeof rawAttrs === "object") {
    for (const [k, v] of Object.entries(rawAttrs as Record<string, unknown>)) {
      if (typeof v === "string") attrs.set(k, decodeEntities(v).trim());
    }
  }
  const children: XmlElement[] = [];
  const texts: string[] = [];
  const body = rec[name];
  if (Array.isArray(body)) {
    for (const child of body) {
      if (child !== null && typeof child === "object" && Object.hasOwn(child, TEXT)) {
        const t = (child as Record<string, unknown>)[TEXT];
        if (typeof t === "string" || typeof t === "number") texts.push(String(t));
        continue;
      }
      const el = convert(child);
      if (el) children.push(el);
    }
  }
  return { name, attrs, children, text: decodeEntities(texts.join("")).trim() };
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
