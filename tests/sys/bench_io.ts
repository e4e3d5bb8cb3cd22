/**
 * Benchmark of the TUN forwarding loop (run manually as root; not a test):
 *
 *   deno run -A tests/sys/bench_io.ts [seconds=2] [payload-bytes=64] [rounds=3]
 *   bun tests/sys/bench_io.ts [seconds=2] [payload-bytes=64] [rounds=3]
 *
 * Three namespaces in a line: gen --veth-- mid --veth-- sink. A generator in `gen` sends UDP to
 * the IPv4 pool 198.51.100.0/24 as fast as one thread can. In `mid`:
 *  - baseline: the kernel forwards the pool to `sink` over IPv4 (plain veth router);
 *  - tun: the pool is routed into a TUN; a Worker (bench_forwarder_worker.ts) reads each packet,
 *    prepends an IPv6 header (TEP tunnel address -> 2001:db8:3::7) and writes it back into the
 *    same TUN; the kernel forwards the IPv6 packet to `sink` (the single-TUN TEP design);
 *  - raw: same, but the Worker sends the IPv4 packet on a raw IPIP socket and the kernel adds
 *    the IPv6 header (the TEP address is then local).
 * Each forwarder mode runs on Deno and on Bun. `sink` drops everything; packets are counted on
 * its veth (rx). The generator is pinned to CPU 0 and the forwarder to CPU 1 when `taskset`
 * exists (BENCH_NO_PIN=1 turns that off). Reports offered and delivered packets per second and
 * the forwarder's CPU time per packet (user + system, kernel forwarding of its writes included),
 * the figure least disturbed by other load on the machine.
 */
import fs from "node:fs";
import process from "node:process";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { here, ipJson, pinNeighbors, Probe, sh, uniqueNs, withNamespaces } from "./netns.ts";

const seconds = Number(process.argv[2] ?? 2);
const size = Number(process.argv[3] ?? 64);
const rounds = Number(process.argv[4] ?? 3);
const fmt = (n: number) => Math.round(n).toString().padStart(8);
const root = fileURLToPath(new URL("../../", import.meta.url));
const RUNTIMES: Record<string, string[]> = {
  deno: [`${root}node_modules/.bin/deno`, "run", "-A"],
  bun: [`${root}node_modules/.bin/bun`],
};
const hasTaskset = !process.env.BENCH_NO_PIN && spawnSync("taskset", ["-V"]).status === 0;
const pin = (cpu: number) => (hasTaskset ? ["taskset", "-c", String(cpu)] : []);

/** CPU seconds (user + system) used so far by process `pid`, all threads. */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in USER_HZ (100)
}

function rxPackets(ns: string, dev: string): number {
  const [l] = ipJson<{ stats64: { rx: { packets: number } } }[]>(ns, "-s", "link", "show", dev);
  return l.stats64.rx.packets;
}

function setup(gen: string, mid: string, sink: string): void {
  sh("ip", ["link", "add", "g0", "netns", gen, "type", "veth", "peer", "m0", "netns", mid]);
  sh("ip", ["link", "add", "m1", "netns", mid, "type", "veth", "peer", "s0", "netns", sink]);
  const cmds: [string, string[]][] = [
    [gen, ["addr", "add", "10.10.1.2/24", "dev", "g0"]],
    [gen, ["link", "set", "g0", "up"]],
    [gen, ["route", "add", "default", "via", "10.10.1.1"]],
    [mid, ["addr", "add", "10.10.1.1/24", "dev", "m0"]],
    [mid, ["addr", "add", "10.10.2.1/24", "dev", "m1"]],
    [mid, ["-6", "addr", "add", "2001:db8:2::1/64", "dev", "m1", "nodad"]],
    [mid, ["-6", "addr", "add", "2001:db8:ffff::1/128", "dev", "lo", "nodad"]],
    [mid, ["link", "set", "m0", "up"]],
    [mid, ["link", "set", "m1", "up"]],
    [sink, ["addr", "add", "10.10.2.2/24", "dev", "s0"]],
    [sink, ["-6", "addr", "add", "2001:db8:2::2/64", "dev", "s0", "nodad"]],
    [sink, ["link", "set", "s0", "up"]],
    [mid, ["-6", "route", "add", "2001:db8:3::/64", "via", "2001:db8:2::2"]],
  ];
  for (const [ns, args] of cmds) sh("ip", ["-n", ns, ...args]);
  sh("ip", ["netns", "exec", mid, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  sh("ip", ["netns", "exec", mid, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
  pinNeighbors({ ns: mid, dev: "m1", ip: "2001:db8:2::1" }, {
    ns: sink,
    dev: "s0",
    ip: "2001:db8:2::2",
  });
  pinNeighbors({ ns: mid, dev: "m1", ip: "10.10.2.1" }, { ns: sink, dev: "s0", ip: "10.10.2.2" });
  pinNeighbors({ ns: gen, dev: "g0", ip: "10.10.1.2" }, { ns: mid, dev: "m0", ip: "10.10.1.1" });
}

interface Row {
  label: string;
  offered: number;
  delivered: number;
  extra: string;
}

async function generate(gen: string): Promise<{ sent: number; seconds: number }> {
  const g = new Probe(gen, [
    ...pin(0),
    ...RUNTIMES.bun,
    here("bench_gen.ts"),
    JSON.stringify({ dst: "198.51.100.7", size, seconds }),
  ]);
  const r = await g.next<{ sent: number; seconds: number }>("done", (seconds + 10) * 1000);
  await g.finish();
  return r;
}

async function measure(
  label: string,
  gen: string,
  mid: string,
  sink: string,
  forwarder?: { runtime: string; mode: "tun" | "raw" },
): Promise<Row> {
  let fwd: Probe | undefined;
  if (forwarder) {
    fwd = new Probe(mid, [
      ...pin(1),
      ...RUNTIMES[forwarder.runtime],
      here("bench_forwarder.ts"),
      JSON.stringify({
        mode: forwarder.mode,
        src: "2001:db8:ffff::1",
        dst: "2001:db8:3::7",
        pool: "198.51.100.0/24",
      }),
    ]);
    await fwd.next("ready");
  } else {
    sh("ip", ["-n", mid, "route", "replace", "198.51.100.0/24", "via", "10.10.2.2"]);
  }
  const before = rxPackets(sink, "s0");
  const cpu0 = fwd ? cpuSeconds(fwd.child.pid!) : 0;
  const g = await generate(gen);
  await new Promise((r) => setTimeout(r, 200)); // let queues drain
  const delivered = rxPackets(sink, "s0") - before;
  let extra = "";
  if (fwd) {
    const cpu = cpuSeconds(fwd.child.pid!) - cpu0;
    const [t] = ipJson<{ stats64: { tx: { dropped: number; packets: number } } }[]>(
      mid,
      "-s",
      "link",
      "show",
      "btun0",
    );
    fwd.send("stop");
    const counts = await fwd.next<{ packets: number; writeErrors: number; polls: number }>("done");
    await fwd.finish();
    const us = (cpu * 1e6) / Math.max(1, counts.packets);
    extra =
      `forwarder CPU ${us.toFixed(2)} us/packet (${cpu.toFixed(2)} s), read ${counts.packets},` +
      ` write errors ${counts.writeErrors}, polls ${counts.polls}, TUN drops ${t.stats64.tx.dropped}`;
  } else {
    sh("ip", ["-n", mid, "route", "del", "198.51.100.0/24"]);
  }
  return { label, offered: g.sent / g.seconds, delivered: delivered / g.seconds, extra };
}

const names = [uniqueNs("bg"), uniqueNs("bm"), uniqueNs("bs")];
await withNamespaces(names, async (gen, mid, sink) => {
  setup(gen, mid, sink);
  console.log(
    `payload ${size} B UDP, ${seconds} s per run, ${rounds} rounds, taskset ${hasTaskset}`,
  );
  const modes: { label: string; fwd?: { runtime: string; mode: "tun" | "raw" } }[] = [
    { label: "baseline: kernel IPv4 forwarding" },
  ];
  for (const runtime of ["deno", "bun"]) {
    for (const mode of ["tun", "raw"] as const) {
      modes.push({ label: `${runtime} ${mode}`, fwd: { runtime, mode } });
    }
  }
  const all = new Map<string, Row[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const m of modes) {
      const r = await measure(m.label, gen, mid, sink, m.fwd);
      all.set(m.label, [...(all.get(m.label) ?? []), r]);
      console.log(
        `round ${round}  ${r.label.padEnd(34)} offered ${fmt(r.offered)} pps  delivered ` +
          `${fmt(r.delivered)} pps${r.extra ? "  " + r.extra : ""}`,
      );
    }
  }
  console.log("\nsummary (delivered pps: median / best of the rounds)");
  for (const [label, rows] of all) {
    const d = rows.map((r) => r.delivered).sort((a, b) => a - b);
    console.log(`${label.padEnd(34)} ${fmt(d[Math.floor(d.length / 2)])} / ${fmt(d.at(-1)!)}`);
  }
});
