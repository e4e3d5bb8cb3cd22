import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../testing/prng.ts";
import {
  compareSequence,
  encodeUdpDatagram,
  isTspSignal,
  nextSequence,
  parseUdpDatagram,
  UDP_HEADER,
  writeUdpHeader,
} from "./udp_header.ts";
import { randomBytes } from "./_fuzz.ts";

test("udp header: golden vector, gogoc's first sequence 0xF00000F0", () => {
  const d = encodeUdpDatagram(
    { sequence: 0x0f0, timestamp: 0x4b0f2a10 },
    new TextEncoder().encode("VERSION=2.0.0\r\n"),
  );
  assert.deepEqual(Array.from(d.subarray(0, 8)), [0xf0, 0x00, 0x00, 0xf0, 0x4b, 0x0f, 0x2a, 0x10]);
  const r = parseUdpDatagram(d);
  assert.ok(r.ok);
  assert.deepEqual(r.header, { sequence: 0x0f0, timestamp: 0x4b0f2a10 });
  assert.equal(new TextDecoder().decode(r.payload), "VERSION=2.0.0\r\n");
  assert.equal(UDP_HEADER.PORT, 3653);
});

test("udp header: empty reply is header only; refusals", () => {
  const r = parseUdpDatagram(encodeUdpDatagram({ sequence: 5, timestamp: 6 }, new Uint8Array(0)));
  assert.ok(r.ok && r.payload.length === 0);
  assert.deepEqual(parseUdpDatagram(new Uint8Array(7)), { ok: false, reason: "truncated" });
  assert.deepEqual(parseUdpDatagram(Uint8Array.of(0x60, 0, 0, 0, 0, 0, 0, 0)), {
    ok: false,
    reason: "not-signal",
  });
  assert.ok(!isTspSignal(Uint8Array.of(0x60, 0, 0, 0, 0, 0, 0, 0)));
  assert.ok(isTspSignal(Uint8Array.of(0xf0, 0, 0, 0, 0, 0, 0, 0)));
  assert.deepEqual(parseUdpDatagram(null as unknown as Uint8Array), {
    ok: false,
    reason: "truncated",
  });
});

test("udp header: parse through a subarray view, write at an offset, 0 when it does not fit", () => {
  const big = new Uint8Array(32);
  assert.equal(writeUdpHeader({ sequence: 0x0abcdef1, timestamp: 0xffffffff }, big, 10), 8);
  const r = parseUdpDatagram(big.subarray(10, 20));
  assert.ok(r.ok);
  assert.deepEqual(r.header, { sequence: 0x0abcdef1, timestamp: 0xffffffff });
  assert.equal(r.payload.length, 2);
  assert.equal(r.payload.byteOffset, 18);
  assert.equal(writeUdpHeader({ sequence: 1, timestamp: 1 }, new Uint8Array(7)), 0);
  assert.equal(writeUdpHeader({ sequence: 1, timestamp: 1 }, big, 25), 0);
  // Sequence numbers beyond 28 bits wrap.
  const w = new Uint8Array(8);
  writeUdpHeader({ sequence: 0x1fffffff, timestamp: 0 }, w);
  assert.equal(w[0], 0xff);
});

test("udp header: sequence arithmetic wraps at 2^28", () => {
  assert.equal(nextSequence(0x0fffffff), 0);
  assert.equal(compareSequence(1, 0), 1);
  assert.equal(compareSequence(0, 1), -1);
  assert.equal(compareSequence(0, 0x0fffffff), 1);
  assert.equal(compareSequence(7, 7), 0);
});

test("udp header: seeded random round trip and 100k random datagrams never throw", () => {
  const rng = new Prng(0x0d9);
  for (let i = 0; i < 1000; i++) {
    const h = { sequence: rng.u32() & 0x0fffffff, timestamp: rng.u32() };
    const payload = randomBytes(rng, 40);
    const r = parseUdpDatagram(encodeUdpDatagram(h, payload));
    assert.ok(r.ok);
    assert.deepEqual(r.header, h);
    assert.deepEqual(Array.from(r.payload), Array.from(payload));
  }
  for (let i = 0; i < 100_000; i++) {
    const b = randomBytes(rng, 16);
    if (i % 2) b[0] |= 0xf0;
    const r = parseUdpDatagram(b);
    assert.ok(
      r.ok
        ? r.header.sequence <= 0x0fffffff
        : r.reason === "truncated" || r.reason === "not-signal",
    );
  }
});
