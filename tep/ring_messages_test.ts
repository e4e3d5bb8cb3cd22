import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../lib/testing/prng.ts";
import {
  parseRingMessage,
  RING_MESSAGE_MAX,
  type RingMessage,
  ringMessageLength,
  writeRingMessage,
} from "./ring_messages.ts";

const V6 = Uint8Array.from({ length: 16 }, (_, i) => 0x20 + i);
const MESSAGES: RingMessage[] = [
  { kind: "binding-add", source: "push", ipv4: 0xc6336407, ipv6: V6, lifetimeMs: 78_720_000 },
  { kind: "binding-add", source: "query", ipv4: 0xffffffff, ipv6: V6, lifetimeMs: 0.5 },
  { kind: "binding-remove", ipv4: 0xc6336407, ipv6: V6 },
  { kind: "query-answer", result: "found", ipv4: 1, ipv6: V6, lifetimeMs: 600_000 },
  { kind: "query-answer", result: "refused", ipv4: 2, ipv6: new Uint8Array(16), lifetimeMs: 0 },
  { kind: "query-answer", result: "failed", ipv4: 3, ipv6: new Uint8Array(16), lifetimeMs: 0 },
  { kind: "session", up: true },
  { kind: "session", up: false },
  { kind: "dump-bindings", id: 4_000_000_000 },
  { kind: "publish", id: 17 },
];

test("tep ring messages: every kind round-trips through its fixed layout", () => {
  const buf = new Uint8Array(RING_MESSAGE_MAX + 8);
  for (const m of MESSAGES) {
    const n = writeRingMessage(m, buf, 3);
    assert.equal(n, ringMessageLength(m), m.kind);
    const r = parseRingMessage(buf.subarray(3), n);
    assert.ok(r.ok, m.kind);
    assert.deepEqual(r.message, m);
  }
  // The documented layout of binding-add: type, source, IPv4 big-endian, IPv6, f64 lifetime.
  const n = writeRingMessage(MESSAGES[0], buf);
  assert.deepEqual([...buf.subarray(0, 6)], [1, 1, 0xc6, 0x33, 0x64, 0x07]);
  assert.equal(new DataView(buf.buffer, 22, 8).getFloat64(0), 78_720_000);
  assert.equal(n, 30);
});

test("tep ring messages: bad values are not written; bad bytes never throw", () => {
  const buf = new Uint8Array(64);
  assert.equal(writeRingMessage({ kind: "session", up: true }, new Uint8Array(1)), 0);
  assert.equal(
    writeRingMessage({ kind: "binding-remove", ipv4: -1, ipv6: V6 }, buf),
    0,
  );
  assert.equal(
    writeRingMessage({
      kind: "binding-add",
      source: "push",
      ipv4: 1,
      ipv6: V6.subarray(1),
      lifetimeMs: 1,
    }, buf),
    0,
  );
  assert.equal(
    writeRingMessage(
      { kind: "binding-add", source: "push", ipv4: 1, ipv6: V6, lifetimeMs: -1 },
      buf,
    ),
    0,
  );
  assert.deepEqual(parseRingMessage(new Uint8Array([1, 1, 0])), { ok: false, reason: "truncated" });
  assert.deepEqual(parseRingMessage(new Uint8Array([9, 0])), { ok: false, reason: "unknown-type" });
  assert.deepEqual(parseRingMessage(new Uint8Array([4, 7])), { ok: false, reason: "bad-field" });
  const rng = new Prng(11);
  for (let i = 0; i < 5000; i++) {
    const b = rng.bytes(rng.int(40));
    if (b.length > 0) b[0] = rng.int(7);
    const r = parseRingMessage(b);
    if (r.ok) assert.ok(ringMessageLength(r.message) <= b.length);
  }
});
