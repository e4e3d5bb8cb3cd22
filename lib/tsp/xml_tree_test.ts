import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../testing/prng.ts";
import { parseXmlTree, type XmlTreeReason } from "./xml_tree.ts";
import { mutateText } from "./_fuzz.ts";

test("xml tree: names lower-cased, values trimmed, numbers not coerced", () => {
  const r = parseXmlTree(
    '<TUNNEL Action="Info" lifetime="01440"><Server><ADDRESS Type="IPv4"> 192.0.2.1\r\n </ADDRESS></Server></TUNNEL>',
  );
  assert.ok(r.ok);
  assert.equal(r.root.name, "tunnel");
  assert.equal(r.root.attrs.get("action"), "Info");
  assert.equal(r.root.attrs.get("lifetime"), "01440");
  const a = r.root.children[0].children[0];
  assert.equal(a.name, "address");
  assert.equal(a.attrs.get("type"), "IPv4");
  assert.equal(a.text, "192.0.2.1");
  assert.equal(r.repaired, false);
});

test("xml tree: predefined and numeric entities decoded, nothing else expanded", () => {
  const r = parseXmlTree('<t a="&quot;&amp;&#65;&#x42;">&lt;x&gt; &apos;&unknown; &#0;</t>');
  assert.ok(r.ok);
  assert.equal(r.root.attrs.get("a"), '"&AB');
  assert.equal(r.root.text, "<x> '&unknown; &#0;");
});

test("xml tree: DTDs and entity definitions are refused (no expansion)", () => {
  const bomb = '<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><t>&b;</t>';
  assert.deepEqual(parseXmlTree(bomb), { ok: false, reason: "dtd" });
});

test("xml tree: prototype-looking names are plain data", () => {
  const r = parseXmlTree(
    '<t __proto__="x" constructor="y"><__proto__>1</__proto__><constructor/></t>',
  );
  if (r.ok) {
    assert.equal(({} as Record<string, unknown>).x, undefined);
    assert.equal(Object.getPrototypeOf({}), Object.prototype);
  }
});

test("xml tree: refusals", () => {
  const cases: [string, XmlTreeReason][] = [
    ["<t a=1></t>", "not-well-formed"],
    ["<t a></t>", "not-well-formed"],
    ['<t a="1" a="2"></t>', "not-well-formed"],
    ["<t></T>", "not-well-formed"],
    ["x".repeat(20000), "too-large"],
    ["", "no-root"],
  ];
  for (const [doc, reason] of cases) {
    assert.deepEqual(parseXmlTree(doc), { ok: false, reason }, doc);
  }
  assert.deepEqual(parseXmlTree("<t/>", { maxLength: 3 }), { ok: false, reason: "too-large" });
});

test("xml tree: the §3.2 repair is reported", () => {
  const r = parseXmlTree("<tunnel><server><address>1</address></tunnel>");
  assert.ok(r.ok && r.repaired);
  assert.equal(r.root.children[0].name, "server");
});

test("xml tree: 100k mutated documents never throw", () => {
  const rng = new Prng(0x7433);
  const seed =
    '<tunnel action="info" type="v4v6" lifetime="1440"><server><address type="ipv4" length="32">192.0.2.1</address></server><client><address type="ipv6">2001:db8::1</address></client></tunnel>';
  let ok = 0;
  for (let i = 0; i < 100_000; i++) {
    const r = parseXmlTree(mutateText(rng, seed));
    if (r.ok) ok++;
  }
  assert.ok(ok > 1000, `some mutations still parse (${ok})`);
});
