import { test } from "node:test";
import assert from "node:assert/strict";
import { UdpReplyCache } from "./udp_reply_cache.ts";

test("udp reply cache: keyed by peer and sequence", () => {
  const c = new UdpReplyCache();
  const a = Uint8Array.of(1);
  c.put("p1", 7, a, 0);
  assert.equal(c.get("p1", 7, 10), a);
  assert.equal(c.get("p2", 7, 10), undefined);
  assert.equal(c.get("p1", 8, 10), undefined);
});

test("udp reply cache: bounded size evicts the oldest", () => {
  const c = new UdpReplyCache({ maxEntries: 2 });
  c.put("p", 1, Uint8Array.of(1), 0);
  c.put("p", 2, Uint8Array.of(2), 1);
  c.put("p", 3, Uint8Array.of(3), 2);
  assert.equal(c.size, 2);
  assert.equal(c.get("p", 1, 3), undefined);
  assert.ok(c.get("p", 3, 3));
});

test("udp reply cache: bounded age", () => {
  const c = new UdpReplyCache({ maxAgeMs: 100 });
  c.put("p", 1, Uint8Array.of(1), 0);
  c.put("p", 2, Uint8Array.of(2), 50);
  assert.ok(c.get("p", 1, 100));
  assert.equal(c.get("p", 1, 101), undefined);
  c.prune(151);
  assert.equal(c.size, 0);
});

test("udp reply cache: forget a peer; bad limits throw", () => {
  const c = new UdpReplyCache();
  c.put("a", 1, Uint8Array.of(1), 0);
  c.put("b", 1, Uint8Array.of(1), 0);
  c.forgetPeer("a");
  assert.equal(c.get("a", 1, 0), undefined);
  assert.ok(c.get("b", 1, 0));
  assert.throws(() => new UdpReplyCache({ maxEntries: 0 }), RangeError);
});
