import { test } from "node:test";
import assert from "node:assert/strict";
import { formatTable, parseCtlRequest } from "./protocol.ts";

test("ctl: requests parse, bad ones give a reason", () => {
  assert.deepEqual(parseCtlRequest('{"command":"leases"}'), {
    ok: true,
    request: { command: "leases", arguments: undefined },
  });
  assert.deepEqual(parseCtlRequest("nope"), { ok: false, reason: "not JSON" });
  assert.deepEqual(parseCtlRequest("[]"), { ok: false, reason: "not an object" });
  assert.deepEqual(parseCtlRequest('{"command":""}'), { ok: false, reason: "missing command" });
  assert.deepEqual(parseCtlRequest('{"command":"x","arguments":3}'), {
    ok: false,
    reason: "arguments must be an object",
  });
});

test("ctl: tables align columns", () => {
  assert.equal(
    formatTable(["ipv4", "tep"], [["198.51.100.7", "tep1"], ["198.51.100.10", "tep2"]]),
    "ipv4           tep\n198.51.100.7   tep1\n198.51.100.10  tep2\n",
  );
});
