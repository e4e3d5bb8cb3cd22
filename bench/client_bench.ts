/**
 * Client benchmark: TCP goodput (iperf3) from the client host c6 to the IPv4 host a4 through
 * `dstm-client` (TUN + raw IPv4-in-IPv6 socket) and `dstm-tep`, against the plain IPv6 path
 * between the same two namespaces through the same `tep` router, both directions (c6 → a4 and
 * a4 → c6 with `-R`). Rounds are interleaved; medians are reported, with the CPU time per
 * gigabit of the client and the TEP during the tunnelled runs.
 *
 * iperf3 uses the kernel's defaults on both paths: on the plain path the veths do TSO/GSO/GRO
 * (64 KiB segments through the stack), while the tunnel carries one MTU-sized packet per TUN
 * read/write. The table also shows the plain path with segmentation offloads turned off on the
 * veths (`ethtool -K ... tso off gso off gro off`, when ethtool exists), the per-packet
 * comparison. `BENCH_IPERF_RATE=1000M` caps every iperf3 run at that rate (`-b`), to compare CPU
 * per Gbit below saturation.
 *
 * @module
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { cpuSeconds, Daemon, median, nsRunAsync, round, sh, shTry, sleep } from "./_util.ts";
import type { Launcher } from "./tep_bench.ts";
import { benchServerArgs, benchTepArgs, buildBenchNet, NET } from "./topology.ts";

/** Options of {@link clientBench}. */
export interface ClientBenchOptions {
  readonly launch: Launcher;
  readonly tspLoad: string[];
  /** Seconds per iperf3 run. */
  readonly seconds: number;
  /** Rounds. */
  readonly rounds: number;
  /** argv prefix that lowers niceness of bench processes. */
  readonly nice: string[];
  readonly log: (s: string) => void;
}

/** One path's goodput. */
export interface PathResult {
  /** Median Mbit/s received. */
  readonly mbps: number;
  /** Every run, Mbit/s. */
  readonly runs: number[];
}

/** The client section's result. */
export interface ClientResult {
  /** c6 → a4 through the tunnel. */
  readonly tunnelUp: PathResult;
  /** a4 → c6 through the tunnel. */
  readonly tunnelDown: PathResult;
  /** c6 → a4 over plain IPv6. */
  readonly plainUp: PathResult;
  /** a4 → c6 over plain IPv6. */
  readonly plainDown: PathResult;
  /** Plain IPv6 with the veths' segmentation offloads off (undefined without ethtool). */
  readonly plainNoOffloadUp?: PathResult;
  readonly plainNoOffloadDown?: PathResult;
  /** tunnel / plain, each direction. */
  readonly ratioUp: number;
  readonly ratioDown: number;
  /** CPU seconds per Gbit moved (client, TEP), tunnelled runs, median. */
  readonly clientCpuSecPerGbit: number;
  readonly tepCpuSecPerGbit: number;
  /** The same per direction (median over the rounds). */
  readonly clientCpuSecPerGbitUp: number;
  readonly clientCpuSecPerGbitDown: number;
  readonly tepCpuSecPerGbitUp: number;
  readonly tepCpuSecPerGbitDown: number;
  /** The address the client leased. */
  readonly leasedIpv4?: string;
  /** Spawn to `interface.up` (lease over TSP, TUN, routes), ms. */
  readonly clientReadyMs: number;
}

async function iperf(
  ns: string,
  nice: string[],
  target: string,
  seconds: number,
  reverse: boolean,
): Promise<number> {
  for (let attempt = 0;; attempt++) {
    const r = await nsRunAsync(ns, [
      ...nice,
      "iperf3",
      "-c",
      target,
      "-t",
      String(seconds),
      "-O",
      "1",
      "-J",
      ...(reverse ? ["-R"] : []),
      // A fixed offered rate (e.g. 1000M), to compare CPU per Gbit below saturation.
      ...(process.env.BENCH_IPERF_RATE ? ["-b", process.env.BENCH_IPERF_RATE] : []),
      // Pin the source on the plain path: c0 also holds the bench peer address, dropped at c6.
      ...(target.includes(":") ? ["-B", NET.clientIpv6] : []),
    ], (seconds + 30) * 1000);
    let j: { error?: string; end?: { sum_received?: { bits_per_second: number } } } | undefined;
    try {
      j = JSON.parse(r.stdout);
    } catch { /* below */ }
    // The iperf3 server takes a moment to be ready for the next test.
    if (j?.error?.includes("busy") && attempt < 50) {
      await sleep(200);
      continue;
    }
    const bps = j?.end?.sum_received?.bits_per_second;
    if (bps === undefined) {
      throw new Error(`iperf3 ${target}: status ${r.status} ${r.stdout.slice(0, 400)} ${r.stderr}`);
    }
    return bps / 1e6;
  }
}

function pathResult(runs: number[]): PathResult {
  return { mbps: round(median(runs), 0), runs: runs.map((x) => round(x, 0)) };
}

/** Run the client section. */
export async function clientBench(o: ClientBenchOptions): Promise<ClientResult> {
  if (shTry("iperf3", ["--version"]).status !== 0) throw new Error("iperf3 is missing");
  const prefix = `db${process.pid % 100000}c`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dstm-bench-client-"));
  const net = buildBenchNet(prefix);
  const daemons: Daemon[] = [];
  try {
    // The client host gets its IPv4 from DSTM only.
    sh("ip", ["-n", net.c6, "-4", "addr", "flush", "dev", "c0"]);
    fs.writeFileSync(
      path.join(dir, "users"),
      "tep1:tep1-secret:tep\nalice:alice-secret:client\n",
      { mode: 0o600 },
    );
    const server = new Daemon("server", net.c6, [
      ...o.launch("server"),
      ...benchServerArgs(dir),
    ]);
    daemons.push(server);
    await server.waitFor("server.started", {}, 30_000);
    const tep = new Daemon("tep", net.tep, [
      ...o.nice,
      ...o.launch("tep"),
      ...benchTepArgs(dir),
    ]);
    daemons.push(tep);
    await tep.waitFor("tep.session.up", {}, 30_000);
    const client = new Daemon("client", net.c6, [
      ...o.nice,
      ...o.launch("client"),
      "--server",
      `[${NET.clientIpv6}]:${NET.serverPort}`,
      "--source",
      NET.clientIpv6,
      "--credentials",
      "alice:alice-secret",
      "--tep-prefix",
      NET.tepPrefix,
      "--interface",
      "bcli0",
      "--control",
      path.join(dir, "client.sock"),
      "--log-format",
      "json",
    ]);
    daemons.push(client);
    const up = await client.waitFor("interface.up", {}, 30_000);
    const leased = String(up.ipv4);
    await tep.waitFor("binding.added", { ipv4: leased }, 10_000);
    const iperfServer = new Daemon("iperf3", net.a4, [...o.nice, "iperf3", "-s"]);
    daemons.push(iperfServer);
    await sleep(500);
    // Warm the path (binding lookups, neighbours).
    await iperf(net.c6, o.nice, NET.a4Ipv4, 1, false);
    o.log(`client: leased ${leased}`);

    const runs: Record<string, number[]> = {};
    const add = (k: string, v: number) => (runs[k] ??= []).push(v);
    const cpuClient: number[] = [];
    const cpuTep: number[] = [];
    const hasEthtool = shTry("ethtool", ["--version"]).status === 0;
    const offloads = (on: boolean) => {
      const v = on ? "on" : "off";
      for (const [ns, dev] of [[net.c6, "c0"], [net.tep, "t6"], [net.tep, "t4"], [net.a4, "a0"]]) {
        shTry("ip", ["netns", "exec", ns, "ethtool", "-K", dev, "tso", v, "gso", v, "gro", v]);
      }
    };
    for (let r = 1; r <= o.rounds; r++) {
      for (const reverse of [false, true]) {
        const dirName = reverse ? "Down" : "Up";
        const c0 = cpuSeconds(client.pid);
        const t0 = cpuSeconds(tep.pid);
        const tun = await iperf(net.c6, o.nice, NET.a4Ipv4, o.seconds, reverse);
        const gbits = tun * o.seconds / 1000;
        const cc = (cpuSeconds(client.pid) - c0) / gbits;
        const ct = (cpuSeconds(tep.pid) - t0) / gbits;
        cpuClient.push(cc);
        cpuTep.push(ct);
        add(`clientCpu${dirName}`, cc);
        add(`tepCpu${dirName}`, ct);
        add(`tunnel${dirName}`, tun);
        const plain = await iperf(net.c6, o.nice, NET.a4Ipv6, o.seconds, reverse);
        add(`plain${dirName}`, plain);
        o.log(
          `round ${r} ${reverse ? "a4->c6" : "c6->a4"}: tunnel ${tun.toFixed(0)} Mbit/s, ` +
            `plain IPv6 ${plain.toFixed(0)} Mbit/s; CPU s/Gbit client ${cc.toFixed(3)}, ` +
            `TEP ${ct.toFixed(3)}`,
        );
        if (hasEthtool) {
          offloads(false);
          const p = await iperf(net.c6, o.nice, NET.a4Ipv6, o.seconds, reverse);
          offloads(true);
          add(`plainNoOffload${dirName}`, p);
          o.log(`round ${r} plain IPv6 without offloads: ${p.toFixed(0)} Mbit/s`);
        }
      }
    }
    const res = (k: string) => runs[k] ? pathResult(runs[k]) : undefined;
    const tunnelUp = res("tunnelUp")!;
    const tunnelDown = res("tunnelDown")!;
    const plainUp = res("plainUp")!;
    const plainDown = res("plainDown")!;
    return {
      tunnelUp,
      tunnelDown,
      plainUp,
      plainDown,
      plainNoOffloadUp: res("plainNoOffloadUp"),
      plainNoOffloadDown: res("plainNoOffloadDown"),
      ratioUp: round(tunnelUp.mbps / plainUp.mbps, 3),
      ratioDown: round(tunnelDown.mbps / plainDown.mbps, 3),
      clientCpuSecPerGbit: round(median(cpuClient), 3),
      tepCpuSecPerGbit: round(median(cpuTep), 3),
      clientCpuSecPerGbitUp: round(median(runs.clientCpuUp), 3),
      clientCpuSecPerGbitDown: round(median(runs.clientCpuDown), 3),
      tepCpuSecPerGbitUp: round(median(runs.tepCpuUp), 3),
      tepCpuSecPerGbitDown: round(median(runs.tepCpuDown), 3),
      leasedIpv4: leased,
      clientReadyMs: round(client.msUntil("interface.up"), 0),
    };
  } finally {
    for (const d of daemons.reverse()) await d.stop(3000);
    net.run.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
