import { test } from "node:test";
import assert from "node:assert/strict";
import { ClientAgent } from "./agent.ts";
import { FakeDataplane } from "./dataplane_host.ts";
import { MemoryNet, ScriptedClock, testSasl } from "./_testing.ts";
import { TunnelInterface } from "./tunnel_interface.ts";
import { DomainTepFilter } from "./tep_filter.ts";
import { formatStatus, statusReport } from "./status_report.ts";
import { FakeNetlink } from "../lib/sys/mod.ts";
import { createLogger } from "../lib/log/logger.ts";
import { makeCidr4 } from "../lib/addr/mod.ts";
import type { MechanismName } from "../lib/tsp/mod.ts";
import { Prng } from "../lib/testing/prng.ts";

const MIN = 60_000;

interface Options {
  keepaliveSeconds?: number;
  source?: string;
  mechanism?: MechanismName;
  lifetime?: number;
}

async function setup(o: Options = {}) {
  const clk = new ScriptedClock();
  const net = new MemoryNet(clk.clock);
  net.dstm.lifetime = o.lifetime ?? 10;
  const nl = new FakeNetlink();
  nl.addLink("dstm0");
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l), level: "debug", now: clk.clock });
  const iface = new TunnelInterface("dstm0", { net: nl, writeSysctl: () => {}, log });
  await iface.prepare(1460);
  const dp = new FakeDataplane();
  const hooks: { script: string; env: Record<string, string> }[] = [];
  const fatal: unknown[] = [];
  const rng = new Prng(5);
  const agent = new ClientAgent({
    settings: {
      serverText: "[2001:db8:1::1]:3653",
      serverHost: "2001:db8:1::1",
      serverPort: 3653,
      source: o.source,
      routes: [makeCidr4(0, 0)],
      mechanism: o.mechanism ?? "ANONYMOUS",
      createSasl: testSasl(),
      mtu: 1460,
      keepaliveSeconds: o.keepaliveSeconds ?? 0,
      keepaliveMisses: 3,
      responseTimeoutMs: 5000,
      requestTimeoutMs: 20000,
      retryMs: 2000,
      renewOnBindingUnknown: true,
      up: "/hooks/up",
      down: "/hooks/down",
      leaseCapMs: undefined,
    },
    filter: new DomainTepFilter(),
    log,
    clock: clk.clock,
    timer: clk.timer,
    connect: net.connect,
    iface,
    dataplane: dp,
    runHook: (script, env) => {
      hooks.push({ script, env });
      return Promise.resolve({ code: 0, signal: null, timedOut: false });
    },
    random: () => rng.int(1 << 30) / (1 << 30),
    onFatal: (e) => fatal.push(e),
  });
  /** Deliver the network and let the interface/hook queue finish. */
  const settle = async () => {
    for (let i = 0; i < 20; i++) {
      net.pump();
      await agent.settled();
      for (let j = 0; j < 5; j++) await Promise.resolve();
    }
  };
  /** Advance the scripted clock to `at`, delivering the network after every timer. */
  const advance = async (at: number) => {
    clk.advance(at, () => net.pump());
    await settle();
  };
  const addresses = async () =>
    (await nl.listAddresses({ dev: "dstm0", family: 4 })).map((a) => a.address);
  const routes = async () => (await nl.listRoutes({ dev: "dstm0", family: 4 })).map((r) => r.dst);
  const dpKinds = () => dp.calls.map((c) => c.kind);
  return {
    clk,
    net,
    nl,
    dp,
    hooks,
    fatal,
    agent,
    lines,
    settle,
    advance,
    addresses,
    routes,
    dpKinds,
  };
}

test("agent: a lease brings up the data plane, the interface and the up hook", async () => {
  const t = await setup();
  const t0 = t.clk.now;
  t.agent.start();
  await t.settle();
  assert.deepEqual(t.dp.calls.slice(0, 2), [
    { kind: "start", localIpv6: "2001:db8:100::10" },
    { kind: "lease", ipv4: "198.51.100.7", tep: "2001:db8:ffff::1" },
  ]);
  assert.deepEqual(await t.addresses(), ["198.51.100.7"]);
  assert.deepEqual(await t.routes(), ["default"]);
  assert.equal(t.hooks.length, 1);
  const env = t.hooks[0].env;
  assert.equal(t.hooks[0].script, "/hooks/up");
  assert.equal(env.DSTM_EVENT, "up");
  assert.equal(env.DSTM_IPV4, "198.51.100.7");
  assert.equal(env.DSTM_LOCAL_IPV6, "2001:db8:100::10");
  assert.equal(env.DSTM_REMOTE_IPV6, "2001:db8:ffff::1");
  assert.equal(env.DSTM_MTU, "1460");
  assert.equal(env.DSTM_LEASE_EXPIRES, new Date(t0 + 10 * MIN).toISOString());
  const st = t.agent.status();
  assert.equal(st.phase, "bound");
  assert.equal(st.lease?.ipv4, "198.51.100.7");
  assert.deepEqual(st.tepSources.learnedBlocks, ["2001:db8:ffff::/64"]);
  assert.equal(t.net.open, 1, "the TSP session stays open");
  assert.deepEqual(t.fatal, []);
});

test("agent: renews at half the lifetime and leaves the interface alone", async () => {
  const t = await setup();
  const t0 = t.clk.now;
  t.agent.start();
  await t.settle();
  await t.advance(t0 + 5 * MIN - 1);
  assert.equal(t.net.dstm.log.length, 1, "no renewal before T1");
  await t.advance(t0 + 5 * MIN);
  assert.deepEqual(t.net.dstm.log[1], {
    action: "create",
    ipv4: "198.51.100.7",
    ipv6: "2001:db8:100::10",
  });
  const st = t.agent.status();
  assert.equal(st.phase, "bound");
  assert.equal(st.leaseStats.renewals, 1);
  assert.equal(st.lease?.renewAt, new Date(t0 + 10 * MIN).toISOString(), "new T1 from the renewal");
  assert.ok(!t.dpKinds().includes("no-lease"), "the data plane never lost the lease");
  assert.equal(t.hooks.length, 1, "no hook for a plain renewal");
  assert.deepEqual(await t.addresses(), ["198.51.100.7"]);
  // and again, on the same connection
  await t.advance(t0 + 10 * MIN);
  assert.equal(t.net.dstm.log.length, 3);
  assert.equal(t.net.conns.length, 1);
});

test("agent: renewals retried with backoff until 7/8; expiry removes everything", async () => {
  const t = await setup();
  const t0 = t.clk.now;
  t.agent.start();
  await t.settle();
  t.net.dropAll();
  t.net.refuse = true;
  await t.advance(t0 + 5 * MIN);
  await t.advance(t0 + 8.75 * MIN - 1);
  const attempts = t.net.binds.length - 1;
  assert.ok(attempts >= 5 && attempts <= 12, `renewal attempts between T1 and T2: ${attempts}`);
  assert.equal(t.agent.status().phase, "renewing");
  await t.advance(t0 + 10 * MIN - 1);
  assert.equal(t.net.binds.length - 1, attempts, "no attempt after T2");
  assert.equal(t.agent.status().phase, "expiring");
  assert.deepEqual(await t.addresses(), ["198.51.100.7"], "the address is used until expiry");
  await t.advance(t0 + 10 * MIN);
  assert.equal(t.dpKinds().at(-1), "no-lease");
  assert.deepEqual(await t.addresses(), []);
  assert.deepEqual(await t.routes(), []);
  const down = t.hooks.at(-1)!;
  assert.equal(down.script, "/hooks/down");
  assert.equal(down.env.DSTM_REASON, "expired");
  assert.equal(t.agent.status().phase, "expired");
  // the server is back: a new allocation follows after the backoff
  t.net.refuse = false;
  await t.advance(t0 + 11 * MIN);
  assert.equal(t.agent.status().phase, "bound");
  assert.equal(t.agent.status().lease?.ipv4, "198.51.100.8");
});

test("agent: a 308 on renewal takes the address down at once", async () => {
  const t = await setup();
  const t0 = t.clk.now;
  t.agent.start();
  await t.settle();
  t.net.dstm.refuseRenewals = true;
  await t.advance(t0 + 5 * MIN);
  assert.equal(t.agent.status().phase, "expired");
  assert.deepEqual(await t.addresses(), []);
  assert.equal(t.hooks.at(-1)!.env.DSTM_REASON, "refused");
});

test("agent: a delete pushed by the server applies at once", async () => {
  const t = await setup();
  t.agent.start();
  await t.settle();
  t.net.pushDelete("198.51.100.7");
  t.net.pump();
  assert.equal(t.dpKinds().at(-1), "no-lease", "traffic stops before anything else");
  await t.settle();
  assert.deepEqual(await t.addresses(), []);
  assert.equal(t.hooks.at(-1)!.env.DSTM_REASON, "deleted");
  assert.equal(t.agent.status().leaseStats.losses, 1);
  // a push for another address is ignored
  const t2 = await setup();
  t2.agent.start();
  await t2.settle();
  t2.net.pushDelete("198.51.100.99");
  await t2.settle();
  assert.equal(t2.agent.status().phase, "bound");
});

test("agent: keepalive misses make it ask again and move to the TEP named, same IPv4", async () => {
  const t = await setup({ keepaliveSeconds: 2 });
  const t0 = t.clk.now;
  t.agent.start();
  await t.settle();
  t.net.dstm.tep = 1; // the server now names TEP2
  // Three probes unanswered: the fourth tick declares the failure (intervals of 1.5-2 s).
  await t.advance(t0 + 8_000);
  const probes = t.dp.calls.filter((c) => c.kind === "probe").length;
  assert.ok(probes >= 4, `probes sent: ${probes}`);
  const renewal = t.net.dstm.log[1];
  assert.deepEqual(renewal, { action: "create", ipv4: "198.51.100.7", ipv6: "2001:db8:100::10" });
  const lease = t.dp.calls.filter((c) => c.kind === "lease");
  assert.deepEqual(lease.at(-1), { kind: "lease", ipv4: "198.51.100.7", tep: "2001:db8:ffff::2" });
  assert.ok(!t.dpKinds().includes("no-lease"), "the address is kept");
  assert.deepEqual(await t.addresses(), ["198.51.100.7"]);
  const hook = t.hooks.at(-1)!;
  assert.equal(hook.env.DSTM_EVENT, "tep-change");
  assert.equal(hook.env.DSTM_REMOTE_IPV6, "2001:db8:ffff::2");
  assert.equal(hook.env.DSTM_PREVIOUS_REMOTE_IPV6, "2001:db8:ffff::1");
  const st = t.agent.status();
  assert.equal(st.leaseStats.tepChanges, 1);
  assert.equal(st.lease?.tep, "2001:db8:ffff::2");
  assert.equal(st.tep.failed, false, "the monitor restarted for the new TEP");
});

test("agent: answered keepalives keep the TEP; ICMPv6 unreachable declares it failed", async () => {
  const t = await setup({ keepaliveSeconds: 2 });
  const t0 = t.clk.now;
  t.agent.start();
  await t.settle();
  // Answer every probe as it is sent.
  let answered = 0;
  for (let at = t0 + 500; at <= t0 + 20_000; at += 500) {
    await t.advance(at);
    for (const c of t.dp.calls.splice(0)) {
      if (c.kind === "probe") {
        t.agent.onDataplaneEvent({ kind: "keepalive-reply", seq: c.seq, at: t.clk.now });
        answered++;
      }
    }
  }
  assert.ok(answered >= 9, `answered ${answered}`);
  assert.equal(t.net.dstm.log.length, 1, "no renewal: the TEP answers");
  assert.equal(t.agent.status().tep.repliesReceived, answered);
  t.agent.onDataplaneEvent({ kind: "tep-unreachable", type: 1, code: 3, at: t.clk.now });
  await t.settle();
  assert.equal(t.net.dstm.log.length, 2, "an ICMPv6 error toward the TEP asks the server again");
});

test("agent: binding-unknown renews at most once a minute; PTB sets the interface MTU", async () => {
  const t = await setup();
  t.agent.start();
  await t.settle();
  for (let i = 0; i < 5; i++) t.agent.onDataplaneEvent({ kind: "binding-unknown", at: t.clk.now });
  await t.settle();
  assert.equal(t.net.dstm.log.length, 2, "one renewal for a burst");
  await t.advance(t.clk.now + 61_000);
  t.agent.onDataplaneEvent({ kind: "binding-unknown", at: t.clk.now });
  await t.settle();
  assert.equal(t.net.dstm.log.length, 3);
  t.agent.onDataplaneEvent({ kind: "mtu", mtu: 1400 });
  await t.settle();
  assert.equal((await t.nl.getLink("dstm0")).mtu, 1400);
  assert.equal(t.agent.status().interface.mtu, 1400);
});

test("agent: shutdown releases the lease, runs the down hook and removes everything", async () => {
  const t = await setup({ source: "2001:db8:100::10", mechanism: "DIGEST-MD5" });
  t.agent.start();
  await t.settle();
  assert.equal(t.dp.calls[0].kind, "start", "a configured source starts the data plane at once");
  t.net.dropAll(); // the release must open a new session
  await t.settle();
  const done = t.agent.shutdown();
  await t.settle();
  await done;
  assert.equal(t.net.dstm.leases.size, 0, "released at the server");
  assert.deepEqual(t.net.dstm.log.at(-1), {
    action: "delete",
    ipv4: "198.51.100.7",
    ipv6: "2001:db8:100::10",
  });
  assert.deepEqual(await t.addresses(), []);
  assert.deepEqual(await t.routes(), []);
  assert.equal(t.hooks.at(-1)!.env.DSTM_REASON, "stopped");
  assert.equal(t.dpKinds().at(-1), "stop");
  assert.equal(t.net.open, 0);
  assert.equal(t.clk.next(), Infinity, "no timer left");
  assert.ok(t.lines.some((l) => l.includes("lease.released") && l.includes("confirmed=true")));
});

test("agent: shutdown does not hang when the server is gone", async () => {
  const t = await setup();
  t.agent.start();
  await t.settle();
  t.net.dropAll();
  t.net.refuse = true;
  const done = t.agent.shutdown();
  await t.settle();
  await done;
  assert.deepEqual(await t.addresses(), []);
  assert.ok(t.lines.some((l) => l.includes("lease.released") && l.includes("confirmed=false")));
});

test("agent: a data-plane failure is fatal", async () => {
  const t = await setup({ source: "2001:db8:100::10" });
  t.dp.failStart = new Error("bind: EADDRNOTAVAIL");
  t.agent.start();
  await t.settle();
  assert.equal(t.fatal.length, 1);
  const u = await setup();
  u.agent.start();
  await u.settle();
  u.agent.onDataplaneEvent({ kind: "error", message: "poll: EBADF" });
  assert.equal(u.fatal.length, 1);
});

test("agent: ctl status explains the lease, the TEP sources and every counter", async () => {
  const t = await setup({ keepaliveSeconds: 30 });
  t.agent.start();
  await t.settle();
  t.dp.counters.dataplane.drops[5] = 3; // source-not-tep
  const report = statusReport(t.agent.status(), t.dp.counters);
  assert.equal(report.counters.drops["source-not-tep"], 3);
  assert.equal(report.counters.io["tunnel-send-errors"], 0);
  const text = formatStatus(report);
  assert.match(text, /^lease: bound/);
  assert.match(text, /ipv4 {10}198\.51\.100\.7\/32/);
  assert.match(text, /accepted tunnel sources: 2001:db8:ffff::\/64 \(the \/64 of each TEP/);
  assert.match(text, /source-not-tep +3 {2}tunnel packet whose IPv6 source is not a domain TEP/);
  assert.match(text, /interface: dstm0, mtu 1460, ipv4 198\.51\.100\.7\/32, routes 0\.0\.0\.0\/0/);
  assert.match(text, /tep liveness: answering, every 30 s/);
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(report)));
});
