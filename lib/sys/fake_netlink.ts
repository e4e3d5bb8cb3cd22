/**
 * In-memory {@link NetlinkApi} for unit tests of the shells: links, addresses and routes of one
 * pretend namespace, failing with the errno the kernel uses (checked against Linux 6.x in
 * `tests/sys/netlink_netns_test.ts`):
 *
 * - unknown interface: ENODEV; MTU outside 68..65535: EINVAL;
 * - address already on the interface (IPv4: same address and prefix length; IPv6: same
 *   address): EEXIST; deleting an absent address: EADDRNOTAVAIL;
 * - route with the same family, table, destination and metric: EEXIST; deleting an absent
 *   route: ESRCH; unicast route out of a link that is down: ENETDOWN; no device and no
 *   gateway: ENODEV; gateway not inside any local prefix: ENETUNREACH;
 * - {@link FakeNetlink.denyWrites}: every change fails with EPERM (as without CAP_NET_ADMIN).
 *
 * Like the kernel, bringing a link down or deleting it removes the routes through it, and
 * deleting the last IPv4 address of a link removes its IPv4 routes. Not modelled: the routes
 * the kernel adds by itself (prefix and local routes of an address), IPv6 link-local addresses.
 *
 * @module
 */

import { Errno } from "./errno.ts";
import { formatIp, type IpFamily, parseIp } from "./ip_text.ts";
import type {
  AddressEntry,
  AddressFilter,
  AddressSpec,
  NetlinkApi,
  RouteEntry,
  RouteFilter,
  RouteSpec,
} from "./netlink_api.ts";
import { IFF, RT_SCOPE, RTPROT } from "./netlink_constants.ts";
import {
  checkIfName,
  describeAddress,
  describeLinkChange,
  describeRoute,
  parseAddressSpec,
  parseRouteSpec,
} from "./netlink_spec.ts";
import type { LinkChange, LinkInfo } from "./rtnl_link.ts";
import type { RouteType } from "./rtnl_route.ts";
import { SysError } from "./sys_error.ts";

/** A link to create in the fake with {@link FakeNetlink.addLink}. */
export interface FakeLinkOptions {
  /** Driver kind reported in LinkInfo (default `"tun"`). */
  kind?: string;
  /** MTU (default 1500). */
  mtu?: number;
  /** Administratively up (default false, like a new TUN). */
  up?: boolean;
}

interface StoredAddress {
  index: number;
  family: IpFamily;
  bytes: Uint8Array;
  prefixLength: number;
  peer: string | undefined;
  flags: number;
}

function inPrefix(addr: Uint8Array, net: Uint8Array, len: number): boolean {
  if (addr.length !== net.length) return false;
  for (let bit = 0; bit < len; bit++) {
    const m = 0x80 >> (bit & 7);
    if ((addr[bit >> 3] & m) !== (net[bit >> 3] & m)) return false;
  }
  return true;
}

const ROUTE_TYPES: readonly RouteType[] = ["unicast", "local"];

/** One pretend network namespace. */
export class FakeNetlink implements NetlinkApi {
  /** When true, every change fails with EPERM (reads still work). */
  denyWrites = false;
  readonly #links = new Map<number, LinkInfo>();
  #addresses: StoredAddress[] = [];
  #routes: RouteEntry[] = [];
  #nextIndex = 2;
  #closed = false;

  /** A namespace with only `lo` (index 1, up). */
  constructor() {
    this.#links.set(1, {
      index: 1,
      name: "lo",
      flags: IFF.LOOPBACK | IFF.UP | IFF.RUNNING | IFF.LOWER_UP,
      up: true,
      mtu: 65536,
      linkType: 772,
      kind: undefined,
      operState: "UNKNOWN",
    });
  }

  /** Create a link (as opening a TUN would); returns its index. Throws EEXIST if taken. */
  addLink(name: string, options: FakeLinkOptions = {}): number {
    checkIfName(name);
    if (this.#find(name)) throw new SysError(`add link ${name}`, Errno.EEXIST);
    const index = this.#nextIndex++;
    const up = options.up ?? false;
    this.#links.set(index, {
      index,
      name,
      flags: (up ? IFF.UP : 0) | IFF.POINTOPOINT | IFF.NOARP | IFF.MULTICAST,
      up,
      mtu: options.mtu ?? 1500,
      linkType: 65534,
      kind: options.kind ?? "tun",
      operState: up ? "UNKNOWN" : "DOWN",
    });
    return index;
  }

  #find(name: string): LinkInfo | undefined {
    for (const l of this.#links.values()) if (l.name === name) return l;
    return undefined;
  }

  #link(name: string, op: string): LinkInfo {
    checkIfName(name);
    this.#check(op, false);
    const l = this.#find(name);
    if (!l) throw new SysError(op, Errno.ENODEV);
    return l;
  }

  #check(op: string, write: boolean): void {
    if (this.#closed) throw new SysError(op, Errno.EBADF);
    if (write && this.denyWrites) throw new SysError(op, Errno.EPERM);
  }

  #settle<T>(f: () => T): Promise<T> {
    try {
      return Promise.resolve(f());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #dropRoutes(index: number, family?: IpFamily): void {
    this.#routes = this.#routes.filter((r) =>
      r.oif !== index || (family !== undefined && r.family !== family)
    );
  }

  /** {@inheritDoc NetlinkApi.linkIndex} */
  linkIndex(name: string): Promise<number> {
    return this.#settle(() => this.#link(name, `get link ${name}`).index);
  }

  /** {@inheritDoc NetlinkApi.getLink} */
  getLink(name: string): Promise<LinkInfo> {
    return this.#settle(() => ({ ...this.#link(name, `get link ${name}`) }));
  }

  /** {@inheritDoc NetlinkApi.listLinks} */
  listLinks(): Promise<LinkInfo[]> {
    return this.#settle(() => {
      this.#check("list links", false);
      return [...this.#links.values()].map((l) => ({ ...l }));
    });
  }

  /** {@inheritDoc NetlinkApi.setLink} */
  setLink(name: string, change: LinkChange): Promise<void> {
    return this.#settle(() => {
      const op = `set link ${describeLinkChange(name, change)}`;
      const l = this.#link(name, op);
      this.#check(op, true);
      if (change.mtu !== undefined && (change.mtu < 68 || change.mtu > 65535)) {
        throw new SysError(op, Errno.EINVAL, "mtu out of range");
      }
      if (change.mtu !== undefined) l.mtu = change.mtu;
      if (change.up !== undefined) {
        l.up = change.up;
        l.flags = change.up ? l.flags | IFF.UP : l.flags & ~IFF.UP;
        l.operState = change.up ? "UNKNOWN" : "DOWN";
        if (!change.up) this.#dropRoutes(l.index);
      }
    });
  }

  /** {@inheritDoc NetlinkApi.deleteLink} */
  deleteLink(name: string): Promise<void> {
    return this.#settle(() => {
      const op = `delete link ${name}`;
      const l = this.#link(name, op);
      this.#check(op, true);
      this.#links.delete(l.index);
      this.#addresses = this.#addresses.filter((a) => a.index !== l.index);
      this.#dropRoutes(l.index);
    });
  }

  /** {@inheritDoc NetlinkApi.addAddress} */
  addAddress(spec: AddressSpec): Promise<void> {
    return this.#settle(() => {
      const op = `add address ${describeAddress(spec)}`;
      const parsed = parseAddressSpec(spec, 0);
      const l = this.#link(spec.dev, op);
      this.#check(op, true);
      const { local, prefixLength } = parsed.request;
      const dup = this.#addresses.some((a) =>
        a.index === l.index && formatIp(a.bytes) === formatIp(local) &&
        (parsed.family === 6 || a.prefixLength === prefixLength)
      );
      if (dup) throw new SysError(op, Errno.EEXIST, "address already assigned");
      this.#addresses.push({
        index: l.index,
        family: parsed.family,
        bytes: local,
        prefixLength,
        peer: spec.peer !== undefined ? formatIp(parseIp(spec.peer)!.bytes) : undefined,
        flags: parsed.request.flags ?? 0,
      });
    });
  }

  /** {@inheritDoc NetlinkApi.deleteAddress} */
  deleteAddress(spec: AddressSpec): Promise<void> {
    return this.#settle(() => {
      const op = `delete address ${describeAddress(spec)}`;
      const parsed = parseAddressSpec(spec, 0);
      const l = this.#link(spec.dev, op);
      this.#check(op, true);
      const text = formatIp(parsed.request.local);
      const i = this.#addresses.findIndex((a) =>
        a.index === l.index && formatIp(a.bytes) === text &&
        a.prefixLength === parsed.request.prefixLength
      );
      if (i < 0) throw new SysError(op, Errno.EADDRNOTAVAIL, "address not found");
      this.#addresses.splice(i, 1);
      const v4Left = this.#addresses.some((a) => a.index === l.index && a.family === 4);
      if (parsed.family === 4 && !v4Left) this.#dropRoutes(l.index, 4);
    });
  }

  /** {@inheritDoc NetlinkApi.listAddresses} */
  listAddresses(filter: AddressFilter = {}): Promise<AddressEntry[]> {
    return this.#settle(() => {
      const op = "list addresses";
      this.#check(op, false);
      const only = filter.dev !== undefined ? this.#link(filter.dev, op).index : undefined;
      return this.#addresses
        .filter((a) => only === undefined || a.index === only)
        .filter((a) => filter.family === undefined || a.family === filter.family)
        .map((a) => {
          const dev = this.#links.get(a.index)!.name;
          return {
            index: a.index,
            family: a.family,
            address: formatIp(a.bytes),
            prefixLength: a.prefixLength,
            peer: a.peer,
            label: a.family === 4 ? dev : undefined,
            scope: RT_SCOPE.UNIVERSE,
            flags: a.flags,
            dev,
          };
        });
    });
  }

  #routeEntry(op: string, spec: RouteSpec): RouteEntry {
    const parsed = parseRouteSpec(spec);
    const req = parsed.request;
    const type: RouteType = spec.type ?? "unicast";
    let link: LinkInfo | undefined;
    if (spec.dev !== undefined) link = this.#link(spec.dev, op);
    if (req.gateway) {
      const gw = req.gateway;
      const cover = this.#addresses.find((a) =>
        (link === undefined || a.index === link.index) && inPrefix(gw, a.bytes, a.prefixLength)
      );
      if (!cover && !(parsed.family === 6 && link)) {
        throw new SysError(op, Errno.ENETUNREACH, "Nexthop has invalid gateway");
      }
      link ??= this.#links.get(cover!.index);
    }
    if (ROUTE_TYPES.includes(type)) {
      if (!link) throw new SysError(op, Errno.ENODEV);
      if (!link.up) throw new SysError(op, Errno.ENETDOWN, "Nexthop device is not up");
    }
    let scope = spec.scope;
    if (scope === undefined) {
      if (type === "local") scope = RT_SCOPE.HOST;
      else if (parsed.family === 4 && type === "unicast" && !req.gateway) scope = RT_SCOPE.LINK;
      else scope = RT_SCOPE.UNIVERSE;
    }
    return {
      family: parsed.family,
      dst: parsed.dstText,
      table: req.table,
      type,
      protocol: spec.protocol ?? RTPROT.BOOT,
      scope,
      gateway: req.gateway ? formatIp(req.gateway) : undefined,
      oif: link?.index,
      metric: spec.metric ?? (parsed.family === 6 ? 1024 : undefined),
      prefsrc: req.prefsrc ? formatIp(req.prefsrc) : undefined,
      dev: link?.name,
    };
  }

  #sameKey(a: RouteEntry, b: RouteEntry): boolean {
    return a.family === b.family && a.table === b.table && a.dst === b.dst &&
      (a.metric ?? 0) === (b.metric ?? 0);
  }

  /** {@inheritDoc NetlinkApi.addRoute} */
  addRoute(spec: RouteSpec): Promise<void> {
    return this.#settle(() => {
      const op = `add route ${describeRoute(spec)}`;
      this.#check(op, true);
      const r = this.#routeEntry(op, spec);
      if (this.#routes.some((x) => this.#sameKey(x, r))) throw new SysError(op, Errno.EEXIST);
      this.#routes.push(r);
    });
  }

  /** {@inheritDoc NetlinkApi.replaceRoute} */
  replaceRoute(spec: RouteSpec): Promise<void> {
    return this.#settle(() => {
      const op = `replace route ${describeRoute(spec)}`;
      this.#check(op, true);
      const r = this.#routeEntry(op, spec);
      const i = this.#routes.findIndex((x) => this.#sameKey(x, r));
      if (i >= 0) this.#routes[i] = r;
      else this.#routes.push(r);
    });
  }

  /** {@inheritDoc NetlinkApi.deleteRoute} */
  deleteRoute(spec: RouteSpec): Promise<void> {
    return this.#settle(() => {
      const op = `delete route ${describeRoute(spec)}`;
      this.#check(op, true);
      const parsed = parseRouteSpec(spec);
      const oif = spec.dev !== undefined ? this.#link(spec.dev, op).index : undefined;
      const gw = parsed.request.gateway ? formatIp(parsed.request.gateway) : undefined;
      const i = this.#routes.findIndex((r) =>
        r.family === parsed.family && r.dst === parsed.dstText &&
        r.table === parsed.request.table &&
        (spec.metric === undefined || r.metric === spec.metric) &&
        (oif === undefined || r.oif === oif) &&
        (gw === undefined || r.gateway === gw) &&
        (spec.type === undefined || r.type === spec.type) &&
        (spec.protocol === undefined || r.protocol === spec.protocol)
      );
      if (i < 0) throw new SysError(op, Errno.ESRCH);
      this.#routes.splice(i, 1);
    });
  }

  /** {@inheritDoc NetlinkApi.listRoutes} */
  listRoutes(filter: RouteFilter = {}): Promise<RouteEntry[]> {
    return this.#settle(() => {
      const op = "list routes";
      this.#check(op, false);
      const only = filter.dev !== undefined ? this.#link(filter.dev, op).index : undefined;
      return this.#routes
        .filter((r) => filter.family === undefined || r.family === filter.family)
        .filter((r) => filter.table === undefined || r.table === filter.table)
        .filter((r) => only === undefined || r.oif === only)
        .map((r) => ({ ...r }));
    });
  }

  /** {@inheritDoc NetlinkApi.close} */
  close(): void {
    this.#closed = true;
  }
}
