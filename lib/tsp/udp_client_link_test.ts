import { test } from "node:test";
import assert from "node:assert/strict";
import { UDP_CLIENT_DEFAULTS, type UdpClientAction, UdpClientLink } from "./udp_client_link.ts";
import { encodeUdpDatagram, parseUdpDatagram } from "./udp_header.ts";

const enc = new TextEncoder();

function transmits(actions: UdpClientAction[]) {
  return actions.filter((a) => a.kind === "transmit") as Extract<
    UdpClientAction,
    { kind: "transmit" }
  >[];
}

function replyTo(datagram: Uint8Array, payload = new Uint8Array(0)): Uint8Array {
  const r = parseUdpDatagram(datagram);
  assert.ok(r.ok);
  return encodeUdpDatagram(r.header, payload);
}

test("udp client link: first datagram, sequence from gogoc's 0xF00000F0, RTO 2 s", () => {
  const link = new UdpClientLink();
  assert.equal(UDP_CLIENT_DEFAULTS.initialRtoMs, 2000);
  const t = transmits(
    link.handle({ kind: "send", now: 1000, payload: enc.encode("VERSION=2.0.0\r\n") }),
  );
  assert.equal(t.length, 1);
  assert.deepEqual(Array.from(t[0].bytes.subarray(0, 4)), [0xf0, 0, 0, 0xf0]);
  assert.equal(t[0].retransmission, false);
  assert.equal(link.pollAt(), 3000);
  assert.ok(!link.idle);
});

test("udp client link: exponential backoff 2, 4, 8, 16, 30, 30 s with the same sequence, then give up", () => {
  const link = new UdpClientLink({ maxTries: 7 });
  let now = 0;
  link.handle({ kind: "send", now, payload: enc.encode("x") });
  const gaps: number[] = [];
  for (;;) {
    const at = link.pollAt();
    if (at === null) break;
    gaps.push(at - now);
    now = at;
    const out = link.handle({ kind: "tick", now });
    for (const a of transmits(out)) {
      assert.equal(a.sequence, 0x0f0);
      assert.equal(a.retransmission, true);
    }
    const g = out.find((a) => a.kind === "give-up");
    if (g) {
      assert.deepEqual(g, { kind: "give-up", sequence: 0x0f0, tries: 7 });
      break;
    }
  }
  assert.deepEqual(gaps, [2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  assert.ok(link.idle);
  assert.equal(link.pollAt(), null);
});

test("udp client link: an early tick does nothing", () => {
  const link = new UdpClientLink();
  link.handle({ kind: "send", now: 0, payload: enc.encode("x") });
  assert.deepEqual(link.handle({ kind: "tick", now: 1999 }), []);
});

test("udp client link: stop-and-wait queue, replies matched by sequence, RTT adapts the RTO", () => {
  const link = new UdpClientLink();
  const [first] = transmits(link.handle({ kind: "send", now: 0, payload: enc.encode("a") }));
  assert.deepEqual(
    link.handle({ kind: "send", now: 0, payload: enc.encode("b") }),
    [],
    "queued behind the first",
  );
  // A reply with another sequence is dropped.
  const stray = encodeUdpDatagram({ sequence: 5, timestamp: 0 }, new Uint8Array(0));
  assert.deepEqual(link.handle({ kind: "datagram", now: 10, bytes: stray }), [{
    kind: "drop",
    reason: "unexpected-sequence",
  }]);
  assert.deepEqual(link.handle({ kind: "datagram", now: 10, bytes: Uint8Array.of(1, 2) }), [{
    kind: "drop",
    reason: "truncated",
  }]);
  const out = link.handle({
    kind: "datagram",
    now: 100,
    bytes: replyTo(first.bytes, enc.encode("ok")),
  });
  assert.equal(out[0].kind, "deliver");
  assert.equal(new TextDecoder().decode((out[0] as { payload: Uint8Array }).payload), "ok");
  const [second] = transmits(out);
  assert.equal(second.sequence, 0x0f1);
  assert.equal(link.rto, 1000, "srtt 100 + 4 * 50 clamped to the 1 s minimum");
  assert.equal(link.pollAt(), 1100);
  // A duplicate of the first reply is dropped.
  assert.deepEqual(link.handle({ kind: "datagram", now: 120, bytes: replyTo(first.bytes) }), [
    { kind: "drop", reason: "unexpected-sequence" },
  ]);
  assert.equal(link.giveUpAfterMs, 1000 + 2000 + 4000 + 8000 + 16000 + 30000);
});

test("udp client link: a reply to a retransmitted datagram gives no RTT sample (Karn)", () => {
  const link = new UdpClientLink();
  const [first] = transmits(link.handle({ kind: "send", now: 0, payload: enc.encode("a") }));
  link.handle({ kind: "send", now: 0, payload: enc.encode("b") });
  const [again] = transmits(link.handle({ kind: "tick", now: 2000 }));
  assert.equal(again.retransmission, true);
  assert.equal(link.rto, 4000, "backed off");
  // the reply cache answers with the first reply: the first transmission's timestamp
  const out = link.handle({ kind: "datagram", now: 2050, bytes: replyTo(first.bytes) });
  assert.equal(out[0].kind, "deliver");
  assert.equal(link.rto, 4000, "no sample: the backed-off RTO stays");
  const [second] = transmits(out);
  link.handle({ kind: "datagram", now: 2150, bytes: replyTo(second.bytes) });
  assert.equal(link.rto, 1000, "sent once: sampled (100 ms), RTO from the RTT");
});

test("udp client link: bounded queue and option checks", () => {
  const link = new UdpClientLink({ maxQueue: 1 });
  link.handle({ kind: "send", now: 0, payload: enc.encode("a") });
  link.handle({ kind: "send", now: 0, payload: enc.encode("b") });
  assert.deepEqual(link.handle({ kind: "send", now: 0, payload: enc.encode("c") }), [{
    kind: "drop",
    reason: "queue-full",
  }]);
  assert.throws(() => new UdpClientLink({ maxTries: 0 }), RangeError);
});
