import { test } from "node:test";
import assert from "node:assert/strict";
import { COUNTER_FAMILIES, Counters, reasonLabel } from "./counters.ts";

test("counters: labelled values, samples in label order, JSON for ctl", () => {
  const c = new Counters();
  c.inc("requests_total", ["create", "200"]);
  c.inc("requests_total", ["create", "200"]);
  c.inc("requests_total", ["query", "308"]);
  c.inc("push_overflows_total");
  assert.equal(c.get("requests_total", ["create", "200"]), 2);
  assert.equal(c.get("requests_total", ["delete", "200"]), 0);
  assert.deepEqual([...c.samples("requests_total")], [
    [{ action: "create", code: "200" }, 2],
    [{ action: "query", code: "308" }, 1],
  ]);
  assert.deepEqual([...c.samples("internal_errors_total")], [[{}, 0]], "unlabelled: always a 0");
  const j = c.toJSON();
  assert.equal(j.requests_total["action=create,code=200"], 2);
  assert.equal(j.push_overflows_total[""], 1);
  assert.deepEqual(Object.keys(j), Object.keys(COUNTER_FAMILIES));
});

test("counters: free-text reasons become bounded labels", () => {
  assert.equal(reasonLabel("reply for unknown request 12345"), "reply for unknown request N");
  assert.equal(reasonLabel("x".repeat(100)).length, 48);
  assert.equal(reasonLabel('command: "bad" <xml>'), "command: bad xml");
});
