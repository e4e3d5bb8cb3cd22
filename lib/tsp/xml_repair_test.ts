import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../testing/prng.ts";
import { repairXml } from "./xml_repair.ts";
import { mutateText } from "./_fuzz.ts";

test("xml repair: well-formed documents pass unchanged", () => {
  const doc =
    '<?xml version="1.0"?>\r\n<!-- c --><tunnel a="x>y"><b/><c>t<![CDATA[<z>]]></c></tunnel>\r\n';
  assert.deepEqual(repairXml(doc), { ok: true, text: doc, repaired: false });
});

test("xml repair: the draft's unclosed <server> is closed before </tunnel> (§3.2 item 1)", () => {
  const r = repairXml("<tunnel><server><address>1</address>\n</tunnel>");
  assert.deepEqual(r, {
    ok: true,
    text: "<tunnel><server><address>1</address>\n</server></tunnel>",
    repaired: true,
  });
});

test("xml repair: elements still open at the end are closed in order", () => {
  assert.deepEqual(repairXml("<Tunnel><client><address>1"), {
    ok: true,
    text: "<Tunnel><client><address>1</address></client></Tunnel>",
    repaired: true,
  });
});

test("xml repair: refusals", () => {
  const cases: [string, string][] = [
    ["", "no-root"],
    ["  \r\n ", "no-root"],
    ['<!DOCTYPE x [<!ENTITY a "b">]><tunnel/>', "dtd"],
    ["<tunnel><!ENTITY a 'b'></tunnel>", "dtd"],
    ["<tunnel></server></tunnel>", "stray-close"],
    ["</tunnel>", "stray-close"],
    ["<tunnel/><tunnel/>", "multiple-roots"],
    ["<a></a><b/>", "multiple-roots"],
    ["text<tunnel/>", "malformed"],
    ["<tunnel/>text", "malformed"],
    ["<tunnel", "malformed"],
    ["<tunnel a='x", "malformed"],
    ["<tunnel><!-- x</tunnel>", "malformed"],
    ["<1tunnel/>", "malformed"],
    ["<tunnel></ 1x></tunnel>", "malformed"],
    ["<tunnel><<a/></tunnel>", "malformed"],
    ["<![CDATA[x]]><tunnel/>", "malformed"],
    ["<a>".repeat(17), "too-deep"],
  ];
  for (const [doc, reason] of cases) {
    const r = repairXml(doc);
    assert.ok(!r.ok && r.reason === reason, `${doc}: ${JSON.stringify(r)}`);
  }
  assert.ok(repairXml("<a>".repeat(16)).ok);
  assert.ok(!repairXml(undefined as unknown as string).ok);
});

test("xml repair: 100k mutated documents never throw; repaired output always re-scans clean", () => {
  const rng = new Prng(0xe9a1);
  const seed =
    '<tunnel action="query" type="v4v6"><client><address type="ipv4">192.0.2.2</address></client><server><address type="ipv4">198.51.100.7\n</address></tunnel>';
  for (let i = 0; i < 100_000; i++) {
    const r = repairXml(mutateText(rng, seed));
    if (r.ok && r.repaired) {
      const again = repairXml(r.text);
      assert.ok(again.ok && !again.repaired, r.text);
    }
  }
});
