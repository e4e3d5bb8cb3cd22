/**
 * Figure 1 of draft-jaehwoon-dstm-multitep-02 in network namespaces: an IPv6-only DSTM domain
 * (clients, the DSTM server, TEP1 and TEP2 joined by an IPv6 router) and an IPv4 side (an IPv4
 * router and an IPv4-only host). The IPv4 router sends traffic for the pool to TEP2, so return
 * traffic takes a different TEP from the outbound one: the case the draft adds.
 *
 * ```
 *   cli1..N ─┐                                          ┌─ tep1 (2001:db8:ffff::1 / 192.0.2.1) ─┐
 *   spoofer ─┤ br (2001:db8:100::/64)                   │                                       │
 *            r6 ─── srv (2001:db8:1::1)                 r6                                       r4 ── z (203.0.113.5)
 *   outsider ┘ (2001:db8:bad::/64)                      └─ tep2 (2001:db8:ffff::2 / 192.0.2.2) ─┘
 * ```
 * No node of the domain has IPv4 except what DSTM gives it.
 */
import { NetnsRun } from "./netns.ts";

/** Addresses of one TEP. */
export interface TepSite {
  /** TEP name (also its TSP user). */
  name: string;
  /** Namespace. */
  ns: string;
  /** Tunnel end point address (TEPV6ADDR), routed to the TEP by r6. */
  ipv6: string;
  /** Its address on the link to r6. */
  linkIpv6: string;
  /** TEPV4ADDR, on the link to r4. */
  ipv4: string;
}

/** Everything a test or the demo needs to know about a built domain. */
export interface Domain {
  /** The namespaces. */
  run: NetnsRun;
  /** The shared IPv4 pool. */
  pool: string;
  /** Prefix of the domain's clients. */
  clientPrefix: string;
  /** Prefix of the TEPs' tunnel addresses. */
  tepPrefix: string;
  /** DSTM server. */
  server: { ns: string; ipv6: string; port: number };
  /** Client hosts. */
  clients: { ns: string; ipv6: string }[];
  /** TEP1 and TEP2. */
  teps: TepSite[];
  /** A host inside the domain that spoofs. */
  spoofer?: { ns: string; ipv6: string };
  /** A host outside the domain's client and TEP prefixes. */
  outsider?: { ns: string; ipv6: string };
  /** The IPv4-only correspondent. */
  z: { ns: string; ipv4: string };
  /** Namespace of the IPv6 router and the IPv4 router. */
  r6: string;
  /** IPv4 router. */
  r4: string;
}

/** Options of {@linkcode buildDomain}. */
export interface DomainOptions {
  /** Namespace name prefix (unique per run). */
  prefix: string;
  /** Number of client hosts (default 1). */
  clients?: number;
  /** Add a spoofing host inside the domain. */
  spoofer?: boolean;
  /** Add a host outside the domain's prefixes. */
  outsider?: boolean;
  /** Which TEP r4 sends pool traffic to (default `tep2`). */
  returnVia?: "tep1" | "tep2";
}

/** Build the topology. On failure everything made so far is removed and the error rethrown. */
export function buildDomain(opts: DomainOptions): Domain {
  const run = new NetnsRun(opts.prefix);
  try {
    return build(run, opts);
  } catch (e) {
    run.teardown();
    throw e;
  }
}

function build(run: NetnsRun, opts: DomainOptions): Domain {
  const n = opts.clients ?? 1;
  const r6 = run.add("r6");
  run.forwarding("r6");
  run.bridge("r6", "br0");
  run.addr("r6", "br0", "2001:db8:100::ff/64");

  const srv = run.add("srv");
  run.link("srv", "eth0", "r6", "srv0");
  run.addr("srv", "eth0", "2001:db8:1::1/64");
  run.addr("r6", "srv0", "2001:db8:1::ff/64");
  run.route("srv", "default", "via", "2001:db8:1::ff");

  const clients: Domain["clients"] = [];
  for (let i = 1; i <= n; i++) {
    const ipv6 = `2001:db8:100::${(0x10 + i - 1).toString(16)}`;
    run.add(`cli${i}`);
    run.link(`cli${i}`, "eth0", "r6", `c${i}`);
    run.enslave("r6", `c${i}`, "br0");
    run.addr(`cli${i}`, "eth0", `${ipv6}/64`);
    run.route(`cli${i}`, "default", "via", "2001:db8:100::ff");
    clients.push({ ns: run.ns(`cli${i}`), ipv6 });
  }

  let spoofer: Domain["spoofer"];
  if (opts.spoofer) {
    run.add("spoof");
    run.link("spoof", "eth0", "r6", "spoof0");
    run.enslave("r6", "spoof0", "br0");
    run.addr("spoof", "eth0", "2001:db8:100::66/64");
    run.route("spoof", "default", "via", "2001:db8:100::ff");
    spoofer = { ns: run.ns("spoof"), ipv6: "2001:db8:100::66" };
  }
  let outsider: Domain["outsider"];
  if (opts.outsider) {
    run.add("out");
    run.link("out", "eth0", "r6", "out0");
    run.addr("out", "eth0", "2001:db8:bad::1/64");
    run.addr("r6", "out0", "2001:db8:bad::ff/64");
    run.route("out", "default", "via", "2001:db8:bad::ff");
    outsider = { ns: run.ns("out"), ipv6: "2001:db8:bad::1" };
  }

  const r4 = run.add("r4");
  run.forwarding("r4");
  run.bridge("r4", "br0");
  run.addr("r4", "br0", "192.0.2.254/24");

  const teps: TepSite[] = [];
  for (const i of [1, 2]) {
    const name = `tep${i}`;
    const ns = run.add(name);
    run.forwarding(name);
    const linkIpv6 = `2001:db8:ff0${i}::1`;
    run.link(name, "eth0", "r6", `t${i}`);
    run.addr(name, "eth0", `${linkIpv6}/64`);
    run.addr("r6", `t${i}`, `2001:db8:ff0${i}::ff/64`);
    run.route(name, "default", "via", `2001:db8:ff0${i}::ff`);
    const ipv6 = `2001:db8:ffff::${i}`;
    run.route("r6", `${ipv6}/128`, "via", linkIpv6);
    const ipv4 = `192.0.2.${i}`;
    run.link(name, "eth1", "r4", `t${i}`);
    run.enslave("r4", `t${i}`, "br0");
    run.addr(name, "eth1", `${ipv4}/24`);
    run.route(name, "default", "via", "192.0.2.254");
    teps.push({ name, ns, ipv6, linkIpv6, ipv4 });
  }
  const back = opts.returnVia === "tep1" ? teps[0] : teps[1];
  run.route("r4", "198.51.100.0/24", "via", back.ipv4);

  const z = run.add("z");
  run.link("z", "eth0", "r4", "z0");
  run.addr("z", "eth0", "203.0.113.5/24");
  run.addr("r4", "z0", "203.0.113.1/24");
  run.route("z", "default", "via", "203.0.113.1");

  return {
    run,
    pool: "198.51.100.0/24",
    clientPrefix: "2001:db8:100::/48",
    tepPrefix: "2001:db8:ffff::/48",
    server: { ns: srv, ipv6: "2001:db8:1::1", port: 3653 },
    clients,
    teps,
    spoofer,
    outsider,
    z: { ns: z, ipv4: "203.0.113.5" },
    r6,
    r4,
  };
}
