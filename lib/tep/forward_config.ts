/**
 * Configuration of the TEP forwarding core (`forward.ts`, `icmp_relay.ts`): the TEP's own
 * addresses, the domain's IPv4 pool and IPv6 client prefixes, the outer header, MTU, hairpinning,
 * the ICMP policy and the reassembly bounds (protocol brief §4, §6 rows 1, 2, 5, 6, 11, 12).
 *
 * {@link resolveForwardConfig} takes text or binary forms, applies the defaults, checks every
 * field and returns a frozen {@link ForwardConfig}, or throws a `ConfigError` that lists every
 * issue with its path (the TEP binary turns it into exit code 78).
 *
 * @module
 */
import {
  type Cidr4,
  type Cidr6,
  contains4,
  contains6,
  formatCidr4,
  formatCidr6,
  formatIpv4,
  formatIpv6,
  parseCidr4,
  parseCidr6,
  parseIpv4,
  parseIpv6,
} from "../addr/mod.ts";
import { ConfigError, type ConfigIssue } from "../config/config_error.ts";
import { REASSEMBLER_DEFAULTS, type ReassemblerOptions } from "./reassembly.ts";

/** The ICMP policy (brief §4.4, §6 row 12). Every generated ICMP message is rate-limited. */
export interface IcmpPolicyInput {
  /** Send ICMPv4 Time Exceeded (11/0) when a TTL runs out (RFC 1812). Default true. */
  readonly timeExceeded?: boolean;
  /** Send ICMPv4 3/4 with the tunnel MTU for DF packets too big for the tunnel (RFC 2473 §7.2). Default true. */
  readonly fragmentationNeeded?: boolean;
  /** Relay ICMPv6 errors about tunnel packets to the IPv4 source (RFC 2473 §8). Default true. */
  readonly relayTunnelErrors?: boolean;
  /**
   * Send ICMPv6 1/5 ("source address failed ingress/egress policy", RFC 7596 §6.2) to the
   * encapsulator when a decapsulated packet fails the binding check. Default false: drop
   * silently (RFC 7040 §6, RFC 4213 §3.6; brief §4.4 recommendation).
   */
  readonly bindingFailure?: boolean;
  /**
   * Send ICMPv4 3/1 to the IPv4 source when a packet for a pool address is dropped because the
   * query for it failed, was refused or timed out (RFC 7596 §6.2 MAY). Default false.
   */
  readonly unreachableOnQueryFailure?: boolean;
  /** Generated ICMP messages per second, all kinds together (> 0). Default 100. */
  readonly ratePerSec?: number;
  /** Burst of generated ICMP messages (>= 1). Default 50. */
  readonly burst?: number;
}

/** Input of {@link resolveForwardConfig}: addresses as text or in binary form. */
export interface ForwardConfigInput {
  /** The TEP's tunnel address (TEPV6ADDR): outer source when encapsulating, the only accepted outer destination. */
  readonly tunnelIpv6: string | Uint8Array;
  /** The TEP's IPv4 address: source of the ICMPv4 messages it generates. */
  readonly tepIpv4: string | number;
  /** The domain's IPv4 pool, e.g. `198.51.100.0/24`. */
  readonly pool: string | Cidr4;
  /** The domain's IPv6 client prefixes: outer sources allowed to send tunnel packets (ingress filtering). */
  readonly clientPrefixes: readonly (string | Cidr6)[];
  /** IPv6 path MTU towards clients until a Packet Too Big says otherwise (1280..65575). Default 1500. */
  readonly ipv6Mtu?: number;
  /** Outer hop limit (brief §4.1: 64 on routers). Default 64. */
  readonly hopLimit?: number;
  /** Fixed outer Traffic Class. Default 0. */
  readonly trafficClass?: number;
  /** Copy the inner TOS into the outer Traffic Class instead. Default false. */
  readonly copyTos?: boolean;
  /** Outer Flow Label. Default 0. */
  readonly flowLabel?: number;
  /** Tunnel Encapsulation Limit option to add (RFC 2473 §4.1.1), or absent for none (the default). */
  readonly encapLimit?: number;
  /** Hairpin pool-to-pool traffic (decapsulate, then encapsulate to the other client; RFC 7596). Default true. */
  readonly hairpin?: boolean;
  /** ICMP policy. */
  readonly icmp?: IcmpPolicyInput;
  /** Most peers whose path MTU is remembered. Default 4096. */
  readonly maxMtuPeers?: number;
  /** How long a lowered path MTU is kept before trying the default again, ms (RFC 8201 §4: >= 5 min). Default 600 000. */
  readonly mtuAgeMs?: number;
  /** IPv6 fragment reassembly bounds. */
  readonly reassembly?: ReassemblerOptions;
}

/** The ICMP policy with defaults applied. */
export interface IcmpPolicy {
  readonly timeExceeded: boolean;
  readonly fragmentationNeeded: boolean;
  readonly relayTunnelErrors: boolean;
  readonly bindingFailure: boolean;
  readonly unreachableOnQueryFailure: boolean;
  readonly ratePerSec: number;
  readonly burst: number;
}

/** A checked configuration of the forwarding core (frozen). */
export interface ForwardConfig {
  /** TEPV6ADDR, 16 bytes. */
  readonly tunnelIpv6: Uint8Array;
  /** The TEP's IPv4 address. */
  readonly tepIpv4: number;
  /** The pool. */
  readonly pool: Cidr4;
  /** The client prefixes (at least one). */
  readonly clientPrefixes: readonly Cidr6[];
  readonly ipv6Mtu: number;
  readonly hopLimit: number;
  readonly trafficClass: number;
  readonly copyTos: boolean;
  readonly flowLabel: number;
  readonly encapLimit: number | undefined;
  readonly hairpin: boolean;
  readonly icmp: IcmpPolicy;
  readonly maxMtuPeers: number;
  readonly mtuAgeMs: number;
  readonly reassembly: ReassemblerOptions;
}

/** Defaults of {@link ForwardConfigInput}. */
export const FORWARD_CONFIG_DEFAULTS = Object.freeze({
  ipv6Mtu: 1500,
  hopLimit: 64,
  trafficClass: 0,
  copyTos: false,
  flowLabel: 0,
  hairpin: true,
  icmp: Object.freeze({
    timeExceeded: true,
    fragmentationNeeded: true,
    relayTunnelErrors: true,
    bindingFailure: false,
    unreachableOnQueryFailure: false,
    ratePerSec: 100,
    burst: 50,
  }),
  maxMtuPeers: 4096,
  mtuAgeMs: 600_000,
});

/** IPv6 minimum link MTU (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280;

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
}

/**
 * Check `input`, apply the defaults and return the frozen configuration.
 *
 * @throws {ConfigError} listing every issue (path and message) when the input is not valid.
 */
export function resolveForwardConfig(input: ForwardConfigInput): ForwardConfig {
  const issues: ConfigIssue[] = [];
  const bad = (path: string, message: string) => issues.push({ path, message });
  const d = FORWARD_CONFIG_DEFAULTS;

  let tunnelIpv6: Uint8Array | null = null;
  if (input.tunnelIpv6 instanceof Uint8Array) {
    if (input.tunnelIpv6.length !== 16) bad("tunnelIpv6", "not 16 bytes");
    else tunnelIpv6 = input.tunnelIpv6.slice();
  } else {
    const r = parseIpv6(input.tunnelIpv6);
    if (r.ok) tunnelIpv6 = r.value;
    else bad("tunnelIpv6", `not an IPv6 address (${r.reason})`);
  }
  if (tunnelIpv6 !== null && tunnelIpv6[0] === 0xff) bad("tunnelIpv6", "a multicast address");
  if (tunnelIpv6 !== null && tunnelIpv6.every((b) => b === 0)) {
    bad("tunnelIpv6", "the unspecified address");
  }

  let tepIpv4 = 0;
  if (typeof input.tepIpv4 === "number") {
    if (isInt(input.tepIpv4, 0, 0xffffffff)) tepIpv4 = input.tepIpv4;
    else bad("tepIpv4", "not an unsigned 32-bit integer");
  } else {
    const r = parseIpv4(input.tepIpv4);
    if (r.ok) tepIpv4 = r.value;
    else bad("tepIpv4", `not an IPv4 address (${r.reason})`);
  }

  let pool: Cidr4 = { network: 0, prefix: 32, mask: 0xffffffff };
  if (typeof input.pool === "string") {
    const r = parseCidr4(input.pool);
    if (r.ok) pool = r.value;
    else bad("pool", `not an IPv4 CIDR block (${r.reason})`);
  } else if (input.pool && typeof input.pool === "object") {
    pool = { network: input.pool.network, prefix: input.pool.prefix, mask: input.pool.mask };
    const okMask = isInt(pool.prefix, 0, 32) &&
      pool.mask === (pool.prefix === 0 ? 0 : (0xffffffff << (32 - pool.prefix)) >>> 0) &&
      isInt(pool.network, 0, 0xffffffff) && ((pool.network & pool.mask) >>> 0) === pool.network;
    if (!okMask) bad("pool", "inconsistent CIDR block");
  } else {
    bad("pool", "missing");
  }
  if (issues.length === 0 && contains4(pool, tepIpv4)) {
    bad("tepIpv4", `inside the pool ${formatCidr4(pool)} (RFC 2473 §4.1.2 loop)`);
  }

  const clientPrefixes: Cidr6[] = [];
  if (!Array.isArray(input.clientPrefixes) || input.clientPrefixes.length === 0) {
    bad("clientPrefixes", "at least one IPv6 prefix is required");
  } else {
    input.clientPrefixes.forEach((p, i) => {
      if (typeof p === "string") {
        const r = parseCidr6(p);
        if (r.ok) clientPrefixes.push(r.value);
        else bad(`clientPrefixes[${i}]`, `not an IPv6 CIDR block (${r.reason})`);
      } else if (p && p.network instanceof Uint8Array && p.network.length === 16) {
        if (isInt(p.prefix, 0, 128)) {
          clientPrefixes.push({ network: p.network.slice(), prefix: p.prefix });
        } else bad(`clientPrefixes[${i}]`, "prefix length not in 0..128");
      } else {
        bad(`clientPrefixes[${i}]`, "not an IPv6 CIDR block");
      }
    });
  }

  const num = (path: string, v: unknown, def: number, min: number, max: number): number => {
    if (v === undefined) return def;
    if (isInt(v, min, max)) return v;
    bad(path, `not an integer in ${min}..${max}`);
    return def;
  };
  const bool = (path: string, v: unknown, def: boolean): boolean => {
    if (v === undefined) return def;
    if (typeof v === "boolean") return v;
    bad(path, "not a boolean");
    return def;
  };
  const ipv6Mtu = num("ipv6Mtu", input.ipv6Mtu, d.ipv6Mtu, IPV6_MIN_MTU, 65575);
  const hopLimit = num("hopLimit", input.hopLimit, d.hopLimit, 1, 255);
  const trafficClass = num("trafficClass", input.trafficClass, d.trafficClass, 0, 255);
  const flowLabel = num("flowLabel", input.flowLabel, d.flowLabel, 0, 0xfffff);
  const encapLimit = input.encapLimit === undefined
    ? undefined
    : num("encapLimit", input.encapLimit, 4, 0, 255);
  const copyTos = bool("copyTos", input.copyTos, d.copyTos);
  const hairpin = bool("hairpin", input.hairpin, d.hairpin);
  const maxMtuPeers = num("maxMtuPeers", input.maxMtuPeers, d.maxMtuPeers, 1, 1 << 20);
  const mtuAgeMs = num("mtuAgeMs", input.mtuAgeMs, d.mtuAgeMs, 1, 2 ** 40);

  const ic = input.icmp ?? {};
  const rate = ic.ratePerSec ?? d.icmp.ratePerSec;
  if (typeof rate !== "number" || !(rate > 0) || !Number.isFinite(rate)) {
    bad("icmp.ratePerSec", "not a positive number");
  }
  const burst = ic.burst ?? d.icmp.burst;
  if (typeof burst !== "number" || !(burst >= 1) || !Number.isFinite(burst)) {
    bad("icmp.burst", "not a number >= 1");
  }
  const icmp: IcmpPolicy = Object.freeze({
    timeExceeded: bool("icmp.timeExceeded", ic.timeExceeded, d.icmp.timeExceeded),
    fragmentationNeeded: bool(
      "icmp.fragmentationNeeded",
      ic.fragmentationNeeded,
      d.icmp.fragmentationNeeded,
    ),
    relayTunnelErrors: bool(
      "icmp.relayTunnelErrors",
      ic.relayTunnelErrors,
      d.icmp.relayTunnelErrors,
    ),
    bindingFailure: bool("icmp.bindingFailure", ic.bindingFailure, d.icmp.bindingFailure),
    unreachableOnQueryFailure: bool(
      "icmp.unreachableOnQueryFailure",
      ic.unreachableOnQueryFailure,
      d.icmp.unreachableOnQueryFailure,
    ),
    ratePerSec: rate,
    burst,
  });

  const ra = input.reassembly ?? {};
  const reMax = ra.maxPacketBytes ?? REASSEMBLER_DEFAULTS.maxPacketBytes;
  if (!isInt(reMax, 1500, REASSEMBLER_DEFAULTS.maxPacketBytes)) {
    bad(
      "reassembly.maxPacketBytes",
      `not an integer in 1500..${REASSEMBLER_DEFAULTS.maxPacketBytes}`,
    );
  }
  const reBytes = ra.maxBytes ?? REASSEMBLER_DEFAULTS.maxBytes;
  if (!isInt(reBytes, typeof reMax === "number" ? reMax : 1500, 1 << 30)) {
    bad("reassembly.maxBytes", "not an integer from maxPacketBytes to 2^30");
  }
  for (
    const [k, min, max] of [
      ["maxDatagrams", 1, 1 << 20],
      ["blockSize", 8, 65536],
      ["maxFragmentsPerDatagram", 2, 1 << 16],
    ] as const
  ) {
    const v = ra[k];
    if (v !== undefined && !isInt(v, min, max)) {
      bad(`reassembly.${k}`, `not an integer in ${min}..${max}`);
    }
  }
  if (
    ra.timeoutMs !== undefined &&
    (typeof ra.timeoutMs !== "number" || !(ra.timeoutMs > 0) || !Number.isFinite(ra.timeoutMs))
  ) {
    bad("reassembly.timeoutMs", "not a positive number");
  }

  if (issues.length === 0 && tunnelIpv6 !== null) {
    for (const p of clientPrefixes) {
      if (contains6(p, tunnelIpv6)) {
        bad(
          "tunnelIpv6",
          `${formatIpv6(tunnelIpv6)} is inside the client prefix ${formatCidr6(p)}`,
        );
      }
    }
  }
  if (issues.length > 0 || tunnelIpv6 === null) throw new ConfigError(issues);
  return Object.freeze({
    tunnelIpv6,
    tepIpv4,
    pool: Object.freeze(pool),
    clientPrefixes: Object.freeze(clientPrefixes.map((p) => Object.freeze(p))),
    ipv6Mtu,
    hopLimit,
    trafficClass,
    copyTos,
    flowLabel,
    encapLimit,
    hairpin,
    icmp,
    maxMtuPeers,
    mtuAgeMs,
    reassembly: Object.freeze({ ...ra }),
  });
}

/** One line describing `config` for a startup log (`tep.forward.config ...`). */
export function describeForwardConfig(config: ForwardConfig): string {
  return [
    `tunnel=${formatIpv6(config.tunnelIpv6)}`,
    `ipv4=${formatIpv4(config.tepIpv4)}`,
    `pool=${formatCidr4(config.pool)}`,
    `clients=${config.clientPrefixes.map(formatCidr6).join(",")}`,
    `mtu=${config.ipv6Mtu}`,
    `hairpin=${config.hairpin}`,
  ].join(" ");
}
