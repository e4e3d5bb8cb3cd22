import { test } from "node:test";
import assert from "node:assert/strict";
import { RING_MESSAGE_MAX, RingReader, writeRingMessage } from "./ring_messages.ts";
import { Prng } from "../lib/testing/prng.ts";

test("ring messages: each kind round-trips through the reusable reader", () => {
  const buf = new Uint8Array(RING_MESSAGE_MAX);
  const r = new RingReader();
  const tep = new Uint8Array(16).map((_, i) => 0x20 + i);
  let n = writeRingMessage(
    { kind: "lease", ipv4: 0xc6336407, tepIpv4: 0xc0000201, tepIpv6: tep },
    buf,
  );
  assert.equal(n, 25);
  assert.equal(r.read(buf, n), "lease");
  assert.equal(r.ipv4, 0xc6336407);
  assert.equal(r.tepIpv4, 0xc0000201);
  assert.deepEqual(r.tepIpv6, tep);
  n = writeRingMessage({ kind: "no-lease" }, buf);
  assert.equal(r.read(buf, n), "no-lease");
  n = writeRingMessage({ kind: "mtu", mtu: 1400 }, buf);
  assert.equal(r.read(buf, n), "mtu");
  assert.equal(r.mtu, 1400);
  n = writeRingMessage({ kind: "probe", seq: 0xbeef }, buf);
  assert.equal(r.read(buf, n), "probe");
  assert.equal(r.seq, 0xbeef);
});

test("ring messages: bad values throw when writing; bad records never throw when reading", () => {
  const buf = new Uint8Array(RING_MESSAGE_MAX);
  assert.throws(() => writeRingMessage({ kind: "probe", seq: 70000 }, buf), RangeError);
  assert.throws(() => writeRingMessage({ kind: "mtu", mtu: 1.5 }, buf), RangeError);
  assert.throws(
    () =>
      writeRingMessage({ kind: "lease", ipv4: -1, tepIpv4: 0, tepIpv6: new Uint8Array(16) }, buf),
    RangeError,
  );
  assert.throws(() => writeRingMessage({ kind: "no-lease" }, new Uint8Array(4)), RangeError);
  const r = new RingReader();
  assert.equal(r.read(buf, 0), undefined);
  assert.equal(r.read(new Uint8Array([1, 2, 3]), 3), undefined, "short lease");
  assert.equal(r.read(new Uint8Array([9]), 1), undefined, "unknown kind");
  assert.equal(r.read(new Uint8Array([2, 0]), 2), undefined, "no-lease with a tail");
  const rng = new Prng(11);
  for (let i = 0; i < 2000; i++) {
    const b = rng.bytes(1 + rng.int(40));
    r.read(b, b.length);
  }
});
