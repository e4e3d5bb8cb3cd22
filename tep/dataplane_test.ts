import { test } from "node:test";
import assert from "node:assert/strict";
import { parseIpv4 as addr4, parseIpv6 as addr6 } from "../lib/addr/mod.ts";
import { writeIcmpv4Echo } from "../lib/inet/icmpv4.ts";
import { writeIpv6Header } from "../lib/inet/ipv6.ts";
import { ipv4Dst, ipv4Src, ipv4Ttl } from "../lib/inet/ipv4.ts";
import {
  type BindingDumpEntry,
  type DataPlaneSettings,
  type DropSample,
  HEADROOM,
  TepDataPlane,
} from "./dataplane.ts";
import { type RingMessage, writeRingMessage } from "./ring_messages.ts";

const v4 = (s: string) => (addr4(s) as { ok: true; value: number }).value;
const v6 = (s: string) => (addr6(s) as { ok: true; value: Uint8Array }).value;

const CLIENT = "2001:db8:100::10";
const SPOOFER = "2001:db8:100::66";
const LEASE = "198.51.100.7";
const Z = "203.0.113.5";

function settings(extra: Partial<DataPlaneSettings> = {}): DataPlaneSettings {
  return {
    forward: {
      tunnelIpv6: "2001:db8:ffff::1",
      tepIpv4: "192.0.2.1",
      pool: "198.51.100.0/24",
      clientPrefixes: ["2001:db8:100::/48"],
    },
    bindingCapacity: 64,
    bindingTtlMaxMs: 600_000,
    refreshAheadMs: 60_000,
    scheduler: {
      maxPending: 16,
      queuePerAddress: 3,
      queueMemoryBytes: 65536,
      queueTimeoutMs: 2000,
      queryTimeoutMs: 5000,
      sourceRate: { ratePerSec: 5, burst: 10 },
      globalRate: { ratePerSec: 100, burst: 200 },
      negativeTtlMs: 30_000,
      unreachableTtlMs: 3000,
    },
    dropSampleIntervalMs: 1000,
    ...extra,
  };
}

interface Harness {
  dp: TepDataPlane;
  written: Uint8Array[];
  queries: { ipv4: number; refresh: boolean }[];
  dumps: BindingDumpEntry[][];
  drops: DropSample[];
  send(m: RingMessage, now: number): void;
}

function harness(s = settings()): Harness {
  const h = { written: [], queries: [], dumps: [], drops: [] } as unknown as Harness;
  h.dp = new TepDataPlane(s, {
    writePacket(buf, off, len) {
      h.written.push(buf.slice(off, off + len));
      return true;
    },
    requestQuery(ipv4, refresh) {
      h.queries.push({ ipv4, refresh });
    },
    bindingsDump(_id, entries) {
      h.dumps.push(entries);
    },
    dropSample(sample) {
      h.drops.push(sample);
    },
    published() {},
  });
  const buf = new Uint8Array(64);
  h.send = (m, now) => {
    const n = writeRingMessage(m, buf);
    assert.ok(n > 0);
    h.dp.message(buf, n, now);
  };
  return h;
}

/** An ICMP echo request from `src` to `dst` (IPv4), written at `buf[off]`; returns its length. */
function echo(src: string, dst: string, buf: Uint8Array, off: number, seq = 1): number {
  return writeIcmpv4Echo(
    {
      reply: false,
      identifier: 7,
      sequence: seq,
      data: new Uint8Array(32),
      src: v4(src),
      dst: v4(dst),
    },
    buf,
    off,
  );
}

/** Feed an IPv4 packet from the IPv4 side. */
function fromV4(h: Harness, src: string, dst: string, now: number, seq = 1): void {
  const n = echo(src, dst, h.dp.rx, HEADROOM, seq);
  h.dp.packet(n, now);
}

/** Feed IPv4-in-IPv6 from `outer` with inner `src` → `dst`. */
function fromClient(h: Harness, outer: string, src: string, dst: string, now: number): void {
  const rx = h.dp.rx;
  const n = echo(src, dst, rx, HEADROOM + 40);
  writeIpv6Header(
    {
      trafficClass: 0,
      flowLabel: 0,
      payloadLength: n,
      nextHeader: 4,
      hopLimit: 64,
      src: v6(outer),
      dst: v6("2001:db8:ffff::1"),
    },
    rx,
    HEADROOM,
  );
  h.dp.packet(n + 40, now);
}

const push = (ipv4: string, ipv6: string, lifetimeMs = 3_600_000): RingMessage => ({
  kind: "binding-add",
  source: "push",
  ipv4: v4(ipv4),
  ipv6: v6(ipv6),
  lifetimeMs,
});

test("tep dataplane: a pushed binding forwards decapsulated packets and spoofs are counted", () => {
  const h = harness();
  h.send({ kind: "session", up: true }, 0);
  h.send(push(LEASE, CLIENT), 0);
  fromClient(h, CLIENT, LEASE, Z, 1);
  assert.equal(h.written.length, 1);
  const p = h.written[0];
  assert.equal(p[0] >> 4, 4);
  assert.equal(ipv4Src(p, 0), v4(LEASE));
  assert.equal(ipv4Dst(p, 0), v4(Z));
  assert.equal(ipv4Ttl(p, 0), 63);
  fromClient(h, SPOOFER, LEASE, Z, 2);
  assert.equal(h.written.length, 1, "the spoofed packet is not forwarded");
  assert.equal(h.dp.stats.drop("spoofed-source"), 1);
  assert.equal(h.queries.length, 0, "a spoof never triggers a query");
  assert.equal(h.drops.at(-1)?.reason, "spoofed-source");
  assert.equal(h.drops.at(-1)?.peer, SPOOFER);
});

test("tep dataplane: an encapsulation miss asks the main thread, the answer flushes the queue", () => {
  const h = harness();
  h.send({ kind: "session", up: true }, 0);
  fromV4(h, Z, LEASE, 10, 1);
  fromV4(h, Z, LEASE, 11, 2);
  assert.deepEqual(h.queries, [{ ipv4: v4(LEASE), refresh: false }], "one query per address");
  assert.equal(h.written.length, 0);
  h.send({
    kind: "query-answer",
    result: "found",
    ipv4: v4(LEASE),
    ipv6: v6(CLIENT),
    lifetimeMs: 1_200_000,
  }, 20);
  assert.equal(h.written.length, 2, "both held packets go out");
  for (const p of h.written) {
    assert.equal(p[0] >> 4, 6);
    assert.equal(p[6], 4);
    assert.deepEqual(p.subarray(8, 24), v6("2001:db8:ffff::1"));
    assert.deepEqual(p.subarray(24, 40), v6(CLIENT));
  }
  // Later packets hit the binding directly.
  fromV4(h, Z, LEASE, 30, 3);
  assert.equal(h.written.length, 3);
  h.send({ kind: "dump-bindings", id: 1 }, 40);
  assert.equal(h.dumps[0].length, 1);
  assert.equal(h.dumps[0][0].ipv4, LEASE);
  assert.equal(h.dumps[0][0].source, "query");
  assert.equal(h.dumps[0][0].expiresInMs, 600_000 - 20, "TTL capped by the local maximum");
});

test("tep dataplane: refused answers are negative-cached; outside-pool is never queried", () => {
  const h = harness();
  h.send({ kind: "session", up: true }, 0);
  fromV4(h, Z, "198.51.100.9", 1);
  h.send({
    kind: "query-answer",
    result: "refused",
    ipv4: v4("198.51.100.9"),
    ipv6: new Uint8Array(16),
    lifetimeMs: 0,
  }, 2);
  assert.equal(h.dp.stats.drop("query-refused"), 1);
  fromV4(h, Z, "198.51.100.9", 3);
  assert.equal(h.dp.stats.drop("negative-cached"), 1);
  fromV4(h, Z, "192.0.2.77", 4);
  assert.equal(h.dp.stats.drop("outside-pool"), 1);
  assert.equal(h.queries.length, 1);
});

test("tep dataplane: with the server away queries fail fast and are counted server-unavailable", () => {
  const h = harness();
  h.send(push(LEASE, CLIENT), 0);
  // Bindings it has keep forwarding.
  fromV4(h, Z, LEASE, 1);
  assert.equal(h.written.length, 1);
  fromV4(h, Z, "198.51.100.20", 2);
  assert.equal(h.queries.length, 0);
  assert.equal(h.dp.stats.drop("server-unavailable"), 1);
  assert.equal(h.dp.stats.worker("queriesFailedFast"), 1);
  // A short negative entry: the next packet does not even try.
  fromV4(h, Z, "198.51.100.20", 3);
  assert.equal(h.dp.stats.drop("negative-cached"), 1);
  assert.equal(h.dp.stats.worker("queriesFailedFast"), 1);
});

test("tep dataplane: a decapsulation miss is confirmed before forwarding, never learned", () => {
  const h = harness();
  h.send({ kind: "session", up: true }, 0);
  fromClient(h, CLIENT, LEASE, Z, 1);
  assert.equal(h.written.length, 0);
  assert.deepEqual(h.queries, [{ ipv4: v4(LEASE), refresh: false }]);
  // The server says the lease belongs to someone else: the held packet is a spoof.
  h.send({
    kind: "query-answer",
    result: "found",
    ipv4: v4(LEASE),
    ipv6: v6("2001:db8:100::11"),
    lifetimeMs: 60_000,
  }, 2);
  assert.equal(h.written.length, 0);
  assert.equal(h.dp.stats.drop("spoofed-source"), 1);
});

test("tep dataplane: removal needs the same IPv6; refresh re-queries bindings in use", () => {
  const h = harness(settings({ refreshAheadMs: 10_000 }));
  h.send({ kind: "session", up: true }, 0);
  h.send(push(LEASE, CLIENT, 30_000), 0);
  h.send({ kind: "binding-remove", ipv4: v4(LEASE), ipv6: v6("2001:db8:100::99") }, 1);
  assert.equal(h.dp.stats.worker("removalsIgnored"), 1);
  h.dp.tick(2);
  fromV4(h, Z, LEASE, 5_000);
  assert.equal(h.queries.length, 0, "not yet near expiry");
  fromV4(h, Z, LEASE, 25_000);
  assert.deepEqual(h.queries, [{ ipv4: v4(LEASE), refresh: true }]);
  h.send({
    kind: "query-answer",
    result: "found",
    ipv4: v4(LEASE),
    ipv6: v6(CLIENT),
    lifetimeMs: 120_000,
  }, 25_010);
  h.send({ kind: "dump-bindings", id: 2 }, 25_020);
  assert.equal(h.dumps[0][0].source, "push", "the refresh keeps the pushed binding's source");
  assert.equal(h.dumps[0][0].expiresInMs, 120_000 - 10);
  h.send({ kind: "binding-remove", ipv4: v4(LEASE), ipv6: v6(CLIENT) }, 25_030);
  assert.equal(h.dp.stats.worker("pushesRemoved"), 1);
  fromV4(h, Z, LEASE, 25_040);
  assert.equal(h.queries.length, 2, "removed: the next packet needs a query again");
});

test("tep dataplane: pool-to-pool traffic is hairpinned to the other client", () => {
  const h = harness();
  h.send({ kind: "session", up: true }, 0);
  h.send(push(LEASE, CLIENT), 0);
  h.send(push("198.51.100.8", "2001:db8:100::11"), 0);
  fromClient(h, CLIENT, LEASE, "198.51.100.8", 1);
  assert.equal(h.written.length, 1);
  const p = h.written[0];
  assert.deepEqual(
    p.subarray(24, 40),
    v6("2001:db8:100::11"),
    "re-encapsulated to the other client",
  );
  assert.equal(ipv4Src(p, 40), v4(LEASE));
  assert.equal(h.dp.ctx.stats.get("hairpinPackets"), 1);
});
