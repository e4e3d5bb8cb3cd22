import { test } from "node:test";
import assert from "node:assert/strict";
import { DROP_REASONS, DropCounters } from "../lib/tep/drop_reasons.ts";
import { formatBindings, formatStats, formatStatus, type StatsInfo } from "./ctl.ts";
import { EXTRA, STATS_LENGTH, TEP_EXTRA_DROPS, TepStats, WORKER } from "./stats_layout.ts";

test("tep stats: one shared layout, drop counters first, every reason named and explained", () => {
  const stats = new TepStats(new SharedArrayBuffer(TepStats.BYTES));
  assert.equal(stats.values.length, STATS_LENGTH);
  // The forwarding core counts straight into the first region.
  new DropCounters(stats.buffer, 0).count("spoofed-source", 3);
  stats.values[EXTRA["server-unavailable"]] = 2;
  stats.values[WORKER.rxPackets] = 9;
  assert.equal(stats.drop("spoofed-source"), 3);
  assert.equal(stats.drop("server-unavailable"), 2);
  assert.equal(stats.totalDrops(), 5);
  assert.equal(stats.worker("rxPackets"), 9);
  const snap = stats.snapshot();
  assert.deepEqual(
    snap.drops.map((d) => d.name),
    [...DROP_REASONS.map((r) => r.name), ...TEP_EXTRA_DROPS.map((r) => r.name)],
  );
  for (const d of snap.drops) assert.ok(d.help.length > 10, d.name);
  assert.equal(new Set(snap.drops.map((d) => d.name)).size, snap.drops.length, "names unique");
});

test("tep ctl: stats text lists every drop reason with its count and explanation", () => {
  const stats = new TepStats(new ArrayBuffer(TepStats.BYTES));
  new DropCounters(stats.buffer, 0).count("rate-limited-global", 41);
  const info: StatsInfo = {
    ...stats.snapshot(),
    session: {
      state: "up",
      connects: 1,
      sessions: 1,
      downs: 0,
      queriesSent: 5,
      found: 1,
      refused: 4,
      failed: 0,
      pushesAdd: 2,
      pushesRemove: 1,
      protocolErrors: 0,
    },
  };
  const text = formatStats(info);
  assert.match(text, /^Drops \(41 in all\):/);
  for (const r of [...DROP_REASONS, ...TEP_EXTRA_DROPS]) {
    const line = text.split("\n").find((l) => l.startsWith(r.name + " "));
    assert.ok(line, r.name);
    assert.ok(line.includes(r.help), r.name);
  }
  assert.match(text, /rate-limited-global\s+41\s+a query was needed/);
  assert.match(text, /queriesSent\s+5/);
});

test("tep ctl: bindings and status tables", () => {
  assert.equal(formatBindings([]), "no bindings\n");
  const t = formatBindings([
    {
      ipv4: "198.51.100.7",
      ipv6: "2001:db8:100::10",
      source: "push",
      expiresInMs: 590_000,
      ageMs: 10_000,
    },
  ]);
  assert.match(t, /^IPV4\s+CLIENT IPV6\s+SOURCE\s+EXPIRES IN\s+AGE/);
  assert.match(t, /198\.51\.100\.7\s+2001:db8:100::10\s+push\s+9m50s\s+10s/);
  assert.match(t, /1 binding\n$/);
  const s = formatStatus({
    name: "tep1",
    server: "[2001:db8:1::1]:3653",
    session: "waiting",
    sessionSince: "2026-01-01T00:00:00.000Z",
    tspVersion: "",
    lastDownReason: "connect ECONNREFUSED",
    interface: "dstm-tep0",
    address: "2001:db8:ffff::1",
    ipv4: "192.0.2.1",
    pool: "198.51.100.0/24",
    clientPrefixes: ["2001:db8:100::/48"],
    bindings: 3,
    pendingQueries: 0,
    queuedPackets: 0,
    dropsTotal: 7,
    dataPlane: "running",
    uptimeSeconds: 3725,
    runtime: "deno 2.9.6",
    version: "0.1.0",
  });
  assert.match(
    s,
    /server\s+\[2001:db8:1::1\]:3653: session waiting since .*last error: connect ECONNREFUSED/,
  );
  assert.match(s, /uptime\s+1h02m/);
});
