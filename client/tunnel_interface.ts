/**
 * The client's 4over6 interface (the DTI): a TUN carrying IPv4 only, configured over rtnetlink.
 *
 * - {@link TunnelInterface.prepare}, once the TUN exists: `disable_ipv6=1` (written before the
 *   link goes up, so the kernel never gives it a link-local address or sends IPv6 into it), and
 *   the MTU = tunnel MTU (path MTU − 40, protocol.md §4.3).
 * - {@link TunnelInterface.up} on `configure`: link up, the leased IPv4 as /32 (§2.10), the
 *   routes (`default` or `--route` blocks) out of the interface with the lease as preferred
 *   source. A route that already exists belongs to someone else: it is left alone, logged, and
 *   not removed later.
 * - {@link TunnelInterface.down} on `deconfigure`: the routes it added, the address, link down.
 *   Missing pieces are not errors (the operator may have removed them).
 * - {@link cleanupInterface}: `dstm-client cleanup` removes an interface a killed client left.
 *
 * @module
 */
import { type Cidr4, formatCidr4, formatIpv4 } from "../lib/addr/mod.ts";
import type { NetlinkApi, RouteSpec } from "../lib/sys/mod.ts";
import { SysError } from "../lib/sys/mod.ts";
import type { Logger } from "../lib/log/logger.ts";

/** What {@link TunnelInterface} needs from the system. */
export interface InterfaceDeps {
  /** rtnetlink (the real one, or `FakeNetlink` in tests). */
  readonly net: NetlinkApi;
  /** Write a kernel parameter by its `/proc/sys/...` path. */
  readonly writeSysctl: (path: string, value: string) => void;
  /** Logger. */
  readonly log: Logger;
}

/** What `ctl status` shows about the interface. */
export interface InterfaceStatus {
  /** Interface name. */
  readonly name: string;
  /** The address on it, if any. */
  readonly ipv4: string | undefined;
  /** The MTU set. */
  readonly mtu: number;
  /** Routes this client added. */
  readonly routes: string[];
  /** Routes that already existed and were left alone. */
  readonly foreignRoutes: string[];
}

function routeSpec(dev: string, block: Cidr4, src: string): RouteSpec {
  return block.prefix === 0
    ? { dst: "default", family: 4, dev, src }
    : { dst: formatCidr4(block), dev, src };
}

function isErrno(e: unknown, ...codes: string[]): boolean {
  return e instanceof SysError && codes.includes(e.code);
}

/** The client's TUN interface; see the module documentation. */
export class TunnelInterface {
  /** Interface name. */
  readonly name: string;
  readonly #d: InterfaceDeps;
  #ipv4: number | undefined;
  #mtu = 0;
  #routes: Cidr4[] = [];
  #foreign: Cidr4[] = [];

  /** The interface `name` (the TUN must exist before {@link prepare}). */
  constructor(name: string, deps: InterfaceDeps) {
    this.name = name;
    this.#d = deps;
  }

  /** Turn IPv6 off on the interface and set its MTU (before it goes up). */
  async prepare(mtu: number): Promise<void> {
    this.#d.writeSysctl(`/proc/sys/net/ipv6/conf/${this.name}/disable_ipv6`, "1");
    await this.#d.net.setLink(this.name, { mtu });
    this.#mtu = mtu;
  }

  /** Bring the lease up: link up, `ipv4`/32, routes. Throws {@link SysError}. */
  async up(ipv4: number, routes: readonly Cidr4[]): Promise<void> {
    const net = this.#d.net;
    const addr = formatIpv4(ipv4);
    await net.setLink(this.name, { up: true });
    try {
      await net.addAddress({ dev: this.name, address: addr, prefixLength: 32 });
    } catch (e) {
      if (!isErrno(e, "EEXIST")) throw e;
    }
    this.#ipv4 = ipv4;
    for (const block of routes) {
      try {
        await net.addRoute(routeSpec(this.name, block, addr));
        this.#routes.push(block);
      } catch (e) {
        if (!isErrno(e, "EEXIST")) throw e;
        this.#foreign.push(block);
        this.#d.log.warn("interface.route-exists", {
          route: formatCidr4(block),
          note: "an existing route was left alone; IPv4 to it does not use DSTM",
        });
      }
    }
    this.#d.log.info("interface.up", {
      interface: this.name,
      ipv4: addr,
      mtu: this.#mtu,
      routes: this.#routes.map(formatCidr4).join(" "),
    });
  }

  /** Take the lease down: the routes added, the address, link down. Never throws on "gone". */
  async down(): Promise<void> {
    const net = this.#d.net;
    const ipv4 = this.#ipv4;
    const addr = ipv4 === undefined ? undefined : formatIpv4(ipv4);
    for (const block of this.#routes) {
      try {
        await net.deleteRoute(routeSpec(this.name, block, addr ?? "0.0.0.0"));
      } catch (e) {
        if (!isErrno(e, "ESRCH", "ENODEV", "ENETDOWN")) this.#warn("route", e);
      }
    }
    this.#routes = [];
    this.#foreign = [];
    if (addr !== undefined) {
      try {
        await net.deleteAddress({ dev: this.name, address: addr, prefixLength: 32 });
      } catch (e) {
        if (!isErrno(e, "EADDRNOTAVAIL", "ENODEV")) this.#warn("address", e);
      }
    }
    this.#ipv4 = undefined;
    try {
      await net.setLink(this.name, { up: false });
    } catch (e) {
      if (!isErrno(e, "ENODEV")) this.#warn("link", e);
    }
    this.#d.log.info("interface.down", { interface: this.name, ipv4: addr });
  }

  /** Set the MTU (a Packet Too Big lowered the tunnel MTU). */
  async setMtu(mtu: number): Promise<void> {
    await this.#d.net.setLink(this.name, { mtu });
    this.#mtu = mtu;
  }

  /** A snapshot for `ctl status`. */
  status(): InterfaceStatus {
    return {
      name: this.name,
      ipv4: this.#ipv4 === undefined ? undefined : formatIpv4(this.#ipv4),
      mtu: this.#mtu,
      routes: this.#routes.map(formatCidr4),
      foreignRoutes: this.#foreign.map(formatCidr4),
    };
  }

  #warn(what: string, e: unknown): void {
    this.#d.log.warn("interface.remove-failed", {
      what,
      error: e instanceof Error ? e.message : String(e),
    });
  }
}

/**
 * Remove the interface `name` a killed client left behind (its routes and address go with it).
 * Returns true if there was one.
 */
export async function cleanupInterface(net: NetlinkApi, name: string): Promise<boolean> {
  try {
    await net.getLink(name);
  } catch (e) {
    if (isErrno(e, "ENODEV")) return false;
    throw e;
  }
  await net.deleteLink(name);
  return true;
}
