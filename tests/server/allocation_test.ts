/**
 * Allocation, renewal, release, exhaustion and limits over real TCP sockets on loopback.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  allocationRequest,
  encodeTunnel,
  readAllocationInfo,
  releaseRequest,
  renewalRequest,
} from "../../lib/tsp/mod.ts";
import { callControl } from "../../lib/sys/control_socket.ts";
import { clientIpv6, startTestServer, USERS } from "./_harness.ts";
import { tspOnce, TspTestPeer } from "./tsp_test_client.ts";

test("server allocation: create over TCP/IPv6 gets a lease, all four addresses and dns_server", async () => {
  const s = await startTestServer();
  try {
    const r = await tspOnce(s.peer(), allocationRequest(clientIpv6(1), { proxy: "no" }));
    assert.equal(r.status.code, 200);
    assert.equal(r.accepted, true);
    const xml = encodeTunnel(r.message!);
    assert.match(xml, /^<tunnel action="info" type="v4v6" lifetime="1440">/);
    assert.match(xml, /<server><address type="ipv4" length="32">192\.0\.2\.[12]<\/address>/);
    assert.match(xml, /<address type="ipv6">2001:db8:ffff::[12]<\/address><\/server>/);
    assert.match(xml, /<client><address type="ipv4" length="32">198\.51\.100\.\d+<\/address>/);
    assert.match(xml, /<address type="ipv6">2001:db8:100::11<\/address>/);
    assert.match(xml, /<dns_server><address type="ipv6">2001:db8::53<\/address><\/dns_server>/);
    const leases = await callControl(s.control, { command: "leases" });
    const list = (leases.arguments as { leases: { ipv4: string; clientIpv6: string }[] }).leases;
    assert.equal(list.length, 1);
    assert.equal(list[0].ipv4, readAllocationInfo(r.message!)!.ipv4);
    assert.equal(list[0].clientIpv6, clientIpv6(1));
    assert.equal(s.events("lease.allocated").length, 1);
  } finally {
    await s.stop();
  }
});

test("server allocation: the same create again (gogoc) and an explicit renewal keep the address", async () => {
  const s = await startTestServer();
  try {
    const first = readAllocationInfo(
      (await tspOnce(s.peer(), allocationRequest(clientIpv6(2)))).message!,
    )!;
    const again = readAllocationInfo(
      (await tspOnce(s.peer(), allocationRequest(clientIpv6(2)))).message!,
    )!;
    assert.equal(again.ipv4, first.ipv4);
    const renewed = await tspOnce(s.peer(), renewalRequest(clientIpv6(2), first.ipv4));
    assert.equal(renewed.status.code, 200);
    assert.equal(readAllocationInfo(renewed.message!)!.ipv4, first.ipv4);
    assert.equal(s.events("lease.renewed").length, 2);
    assert.equal(s.events("lease.allocated").length, 1);
    // renewing an address the client does not hold is refused
    const wrong = await tspOnce(s.peer(), renewalRequest(clientIpv6(2), "198.51.100.14"));
    assert.equal(wrong.status.code, 308);
  } finally {
    await s.stop();
  }
});

test("server allocation: delete releases, the address goes into quarantine", async () => {
  const s = await startTestServer();
  try {
    const peer = await TspTestPeer.connect(
      s.peer({ mechanism: "DIGEST-MD5", user: "alice", pass: USERS.alice }),
    );
    const got = readAllocationInfo(
      (await peer.command(allocationRequest(clientIpv6(3)))).message!,
    )!;
    const del = await peer.command(releaseRequest(clientIpv6(3), got.ipv4));
    assert.equal(del.status.code, 200);
    assert.equal(del.message, undefined);
    const again = await peer.command(releaseRequest(clientIpv6(3), got.ipv4));
    assert.equal(again.status.code, 308);
    await peer.close();
    const v = (await callControl(s.control, { command: "leases" })).arguments as {
      leases: unknown[];
      quarantine: { ipv4: string }[];
    };
    assert.equal(v.leases.length, 0);
    assert.deepEqual(v.quarantine.map((q) => q.ipv4), [got.ipv4]);
    assert.equal(s.events("lease.released").length, 1);
  } finally {
    await s.stop();
  }
});

test("server allocation: an empty pool answers 306, per-IPv6 and per-identity limits 301", async () => {
  const s = await startTestServer({
    file: { pool: "198.51.100.0/30", maxLeasesPerIdentity: 1 },
  });
  try {
    const a = await tspOnce(s.peer(), allocationRequest(clientIpv6(10)));
    const b = await tspOnce(s.peer(), allocationRequest(clientIpv6(11)));
    assert.equal(a.status.code, 200);
    assert.equal(b.status.code, 200);
    const c = await tspOnce(s.peer(), allocationRequest(clientIpv6(12)));
    assert.equal(c.status.code, 306);
    assert.equal(c.message, undefined);
    assert.equal(s.events("pool.exhausted").length, 1);

    const s2 = await startTestServer({ file: { maxLeasesPerIdentity: 1 } });
    try {
      const alice = { mechanism: "DIGEST-MD5" as const, user: "alice", pass: USERS.alice };
      assert.equal(
        (await tspOnce(s2.peer(alice), allocationRequest(clientIpv6(20)))).status.code,
        200,
      );
      assert.equal(
        (await tspOnce(s2.peer(alice), allocationRequest(clientIpv6(21)))).status.code,
        301,
      );
      // one lease per IPv6 address by default, whoever asks
      assert.equal((await tspOnce(s2.peer(), allocationRequest(clientIpv6(20)))).status.code, 301);
    } finally {
      await s2.stop();
    }
  } finally {
    await s.stop();
  }
});

test("server allocation: over IPv4 the request must name the client IPv6; link-local is refused", async () => {
  const s = await startTestServer();
  try {
    const v4 = { host: "127.0.0.1", port: s.tcp4, mechanism: "ANONYMOUS" as const };
    const ok = await tspOnce(v4, allocationRequest(clientIpv6(30)));
    assert.equal(ok.status.code, 200);
    const missing = await tspOnce(v4, {
      action: "create",
      type: "v4v6",
      client: { addresses: [{ type: "ipv4", value: "198.51.100.1" }] },
    });
    assert.equal(missing.status.code, 309);
    const ll = await tspOnce(v4, allocationRequest("fe80::1"));
    assert.equal(ll.status.code, 309);
  } finally {
    await s.stop();
  }
});
