import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeUdpDatagram, parseUdpDatagram } from "./udp_header.ts";
import { UdpReplyCache } from "./udp_reply_cache.ts";
import { UdpServerLink } from "./udp_server_link.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function dgram(seq: number, text: string, ts = 1234): Uint8Array {
  return encodeUdpDatagram({ sequence: seq, timestamp: ts }, enc.encode(text));
}

function payloadOf(d: Uint8Array | null): string {
  assert.ok(d);
  const r = parseUdpDatagram(d);
  assert.ok(r.ok);
  return dec.decode(r.payload);
}

test("udp server link: reply echoes the header; empty reply when nothing to say (§8.4)", () => {
  const link = new UdpServerLink({ peer: "p", cache: new UdpReplyCache() });
  const r = link.receive(dgram(0xf0, "AUTHENTICATE PLAIN\r\n", 99), 0);
  assert.equal(r.kind, "deliver");
  const reply = link.flush(0, false)!;
  assert.deepEqual(
    Array.from(reply),
    [0xf0, 0, 0, 0xf0, 0, 0, 0, 99],
    "header only, both fields echoed",
  );
  assert.equal(payloadOf(reply), "");
  assert.equal(link.flush(0, false), null, "one reply per datagram");
});

test("udp server link: busy session defers the reply until the handler answers", () => {
  const link = new UdpServerLink({ peer: "p", cache: new UdpReplyCache() });
  link.receive(dgram(1, "Content-length: ..."), 0);
  assert.equal(link.flush(0, true), null);
  assert.ok(link.outstanding);
  link.enqueue(enc.encode("reply"));
  assert.equal(payloadOf(link.flush(5, true)), "reply");
});

test("udp server link: a second message waits for the next datagram (rspauth, then 200)", () => {
  const link = new UdpServerLink({ peer: "p", cache: new UdpReplyCache() });
  link.receive(dgram(1, "response"), 0);
  link.enqueue(enc.encode("rspauth\r\n"));
  link.enqueue(enc.encode("200 Success\r\n"));
  assert.equal(payloadOf(link.flush(0, false)), "rspauth\r\n");
  assert.equal(link.queued, 1);
  const r = link.receive(dgram(2, ""), 1);
  assert.ok(r.kind === "deliver" && r.payload.length === 0);
  assert.equal(payloadOf(link.flush(1, false)), "200 Success\r\n");
});

test("udp server link: retransmissions get the cached bytes; in-progress and stale are dropped", () => {
  const cache = new UdpReplyCache();
  const link = new UdpServerLink({ peer: "p", cache });
  link.receive(dgram(10, "create"), 0);
  assert.deepEqual(link.receive(dgram(10, "create"), 1), { kind: "drop", reason: "in-progress" });
  link.enqueue(enc.encode("info"));
  const sent = link.flush(2, false)!;
  const again = link.receive(dgram(10, "create"), 3);
  assert.equal(again.kind, "resend");
  assert.equal((again as { bytes: Uint8Array }).bytes, sent);
  link.receive(dgram(11, "accept"), 4);
  link.flush(4, false);
  const other = new UdpServerLink({ peer: "p", cache: new UdpReplyCache() });
  other.receive(dgram(11, "x"), 0);
  other.flush(0, false);
  assert.deepEqual(other.receive(dgram(10, "old"), 1), { kind: "drop", reason: "stale" });
  assert.deepEqual(link.receive(Uint8Array.of(0x60, 0, 0, 0, 0, 0, 0, 0), 5), {
    kind: "drop",
    reason: "not-signal",
  });
});

test("udp server link: bounded queue", () => {
  const link = new UdpServerLink({ peer: "p", cache: new UdpReplyCache(), maxQueue: 1 });
  link.enqueue(enc.encode("a"));
  link.enqueue(enc.encode("b"));
  assert.equal(link.queued, 1);
  assert.equal(link.overflowed, 1);
});
