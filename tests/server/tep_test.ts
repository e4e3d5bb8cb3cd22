/**
 * TEP sessions over real sockets: binding pushes on allocation and removal, `query` answers,
 * full resync on reconnect, failover on renewal, session replacement and push overflow.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  allocationRequest,
  queryRequest,
  readAllocationInfo,
  readPush,
  readQueryInfo,
  releaseRequest,
  renewalRequest,
  type TunnelMessage,
} from "../../lib/tsp/mod.ts";
import { clientIpv6, startTestServer, type TestServer, until, USERS } from "./_harness.ts";
import { tspOnce, TspTestPeer } from "./tsp_test_client.ts";

function tep(s: TestServer, name: "tep1" | "tep2", transport: "tcp" | "udp" = "tcp") {
  return TspTestPeer.connect({
    host: "::1",
    port: transport === "tcp" ? s.tcp6 : s.udp6,
    transport,
    mechanism: "DIGEST-MD5",
    user: name,
    pass: USERS[name],
  });
}

const isAdd = (ipv4: string) => (m: TunnelMessage) => {
  const p = readPush(m);
  return p?.kind === "add" && p.ipv4 === ipv4;
};
const isRemove = (ipv4: string) => (m: TunnelMessage) => {
  const p = readPush(m);
  return p?.kind === "remove" && p.ipv4 === ipv4;
};

async function allocate(s: TestServer, i: number) {
  const r = await tspOnce(s.peer(), allocationRequest(clientIpv6(i)));
  assert.equal(r.status.code, 200);
  return readAllocationInfo(r.message!)!;
}

test("server tep: a new binding is pushed to the least-loaded live TEP named in the reply", async () => {
  const s = await startTestServer();
  const t1 = await tep(s, "tep1");
  const t2 = await tep(s, "tep2");
  try {
    const a = await allocate(s, 1);
    assert.equal(a.tepIpv6, "2001:db8:ffff::1");
    const push = readPush(await t1.waitForPush(isAdd(a.ipv4)))!;
    assert.equal(push.clientIpv6, clientIpv6(1));
    assert.equal(push.lifetime, 15, "min(remaining lease, tepBindingMaxMinutes)");
    const b = await allocate(s, 2);
    assert.equal(b.tepIpv6, "2001:db8:ffff::2", "least loaded");
    await t2.waitForPush(isAdd(b.ipv4));
    assert.equal(t1.pushes.length, 1);
    const lease = s.daemon.service.leases().leases.find((l) => l.ipv4 === a.ipv4)!;
    assert.notEqual(lease.bindingUntil, "", "the pushed TTL is recorded for quarantine");
    assert.equal(s.events("tep.up").length, 2);
    assert.equal(s.events("tep.push").length, 2);
  } finally {
    await t1.close();
    await t2.close();
    await s.stop();
  }
});

test("server tep: query answers hit, 308 miss, 501 outside; a client identity gets 300", async () => {
  const s = await startTestServer();
  const t1 = await tep(s, "tep1");
  const t2 = await tep(s, "tep2");
  try {
    const a = await allocate(s, 3); // assigned to tep1
    const hit = await t2.command(
      queryRequest(a.ipv4, { ipv4: "192.0.2.2", ipv6: "2001:db8:ffff::2" }),
    );
    assert.equal(hit.status.code, 200);
    const b = readQueryInfo(hit.message!)!;
    assert.equal(b.ipv4, a.ipv4);
    assert.equal(b.clientIpv6, clientIpv6(3));
    assert.ok(b.lifetime! >= 1 && b.lifetime! <= 15);
    const miss = await t2.command(queryRequest("198.51.100.14"));
    assert.equal(miss.status.code, 308);
    const outside = await t2.command(queryRequest("203.0.113.5"));
    assert.equal(outside.status.code, 501);
    const lease = s.daemon.service.leases().leases.find((l) => l.ipv4 === a.ipv4)!;
    assert.deepEqual(lease.tepsThatQueried, ["tep2"]);

    const alice = await TspTestPeer.connect(
      s.peer({ mechanism: "DIGEST-MD5", user: "alice", pass: USERS.alice }),
    );
    const refused = await alice.command(queryRequest(a.ipv4));
    assert.equal(refused.status.code, 300);
    await alice.whenEnded();
    assert.ok(alice.ended, "the session is closed after 300");
    const anon = await TspTestPeer.connect(s.peer());
    assert.equal((await anon.command(queryRequest(a.ipv4))).status.code, 300);
    await anon.close();
    assert.equal(s.daemon.counters.get("queries_total", ["refused"]), 2);
    assert.equal(s.events("query.answered").length, 3);
  } finally {
    await t1.close();
    await t2.close();
    await s.stop();
  }
});

test("server tep: a release is pushed to the assigned TEP and to every TEP that queried", async () => {
  const s = await startTestServer();
  const t1 = await tep(s, "tep1");
  const t2 = await tep(s, "tep2");
  try {
    const a = await allocate(s, 4);
    await t1.waitForPush(isAdd(a.ipv4));
    assert.equal((await t2.command(queryRequest(a.ipv4))).status.code, 200);
    const r = await tspOnce(s.peer(), releaseRequest(clientIpv6(4), a.ipv4));
    assert.equal(r.status.code, 200);
    const r1 = readPush(await t1.waitForPush(isRemove(a.ipv4)))!;
    const r2 = readPush(await t2.waitForPush(isRemove(a.ipv4)))!;
    assert.equal(r1.clientIpv6, clientIpv6(4));
    assert.equal(r2.clientIpv6, clientIpv6(4));
  } finally {
    await t1.close();
    await t2.close();
    await s.stop();
  }
});

test("server tep: a TEP that reconnects gets every live binding assigned to it (resync)", async () => {
  const s = await startTestServer();
  let t1 = await tep(s, "tep1");
  try {
    const a = await allocate(s, 5);
    const b = await allocate(s, 6);
    assert.equal(a.tepIpv6, "2001:db8:ffff::1");
    assert.equal(b.tepIpv6, "2001:db8:ffff::1", "tep2 is down: tep1 is the only live TEP");
    t1.destroy();
    await until(() => s.daemon.service.tepsUp === 0, 2000, "tep1 down");
    assert.equal(s.events("tep.down").length, 1);
    t1 = await tep(s, "tep1");
    await t1.waitForPush(isAdd(a.ipv4));
    await t1.waitForPush(isAdd(b.ipv4));
    assert.match(s.events("tep.up").at(-1)!, /resync=2/);
    await until(() => s.events("tep.resynced").length === 1, 2000, "tep.resynced");
  } finally {
    await t1.close();
    await s.stop();
  }
});

test("server tep: renewal while the TEP is down moves the lease (same IPv4) to a live TEP", async () => {
  const s = await startTestServer();
  const t1 = await tep(s, "tep1");
  const t2 = await tep(s, "tep2");
  try {
    const a = await allocate(s, 7);
    assert.equal(a.tepIpv6, "2001:db8:ffff::1");
    await t1.close();
    await until(() => s.daemon.service.tepsUp === 1, 2000, "tep1 down");
    const r = await tspOnce(s.peer(), renewalRequest(clientIpv6(7), a.ipv4));
    assert.equal(r.status.code, 200);
    const renewed = readAllocationInfo(r.message!)!;
    assert.equal(renewed.ipv4, a.ipv4);
    assert.equal(renewed.tepIpv6, "2001:db8:ffff::2");
    assert.equal(renewed.tepIpv4, "192.0.2.2");
    await t2.waitForPush(isAdd(a.ipv4));
    const lease = s.daemon.service.leases().leases.find((l) => l.ipv4 === a.ipv4)!;
    assert.equal(lease.tep, "tep2");
    assert.deepEqual(lease.tepsThatQueried, ["tep1"], "the old TEP still gets the final delete");
    assert.equal(s.events("lease.failover").length, 1);
  } finally {
    await t2.close();
    await s.stop();
  }
});

test("server tep: with no live TEP a lease still goes out, with a warning, and reaches the TEP later", async () => {
  const s = await startTestServer();
  try {
    const a = await allocate(s, 8);
    assert.equal(a.tepIpv6, "2001:db8:ffff::1");
    assert.equal(s.events("tep.none-live").length, 1);
    const t1 = await tep(s, "tep1");
    await t1.waitForPush(isAdd(a.ipv4));
    await t1.close();
  } finally {
    await s.stop();
  }
});

test("server tep: a second session of the same TEP replaces the first", async () => {
  const s = await startTestServer();
  const first = await tep(s, "tep1");
  const second = await tep(s, "tep1");
  try {
    await first.whenEnded();
    assert.equal(s.events("tep.replaced").length, 1);
    const a = await allocate(s, 9);
    await second.waitForPush(isAdd(a.ipv4));
    assert.equal(s.daemon.service.teps().find((t) => t.name === "tep1")!.state, "up");
  } finally {
    await second.close();
    await s.stop();
  }
});

test("server tep: pushes reach a TEP over UDP when it polls; overflow closes the session, resync follows", async () => {
  const s = await startTestServer({ file: { pool: "198.51.100.0/24", tepPushQueue: 16 } });
  const udpTep = await tep(s, "tep1", "udp");
  try {
    const a = await allocate(s, 10);
    const poller = setInterval(() => udpTep.poll(), 30);
    try {
      await udpTep.waitForPush(isAdd(a.ipv4));
    } finally {
      clearInterval(poller);
    }
    // now it stops polling: 32 pushes fit in its UDP queue, 16 more in the outbox, then overflow
    const client = await TspTestPeer.connect(s.peer());
    const got: string[] = [a.ipv4];
    for (let i = 0; i < 60; i++) {
      const r = readAllocationInfo(
        (await client.command(allocationRequest(clientIpv6(100 + i)))).message!,
      )!;
      if (r.tepIpv6 === "2001:db8:ffff::1") got.push(r.ipv4); // later ones go to tep2
    }
    assert.ok(got.length >= 48 && got.length < 61, `${got.length} leases on tep1`);
    await client.close();
    await until(() => s.daemon.counters.get("push_overflows_total") === 1, 3000, "overflow");
    assert.equal(s.events("tep.push-overflow").length, 1);
    assert.equal(s.daemon.service.tepsUp, 0, "the overflowing session was closed");
    const again = await tep(s, "tep1");
    for (const ip of got) await again.waitForPush(isAdd(ip));
    assert.match(s.events("tep.up").at(-1)!, new RegExp(`resync=${got.length}`));
    await again.close();
  } finally {
    udpTep.destroy();
    await s.stop();
  }
});
