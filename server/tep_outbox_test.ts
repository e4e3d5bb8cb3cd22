import { test } from "node:test";
import assert from "node:assert/strict";
import { TepOutbox } from "./tep_outbox.ts";

test("tep outbox: resync first, then queued pushes in order", () => {
  const o = new TepOutbox(4);
  o.enqueue({ kind: "remove", ipv4: 9, clientIpv6: "2001:db8::9" });
  o.startResync([1, 2]); // a new session: stale queue dropped
  assert.ok(o.enqueue({ kind: "add", ipv4: 3 }));
  assert.equal(o.size, 3);
  assert.deepEqual(o.next(), { kind: "add", ipv4: 1 });
  assert.deepEqual(o.next(), { kind: "add", ipv4: 2 });
  assert.deepEqual(o.next(), { kind: "add", ipv4: 3 });
  assert.equal(o.next(), undefined);
});

test("tep outbox: refuses beyond its limit (the caller closes the session)", () => {
  const o = new TepOutbox(2);
  assert.ok(o.enqueue({ kind: "add", ipv4: 1 }));
  assert.ok(o.enqueue({ kind: "add", ipv4: 2 }));
  assert.equal(o.enqueue({ kind: "add", ipv4: 3 }), false);
  o.next();
  assert.ok(o.enqueue({ kind: "add", ipv4: 3 }));
  o.clear();
  assert.equal(o.size, 0);
});

test("tep outbox: long queues stay compact", () => {
  const o = new TepOutbox(100000);
  for (let i = 0; i < 5000; i++) o.enqueue({ kind: "add", ipv4: i });
  for (let i = 0; i < 4000; i++) assert.equal(o.next()?.ipv4, i);
  for (let i = 5000; i < 6000; i++) o.enqueue({ kind: "add", ipv4: i });
  assert.equal(o.size, 2000);
  for (let i = 4000; i < 6000; i++) assert.equal(o.next()?.ipv4, i);
});
