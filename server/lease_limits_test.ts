import { test } from "node:test";
import assert from "node:assert/strict";
import { LeaseLimits } from "./lease_limits.ts";

test("lease limits: per IPv6 and per identity, anonymous exempt from the identity limit", () => {
  const l = new LeaseLimits();
  const lim = { perIpv6: 1, perIdentity: 2 };
  assert.equal(l.check("a", "alice", lim), "ok");
  l.add("a", "alice");
  assert.equal(l.check("a", "bob", lim), "limit-ipv6");
  l.add("b", "alice");
  assert.equal(l.check("c", "alice", lim), "limit-identity");
  l.add("d", "");
  l.add("e", "");
  assert.equal(l.check("f", "", lim), "ok");
  l.remove("a", "alice");
  assert.equal(l.check("c", "alice", lim), "ok");
  assert.equal(l.ofIpv6("a"), 0);
  assert.equal(l.check("a", "", { perIpv6: 1, perIdentity: 1 }), "ok");
});
