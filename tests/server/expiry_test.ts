/**
 * Lease expiry (the server's timer at the allocator's deadline) and quarantine before reuse,
 * with the testing-only `lifetimeSeconds` / `quarantineSeconds` keys.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  allocationRequest,
  encodeTunnel,
  readAllocationInfo,
  readPush,
} from "../../lib/tsp/mod.ts";
import { clientIpv6, startTestServer, until, USERS } from "./_harness.ts";
import { tspOnce, TspTestPeer } from "./tsp_test_client.ts";

test("server expiry: leases expire on time, stay quarantined, then the addresses are reused", async () => {
  const s = await startTestServer({
    file: { pool: "198.51.100.0/30", lifetimeSeconds: 1, quarantineSeconds: 1 },
  });
  try {
    const a = await tspOnce(s.peer(), allocationRequest(clientIpv6(1)));
    const b = await tspOnce(s.peer(), allocationRequest(clientIpv6(2)));
    assert.equal(a.status.code, 200);
    assert.equal(b.status.code, 200);
    assert.equal(readAllocationInfo(a.message!)!.lifetime, 1, "1 s rounds up to 1 minute");
    assert.equal((await tspOnce(s.peer(), allocationRequest(clientIpv6(3)))).status.code, 306);
    await until(() => s.events("lease.expired").length === 2, 3000, "two expiries");
    const v = s.daemon.service.leases();
    assert.equal(v.leases.length, 0);
    assert.equal(v.quarantine.length, 2, "expired addresses are quarantined");
    assert.equal(
      (await tspOnce(s.peer(), allocationRequest(clientIpv6(3)))).status.code,
      306,
      "not reused during quarantine",
    );
    await until(() => s.daemon.service.leases().quarantine.length === 0, 3000, "quarantine end");
    const c = await tspOnce(s.peer(), allocationRequest(clientIpv6(3)));
    assert.equal(c.status.code, 200);
  } finally {
    await s.stop();
  }
});

test("server expiry: the TEP gets the removal, and quarantine covers the binding TTL it was given", async () => {
  const s = await startTestServer({
    file: { pool: "198.51.100.0/30", lifetimeSeconds: 1, quarantineSeconds: 0 },
  });
  const t1 = await TspTestPeer.connect({
    host: "::1",
    port: s.tcp6,
    mechanism: "DIGEST-MD5",
    user: "tep1",
    pass: USERS.tep1,
  });
  try {
    const r = await tspOnce(s.peer(), allocationRequest(clientIpv6(4)));
    const ipv4 = readAllocationInfo(r.message!)!.ipv4;
    const add = readPush(await t1.waitForPush((m) => readPush(m)?.kind === "add"))!;
    assert.equal(add.lifetime, 1, "one minute: the smallest TSP lifetime");
    const pushedAt = Date.now();
    const rm = readPush(await t1.waitForPush((m) => readPush(m)?.kind === "remove", 3000))!;
    assert.equal(rm.ipv4, ipv4);
    const q = s.daemon.service.leases().quarantine;
    assert.equal(q.length, 1);
    const until_ = Date.parse(q[0].until);
    assert.ok(until_ >= pushedAt + 55_000, "quarantined for the minute the TEP may cache it");
  } finally {
    await t1.close();
    await s.stop();
  }
});

test("server expiry: an idle client session holding its lease stays open and gets the lease delete", async () => {
  const s = await startTestServer({ file: { lifetimeSeconds: 4, idleTimeoutSeconds: 1 } });
  const holder = await TspTestPeer.connect(s.peer());
  const idle = await TspTestPeer.connect(s.peer({ user: "bob", pass: USERS.bob }));
  try {
    const r = await holder.command(allocationRequest(clientIpv6(40)));
    assert.equal(r.status.code, 200);
    const ipv4 = readAllocationInfo(r.message!)!.ipv4;
    // The session without a lease is closed by the idle timeout ...
    await Promise.race([
      idle.whenEnded(),
      new Promise((_, reject) => setTimeout(() => reject(new Error("idle session open")), 5000)),
    ]);
    // ... the one holding its lease is not, and the expiry's delete arrives on it.
    const del = await holder.waitForPush((m) => m.action === "delete", 8000);
    assert.equal(holder.ended, undefined);
    assert.match(encodeTunnel(del), new RegExp(`>${ipv4.replace(/\./g, "\\.")}</address>`));
  } finally {
    holder.destroy();
    idle.destroy();
    await s.stop();
  }
});
