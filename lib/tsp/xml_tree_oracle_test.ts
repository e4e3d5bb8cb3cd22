import { test } from "node:test";
import assert from "node:assert/strict";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { Prng } from "../testing/prng.ts";
import { mutateText } from "./_fuzz.ts";
import { DEFAULT_MAX_XML_DEPTH, repairXml } from "./xml_repair.ts";
import { parseXmlTree, type XmlElement, type XmlTreeResult } from "./xml_tree.ts";

// Differential test: the hand-written reader against `fast-xml-parser` (a dev dependency, the
// oracle), which the reader replaced for speed. They differ by design in two places, left out of
// the comparison: `&` in text (the reader follows XML's reference syntax; the library's check
// is looser in some spots, stricter in others), `=` garbage right after an attribute value
// (`a="1"=`), and control characters such as form feed, which the library took for whitespace
// inside tags (XML's whitespace is space, tab, CR and LF only).

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

/** The reader as it was over fast-xml-parser (validator, then parser), before 2026-11. */
function oracle(text: string): XmlTreeResult {
  const rep = repairXml(text, DEFAULT_MAX_XML_DEPTH);
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

/** A control character other than tab, CR and LF. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return true;
  }
  return false;
}

const norm = (r: XmlTreeResult) => JSON.stringify(r, (_k, v) => (v instanceof Map ? [...v] : v));

test("xml tree: agrees with fast-xml-parser on 80k mutated TSP documents", () => {
  const seeds = [
    '<tunnel action="info" type="v4v6" lifetime="1440"><server><address type="ipv4" length="32">192.0.2.1</address></server><client><address type="ipv6">2001:db8::1</address></client></tunnel>',
    '<tunnel action="query" type="v4v6"><server><address type="ipv4">10.16.0.5</address></server></tunnel>',
    "<tunnel action='create' type='v4v6' proxy='no'>\r\n <client>\r\n  <address type=\"ipv6\">2001:db8::1</address>\r\n <!-- c --> <keepalive interval=\"30\"><address type=\"ipv6\">::1</address></keepalive></client></tunnel>",
    "<tunnel><server><address>1</address></tunnel>",
  ];
  const rng = new Prng(0x0dd5);
  let compared = 0;
  let parsed = 0;
  for (const seed of seeds) {
    for (let i = 0; i < 20_000; i++) {
      const doc = i === 0 ? seed : mutateText(rng, seed);
      if (doc.includes("&") || /["']\s*=/.test(doc) || hasControl(doc)) continue;
      const ours = parseXmlTree(doc);
      assert.equal(norm(ours), norm(oracle(doc)), JSON.stringify(doc));
      compared++;
      if (ours.ok) parsed++;
    }
  }
  assert.ok(compared > 70_000 && parsed > 5_000, `${compared} compared, ${parsed} parsed`);
});
