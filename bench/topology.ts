/**
 * The namespaces the TEP and client benchmarks run in: one IPv4 host, the TEP, one IPv6 host.
 *
 * ```
 *   a4 (203.0.113.2, 2001:db8:4::2) --a0/t4-- tep --t6/c0-- c6 (2001:db8:6::2 client + server,
 *                                             (203.0.113.1 = TEPV4ADDR,    2001:db8:6::3 bench peer,
 *                                              tunnel 2001:db8:ffff::1)    10.6.0.2 kernel baseline)
 * ```
 * `a4` generates and sinks IPv4, `c6` generates and sinks IPv4-in-IPv6 (as the pseudo-client
 * 2001:db8:6::3) and hosts the DSTM server and the real client (2001:db8:6::2). The kernel
 * baseline uses the same veths and the same `tep` namespace with plain IPv4 routing
 * (203.0.113.0/24 <-> 10.6.0.0/24). Every neighbour entry is pinned. Sinks drop the bench
 * traffic at ingress (nftables, netdev family): packets are counted by the veth's rx counter,
 * which counts what reached the sink, and nothing more is done with them.
 *
 * @module
 */
import path from "node:path";
import { NetnsRun } from "../demo/netns.ts";
import { linkMac, sh, shTry } from "./_util.ts";

/** The bench network. */
export interface BenchNet {
  /** The namespaces (teardown). */
  readonly run: NetnsRun;
  /** IPv4 host. */
  readonly a4: string;
  /** TEP. */
  readonly tep: string;
  /** IPv6 host (client side). */
  readonly c6: string;
  /** MAC of the TEP's IPv4-side veth (the generator in a4 sends to it). */
  readonly macT4: string;
  /** MAC of the TEP's IPv6-side veth. */
  readonly macT6: string;
}

/** Addresses of the bench network. */
export const NET = {
  a4Ipv4: "203.0.113.2",
  a4Ipv6: "2001:db8:4::2",
  tepIpv4: "203.0.113.1",
  tepTunnel: "2001:db8:ffff::1",
  tepPrefix: "2001:db8:ffff::/48",
  clientIpv6: "2001:db8:6::2",
  peerIpv6: "2001:db8:6::3",
  clientPrefix: "2001:db8:6::/48",
  c6Ipv4: "10.6.0.2",
  pool: "198.51.100.0/24",
  serverPort: 3653,
} as const;

function pinNeigh(ns: string, dev: string, ip: string, mac: string): void {
  sh("ip", ["-n", ns, "neigh", "replace", ip, "lladdr", mac, "dev", dev, "nud", "permanent"]);
}

/** nftables ingress drop of the bench traffic on `dev` in `ns` (UDP port 9; extra matches). */
export function sinkDrop(ns: string, dev: string, extra: string[] = []): void {
  shTry("ip", ["netns", "exec", ns, "nft", "delete", "table", "netdev", "bench"]);
  const nft = (...a: string[]) => sh("ip", ["netns", "exec", ns, "nft", ...a]);
  nft("add", "table", "netdev", "bench");
  nft(
    "add",
    "chain",
    "netdev",
    "bench",
    "in",
    `{ type filter hook ingress device ${dev} priority 0; policy accept; }`,
  );
  nft("add", "rule", "netdev", "bench", "in", "udp", "dport", "9", "drop");
  for (const e of extra) nft("add", "rule", "netdev", "bench", "in", ...e.split(" "), "drop");
}

/** Remove the sink rules of `ns`. */
export function sinkClear(ns: string): void {
  shTry("ip", ["netns", "exec", ns, "nft", "delete", "table", "netdev", "bench"]);
}

/** Build the bench network with namespace prefix `prefix`. */
export function buildBenchNet(prefix: string): BenchNet {
  const run = new NetnsRun(prefix);
  try {
    const a4 = run.add("a4");
    const tep = run.add("tep");
    const c6 = run.add("c6");
    run.forwarding("tep");
    run.link("a4", "a0", "tep", "t4");
    run.link("c6", "c0", "tep", "t6");
    run.addr("a4", "a0", `${NET.a4Ipv4}/24`);
    run.addr("a4", "a0", `${NET.a4Ipv6}/64`);
    run.route("a4", "default", "via", NET.tepIpv4);
    run.route("a4", "default", "via", "2001:db8:4::1");
    run.addr("tep", "t4", `${NET.tepIpv4}/24`);
    run.addr("tep", "t4", "2001:db8:4::1/64");
    run.addr("tep", "t6", "10.6.0.1/24");
    run.addr("tep", "t6", "2001:db8:6::1/64");
    run.addr("c6", "c0", `${NET.c6Ipv4}/24`);
    run.addr("c6", "c0", `${NET.clientIpv6}/64`);
    run.addr("c6", "c0", `${NET.peerIpv6}/64`);
    run.route("c6", "default", "via", "10.6.0.1");
    run.route("c6", "default", "via", "2001:db8:6::1");
    const macA0 = linkMac(a4, "a0");
    const macC0 = linkMac(c6, "c0");
    const macT4 = linkMac(tep, "t4");
    const macT6 = linkMac(tep, "t6");
    pinNeigh(tep, "t4", NET.a4Ipv4, macA0);
    pinNeigh(tep, "t4", NET.a4Ipv6, macA0);
    pinNeigh(tep, "t6", NET.c6Ipv4, macC0);
    pinNeigh(tep, "t6", NET.clientIpv6, macC0);
    pinNeigh(tep, "t6", NET.peerIpv6, macC0);
    pinNeigh(a4, "a0", NET.tepIpv4, macT4);
    pinNeigh(a4, "a0", "2001:db8:4::1", macT4);
    pinNeigh(c6, "c0", "10.6.0.1", macT6);
    pinNeigh(c6, "c0", "2001:db8:6::1", macT6);
    sinkDrop(a4, "a0");
    sinkDrop(c6, "c0", [`ip6 daddr ${NET.peerIpv6}`]);
    return { run, a4, tep, c6, macT4, macT6 };
  } catch (e) {
    run.teardown();
    throw e;
  }
}

/** The flags of the bench's dstm-server in `c6`, state and sockets in `dir`. */
export function benchServerArgs(dir: string): string[] {
  return [
    "--listen",
    `[${NET.clientIpv6}]:${NET.serverPort}`,
    "--pool",
    NET.pool,
    "--tep",
    `tep1,${NET.tepTunnel},${NET.tepIpv4}`,
    "--credentials",
    path.join(dir, "users"),
    "--state-dir",
    path.join(dir, "state"),
    "--control",
    path.join(dir, "server.sock"),
    "--log-format",
    "json",
  ];
}

/** The flags of the bench's dstm-tep in `tep`, its control socket in `dir`. */
export function benchTepArgs(dir: string): string[] {
  return [
    "--server",
    `[${NET.clientIpv6}]:${NET.serverPort}`,
    "--name",
    "tep1",
    "--credentials",
    "tep1:tep1-secret",
    "--address",
    NET.tepTunnel,
    "--ipv4",
    NET.tepIpv4,
    "--pool",
    NET.pool,
    "--client-prefix",
    NET.clientPrefix,
    "--interface",
    "btep0",
    "--control",
    path.join(dir, "tep.sock"),
    "--log-format",
    "json",
  ];
}
