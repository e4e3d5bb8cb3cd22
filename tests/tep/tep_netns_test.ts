/**
 * The TEP end to end, in the draft's Figure 1 built in network namespaces (`demo/topology.ts`):
 * the real `dstm-server`, two real `dstm-tep`s, a client that leases an address over TSP and
 * pings z through its TEP with IPv4-in-IPv6 on a raw IPIP socket, the reply coming back through
 * the other TEP (which asks the server), a spoofer, a flood from z, and the kernel state left on
 * SIGTERM and after SIGKILL + `cleanup`. Run once with the entry points on the current runtime
 * and once with the compiled binaries.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { buildDomain, type Domain, type TepSite } from "../../demo/topology.ts";
import {
  compiledPrograms,
  Daemon,
  entryPrograms,
  events,
  ipTry,
  NEEDS_ROOT,
  nsRun,
  nsRunAsync,
  type Programs,
} from "./harness.ts";

const PASSWORDS: Record<string, string> = { tep1: "tep1-secret", tep2: "tep2-secret" };
const CREDENTIALS = `user1:user1-secret:client
tep1:${PASSWORDS.tep1}:tep
tep2:${PASSWORDS.tep2}:tep
`;
const QUERY_RATE = 5;
const QUERY_BURST = 5;

interface Site extends TepSite {
  daemon: Daemon;
  iface: string;
  control: string;
}

function ctl(p: Programs, site: Site, command: string): Record<string, unknown> {
  const r = nsRun(site.ns, [...p.tep, "ctl", command, "--json", "--control", site.control]);
  assert.equal(r.status, 0, `ctl ${command} on ${site.name}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function icmpInEchos(ns: string): number {
  const r = nsRun(ns, ["cat", "/proc/net/snmp"]);
  const lines = r.stdout.split("\n").filter((l) => l.startsWith("Icmp:"));
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/);
  return Number(values[names.indexOf("InEchos")]);
}

function kernelLeftovers(site: Site, pool: string): string[] {
  const left: string[] = [];
  if (ipTry("-n", site.ns, "link", "show", "dev", site.iface).status === 0) {
    left.push(`link ${site.iface}`);
  }
  const r4 = ipTry("-n", site.ns, "-4", "route", "show", pool).stdout.trim();
  if (r4) left.push(`route ${r4}`);
  const r6 = ipTry("-n", site.ns, "-6", "route", "show", `${site.ipv6}/128`).stdout.trim();
  if (r6) left.push(`route ${r6}`);
  return left;
}

async function scenario(p: Programs, tag: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dstm-tep-"));
  const prefix = `dt${process.pid % 100000}${tag}`;
  let d: Domain | undefined;
  const daemons: Daemon[] = [];
  try {
    d = buildDomain({ prefix, spoofer: true });
    const dom = d;
    fs.writeFileSync(path.join(dir, "users"), CREDENTIALS, { mode: 0o600 });
    const server = new Daemon("server", dom.server.ns, [
      ...p.server,
      "--listen",
      `[${dom.server.ipv6}]:${dom.server.port}`,
      "--pool",
      dom.pool,
      ...dom.teps.flatMap((t) => ["--tep", `${t.name},${t.ipv6},${t.ipv4}`]),
      "--credentials",
      path.join(dir, "users"),
      "--state-dir",
      path.join(dir, "state"),
      "--control",
      path.join(dir, "server.sock"),
      "--log-format",
      "json",
    ]);
    daemons.push(server);
    await server.waitFor("server.started", {}, 30_000);

    const sites: Site[] = dom.teps.map((t, i) => {
      const iface = `dtep${i + 1}`;
      const control = path.join(dir, `${t.name}.sock`);
      const daemon = new Daemon(t.name, t.ns, [
        ...p.tep,
        "--server",
        `[${dom.server.ipv6}]:${dom.server.port}`,
        "--credentials",
        `${t.name}:${PASSWORDS[t.name]}`,
        "--address",
        t.ipv6,
        "--ipv4",
        t.ipv4,
        "--pool",
        dom.pool,
        "--client-prefix",
        dom.clientPrefix,
        "--interface",
        iface,
        "--control",
        control,
        "--log-format",
        "json",
        "--query-rate",
        String(QUERY_RATE),
        "--query-burst",
        String(QUERY_BURST),
      ]);
      daemons.push(daemon);
      return { ...t, daemon, iface, control };
    });
    for (const s of sites) await s.daemon.waitFor("tep.session.up", {}, 30_000);

    // 1. A client leases an address over TSP (DIGEST-MD5).
    const cli = dom.clients[0];
    const leaseRun = await nsRunAsync(cli.ns, [
      ...p.probe,
      JSON.stringify({
        mode: "lease",
        server: dom.server.ipv6,
        port: dom.server.port,
        user: "user1",
        pass: "user1-secret",
        clientIpv6: cli.ipv6,
      }),
    ]);
    const lease = events(leaseRun.stdout).find((e) => e.event === "lease");
    assert.ok(lease, `no lease: ${leaseRun.stdout}${leaseRun.stderr}\n${server.tail()}`);
    const ipv4 = lease.ipv4 as string;
    const assigned = sites.find((s) => s.ipv6 === lease.tepIpv6);
    assert.ok(assigned, `lease names an unknown TEP ${lease.tepIpv6}`);
    const other = sites.find((s) => s !== assigned)!;
    // Return traffic must come back through the other TEP (the case the draft adds).
    const via = ipTry("-n", dom.r4, "route", "replace", dom.pool, "via", other.ipv4);
    assert.equal(via.status, 0, via.stderr);
    await assigned.daemon.waitFor("binding.added", { ipv4, source: "push" });

    // 2. Ping z through the assigned TEP; replies come back through the other one.
    const ping = await nsRunAsync(cli.ns, [
      ...p.probe,
      JSON.stringify({
        mode: "ping",
        local: cli.ipv6,
        tep: assigned.ipv6,
        src4: ipv4,
        dst4: dom.z.ipv4,
        count: 3,
        intervalMs: 100,
        waitMs: 3000,
      }),
    ]);
    const done = events(ping.stdout).find((e) => e.event === "done");
    assert.ok(done, `ping probe: ${ping.stdout}${ping.stderr}`);
    assert.equal(
      done.received,
      3,
      `replies: ${ping.stdout}\n--- ${assigned.name}\n${assigned.daemon.tail()}\n--- ${other.name}\n${other.daemon.tail()}`,
    );
    assert.deepEqual(done.from, [other.ipv6], "replies are encapsulated by the other TEP");
    const answered = await other.daemon.waitFor("query.answered", { ipv4, result: "found" });
    assert.equal(answered.ipv6, cli.ipv6);
    assert.equal(other.daemon.events("query.sent", { ipv4 }).length, 1, "one query for the lease");

    const b1 = ctl(p, assigned, "bindings").bindings as Record<string, unknown>[];
    assert.deepEqual(b1.map((b) => [b.ipv4, b.ipv6, b.source]), [[ipv4, cli.ipv6, "push"]]);
    const b2 = ctl(p, other, "bindings").bindings as Record<string, unknown>[];
    assert.deepEqual(b2.map((b) => [b.ipv4, b.ipv6, b.source]), [[ipv4, cli.ipv6, "query"]]);
    const s1 = ctl(p, assigned, "stats") as { forward: Record<string, number> };
    assert.ok(s1.forward.decapPackets >= 3, JSON.stringify(s1.forward));
    const s2 = ctl(p, other, "stats") as { forward: Record<string, number> };
    assert.ok(s2.forward.encapPackets >= 3, JSON.stringify(s2.forward));
    const st = ctl(p, assigned, "status");
    assert.equal(st.session, "up");
    assert.equal(st.interface, assigned.iface);

    // A packet too big for the tunnel with DF set gets ICMPv4 3/4 with the tunnel MTU (1500 - 40).
    const big = nsRun(dom.z.ns, [
      "ping",
      "-n",
      "-c",
      "1",
      "-W",
      "2",
      "-M",
      "do",
      "-s",
      "1472",
      ipv4,
    ]);
    assert.match(
      big.stdout + big.stderr,
      /[Ff]rag needed and DF set \(mtu = 1460\)/,
      big.stdout + JSON.stringify(ctl(p, other, "stats")) + other.daemon.tail(),
    );
    const tooBig = (ctl(p, other, "stats") as { drops: { name: string; count: number }[] }).drops
      .find((x) => x.name === "too-big-df")!;
    assert.equal(tooBig.count, 1);

    // 3. The spoofer sends IPv4-in-IPv6 with the client's leased address as inner source.
    const spoofer = dom.spoofer!;
    const echosBefore = icmpInEchos(dom.z.ns);
    const spoof = await nsRunAsync(spoofer.ns, [
      ...p.probe,
      JSON.stringify({
        mode: "ping",
        local: spoofer.ipv6,
        tep: assigned.ipv6,
        src4: ipv4,
        dst4: dom.z.ipv4,
        count: 4,
        intervalMs: 50,
        waitMs: 500,
      }),
    ]);
    const sdone = events(spoof.stdout).find((e) => e.event === "done");
    assert.ok(sdone, `spoof probe: ${spoof.stdout}${spoof.stderr}`);
    assert.equal(sdone.sent, 4);
    assert.equal(sdone.received, 0, "the spoofer gets nothing back");
    const spoofStats = ctl(p, assigned, "stats") as { drops: { name: string; count: number }[] };
    const spoofed = spoofStats.drops.find((x) => x.name === "spoofed-source")!;
    assert.equal(spoofed.count, 4, "every spoofed packet is dropped and counted");
    assert.equal(icmpInEchos(dom.z.ns), echosBefore, "z never sees a spoofed packet");
    await assigned.daemon.waitFor("tep.drop", { reason: "spoofed-source", peer: spoofer.ipv6 });

    // 4. A flood from z to unleased pool addresses is held to the query rate.
    const sentBefore = other.daemon.events("query.sent").length;
    const t0 = Date.now();
    const flood = await nsRunAsync(dom.z.ns, [
      ...p.probe,
      JSON.stringify({ mode: "flood", first: "198.51.100.100", count: 100, rounds: 3, gapMs: 400 }),
    ]);
    assert.equal(flood.status, 0, flood.stderr);
    await new Promise((r) => setTimeout(r, 300));
    const elapsed = (Date.now() - t0) / 1000;
    const sent = other.daemon.events("query.sent").length - sentBefore;
    const bound = QUERY_BURST + QUERY_RATE * elapsed + 1;
    assert.ok(sent >= QUERY_BURST, `the flood caused queries (${sent})`);
    assert.ok(
      sent <= bound,
      `queries ${sent} within ${bound.toFixed(1)} in ${elapsed.toFixed(1)} s`,
    );
    const fs2 = ctl(p, other, "stats") as {
      drops: { name: string; count: number }[];
      session: Record<string, number>;
    };
    const limited = fs2.drops.filter((x) => x.name.startsWith("rate-limited-"))
      .reduce((a, x) => a + x.count, 0);
    assert.ok(limited > 200, `rate-limited drops ${limited}`);
    assert.equal(fs2.session.queriesSent, sentBefore + sent);

    // 5. The server goes away: bindings held keep forwarding, what needs the server is counted,
    //    and the sessions come back with the server.
    await server.stop("SIGKILL");
    for (const s of sites) await s.daemon.waitFor("tep.session.down");
    const again = await nsRunAsync(cli.ns, [
      ...p.probe,
      JSON.stringify({
        mode: "ping",
        local: cli.ipv6,
        tep: assigned.ipv6,
        src4: ipv4,
        dst4: dom.z.ipv4,
        count: 2,
        intervalMs: 100,
        waitMs: 3000,
      }),
    ]);
    const adone = events(again.stdout).find((e) => e.event === "done");
    assert.equal(
      adone?.received,
      2,
      `forwarding without the server: ${again.stdout}${again.stderr}`,
    );
    const lone = await nsRunAsync(dom.z.ns, [
      ...p.probe,
      JSON.stringify({ mode: "flood", first: "198.51.100.250", count: 1, rounds: 1, gapMs: 0 }),
    ]);
    assert.equal(lone.status, 0, lone.stderr);
    await other.daemon.waitFor("tep.drop", { reason: "server-unavailable" });
    const down = ctl(p, other, "stats") as { drops: { name: string; count: number }[] };
    assert.equal(down.drops.find((x) => x.name === "server-unavailable")!.count, 1);
    assert.equal(ctl(p, other, "status").session, "waiting");
    const server2 = new Daemon("server", dom.server.ns, server.argv);
    daemons.push(server2);
    await server2.waitFor("server.started", {}, 30_000);
    for (const s of sites) {
      const deadline = Date.now() + 30_000;
      while (s.daemon.events("tep.session.up").length < 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(s.daemon.events("tep.session.up").length, 2, `${s.name} reconnects`);
    }

    // 6. SIGTERM: the TEP removes everything it added.
    assert.equal(await assigned.daemon.stop("SIGTERM"), 0, assigned.daemon.tail());
    assert.deepEqual(kernelLeftovers(assigned, dom.pool), []);
    assert.ok(!fs.existsSync(assigned.control), "control socket removed");

    // 7. SIGKILL, then `cleanup` (also of a leftover persistent TUN with routes).
    assert.equal(await other.daemon.stop("SIGKILL"), "SIGKILL");
    const cleanupArgv = [
      ...p.tep,
      "cleanup",
      "--interface",
      other.iface,
      "--control",
      other.control,
    ];
    const c1 = nsRun(other.ns, cleanupArgv);
    assert.equal(c1.status, 0, c1.stderr);
    assert.deepEqual(kernelLeftovers(other, dom.pool), []);
    assert.ok(!fs.existsSync(other.control), `stale control socket removed: ${c1.stdout}`);
    for (
      const args of [
        ["tuntap", "add", "dev", other.iface, "mode", "tun"],
        ["link", "set", other.iface, "up"],
        ["route", "add", dom.pool, "dev", other.iface],
        ["-6", "route", "add", `${other.ipv6}/128`, "dev", other.iface],
      ]
    ) {
      const r = ipTry("-n", other.ns, ...args);
      assert.equal(r.status, 0, `ip ${args.join(" ")}: ${r.stderr}`);
    }
    assert.equal(kernelLeftovers(other, dom.pool).length, 3);
    const c2 = nsRun(other.ns, cleanupArgv);
    assert.equal(c2.status, 0, c2.stderr);
    assert.match(c2.stdout, new RegExp(`removed interface ${other.iface}`));
    assert.deepEqual(kernelLeftovers(other, dom.pool), []);
  } finally {
    for (const dm of daemons.reverse()) await dm.stop("SIGKILL", 2000);
    d?.run.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test(
  "tep netns: entry points forward through two TEPs, drop spoofs, limit queries, clean up",
  { skip: NEEDS_ROOT },
  async () => {
    await scenario(entryPrograms(), "e");
  },
);

const compiled = NEEDS_ROOT ? undefined : compiledPrograms();
test(
  "tep netns: the compiled binaries do the same",
  { skip: NEEDS_ROOT ?? (typeof compiled === "string" ? compiled : undefined) },
  async () => {
    await scenario(compiled as Programs, "c");
  },
);
