/**
 * TSP over UDP (brief §2.9, §8.4) on real loopback sockets: allocation with each mechanism, the
 * echoed header, empty replies, and a client that retransmits (same reply, one lease).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { allocationRequest, readAllocationInfo } from "../../lib/tsp/mod.ts";
import { clientIpv6, startTestServer, USERS } from "./_harness.ts";
import { frameCommand, rawUdp, tspOnce } from "./tsp_test_client.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

test("server udp: allocation over UDP/IPv6 and UDP/IPv4 with DIGEST-MD5, PLAIN and ANONYMOUS", async () => {
  const s = await startTestServer({ flags: { "allow-plain": true } });
  try {
    const digest = await tspOnce(
      {
        host: "::1",
        port: s.udp6,
        transport: "udp",
        mechanism: "DIGEST-MD5",
        user: "alice",
        pass: USERS.alice,
      },
      allocationRequest(clientIpv6(1)),
    );
    const plain = await tspOnce(
      {
        host: "127.0.0.1",
        port: s.udp4,
        transport: "udp",
        mechanism: "PLAIN",
        user: "bob",
        pass: USERS.bob,
      },
      allocationRequest(clientIpv6(2)),
    );
    const anon = await tspOnce(
      {
        host: "127.0.0.1",
        port: s.udp4,
        transport: "udp",
        mechanism: "ANONYMOUS",
        versions: ["1.0"],
      },
      allocationRequest(clientIpv6(3)),
    );
    for (const r of [digest, plain, anon]) {
      assert.equal(r.status.code, 200);
      assert.ok(readAllocationInfo(r.message!));
    }
    assert.equal(s.daemon.service.leases().leases.length, 3);
  } finally {
    await s.stop();
  }
});

test("server udp: header echoed, empty replies, a retransmitted create gets the same reply and one lease", async () => {
  const s = await startTestServer({ flags: { "allow-plain": true } });
  const u = await rawUdp("::1", s.udp6);
  try {
    const seq0 = 0x00000f0;
    const v = await u.send(seq0, "VERSION=2.0.0\r\n", 0xdeadbeef);
    assert.equal(v.sequence, seq0);
    assert.equal(v.timestamp, 0xdeadbeef);
    assert.equal(v.bytes[0] >> 4, 0xf);
    assert.match(
      text(v.payload),
      /^CAPABILITY TUNNEL=V4V6 AUTH=DIGEST-MD5 AUTH=PLAIN AUTH=ANONYMOUS\r\n$/,
    );

    const a = await u.send(seq0 + 1, "AUTHENTICATE PLAIN\r\n\0");
    assert.equal(a.payload.length, 0, "nothing to say after AUTHENTICATE PLAIN: empty reply");
    const ok = await u.send(seq0 + 2, `\0alice\0${USERS.alice}\r\n`);
    assert.equal(text(ok.payload), "200 Success\r\n");

    const create = frameCommand(
      `<tunnel action="create" type="v4v6"><client><address type="ipv6">${
        clientIpv6(9)
      }</address></client></tunnel>`,
    );
    const first = await u.send(seq0 + 3, create, 1);
    const again = await u.send(seq0 + 3, create, 2);
    assert.deepEqual(again.bytes, first.bytes, "the same reply datagram");
    assert.match(
      text(first.payload),
      /^Content-length: \d+\r\n200 Success\r\n<tunnel action="info"/,
    );
    assert.equal(s.daemon.service.leases().leases.length, 1);
    assert.equal(s.events("lease.allocated").length, 1);

    const acc = await u.send(seq0 + 4, frameCommand('<tunnel action="accept"></tunnel>'));
    assert.equal(acc.payload.length, 0, "empty reply after accept");
    const poll = await u.send(seq0 + 5, "");
    assert.equal(poll.payload.length, 0);
    // a stale datagram (older sequence, not cached) is ignored; a fresh VERSION restarts
    const restart = await u.send(0x00000f0 + 100, "VERSION=1.0\r\n");
    assert.match(text(restart.payload), /^CAPABILITY/);
    assert.ok(s.daemon.counters.get("udp_resends_total") >= 1);
  } finally {
    u.close();
    await s.stop();
  }
});

test("server udp: DIGEST-MD5's 200 Success answers the client's empty datagram", async () => {
  const s = await startTestServer();
  try {
    const r = await tspOnce(
      {
        host: "::1",
        port: s.udp6,
        transport: "udp",
        mechanism: "DIGEST-MD5",
        user: "bob",
        pass: USERS.bob,
      },
      allocationRequest(clientIpv6(4)),
    );
    assert.equal(r.status.code, 200);
    assert.equal(s.events("auth.ok").filter((l) => l.includes("transport=udp")).length, 1);
  } finally {
    await s.stop();
  }
});

test("server udp: garbage and truncated datagrams are dropped and counted", async () => {
  const s = await startTestServer();
  const u = await rawUdp("127.0.0.1", s.udp4, 300);
  try {
    const g = await u.send(1, "garbage\r\n"); // a fine header, garbage TSP: 500 and closed
    assert.match(text(g.payload), /^500 /);
    const dgram = await import("node:dgram");
    const sock = dgram.createSocket("udp4");
    await new Promise<void>((r) =>
      sock.send(new Uint8Array([1, 2, 3]), s.udp4, "127.0.0.1", () => r())
    );
    await new Promise<void>((r) =>
      sock.send(new Uint8Array([0x60, 0, 0, 0, 0, 0, 0, 0, 1]), s.udp4, "127.0.0.1", () => r())
    );
    await new Promise((r) => setTimeout(r, 100));
    sock.close();
    assert.ok(s.daemon.counters.get("udp_drops_total", ["truncated"]) >= 1);
    assert.ok(s.daemon.counters.get("udp_drops_total", ["not-signal"]) >= 1);
  } finally {
    u.close();
    await s.stop();
  }
});
