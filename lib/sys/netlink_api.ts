/**
 * The rtnetlink seam: what the TEP and client shells ask of the kernel's routing tables. The
 * real implementation is {@link Rtnetlink} (`rtnetlink.ts`), the in-memory one
 * {@link FakeNetlink} (`fake_netlink.ts`). Failures are `SysError`s with the kernel's errno
 * (`EEXIST`, `ENODEV`, `ESRCH`, `EADDRNOTAVAIL`, `EPERM`...); bad arguments (an unparsable
 * address, a too-long interface name) throw `TypeError`.
 *
 * @module
 */

import type { IpFamily } from "./ip_text.ts";
import type { AddressInfo } from "./rtnl_address.ts";
import type { LinkChange, LinkInfo } from "./rtnl_link.ts";
import type { RouteInfo, RouteType } from "./rtnl_route.ts";

export type { AddressInfo, IpFamily, LinkChange, LinkInfo, RouteInfo, RouteType };

/** An address to add or delete, as `ip addr add <address>/<prefixLength> dev <dev>`. */
export interface AddressSpec {
  /** Interface name. */
  dev: string;
  /** IPv4 or IPv6 address text. */
  address: string;
  /** Prefix length in bits. */
  prefixLength: number;
  /** Peer address of a point-to-point link (`peer` in `ip addr`). */
  peer?: string;
  /** IPv6: skip duplicate address detection (`nodad`), usable at once. */
  noDad?: boolean;
}

/** A route to add, replace or delete, as `ip route`. */
export interface RouteSpec {
  /** Destination prefix (`"10.1.0.0/16"`, `"2001:db8::1/128"`, a bare host) or `"default"`. */
  dst: string;
  /** Family, needed only for `"default"` without a gateway. */
  family?: IpFamily;
  /** Output interface name. */
  dev?: string;
  /** Next hop address. */
  gateway?: string;
  /** Routing table (default 254, main). */
  table?: number;
  /** Metric. */
  metric?: number;
  /** Route type (default `"unicast"`). */
  type?: RouteType;
  /** RTPROT_* value (default 3, boot, as `ip route`). */
  protocol?: number;
  /** RT_SCOPE_* value (default as `ip route`). */
  scope?: number;
  /** Preferred source address (`src` in `ip route`). */
  src?: string;
}

/** An address with its interface name. */
export interface AddressEntry extends AddressInfo {
  /** Interface name. */
  dev: string;
}

/** A route with its output interface name (if it has one). */
export interface RouteEntry extends RouteInfo {
  /** Output interface name. */
  dev: string | undefined;
}

/** Filter for {@link NetlinkApi.listAddresses}. */
export interface AddressFilter {
  /** Only this family. */
  family?: IpFamily;
  /** Only this interface. */
  dev?: string;
}

/** Filter for {@link NetlinkApi.listRoutes}. */
export interface RouteFilter {
  /** Only this family. */
  family?: IpFamily;
  /** Only this table (default: all tables). */
  table?: number;
  /** Only routes out of this interface. */
  dev?: string;
}

/** Links, addresses and routes of the current network namespace. */
export interface NetlinkApi {
  /** Index of a link; `SysError` ENODEV if there is none. */
  linkIndex(name: string): Promise<number>;
  /** One link; `SysError` ENODEV if there is none. */
  getLink(name: string): Promise<LinkInfo>;
  /** Every link. */
  listLinks(): Promise<LinkInfo[]>;
  /** Bring a link up or down and/or set its MTU. */
  setLink(name: string, change: LinkChange): Promise<void>;
  /** Delete a link (for instance a stale TUN). */
  deleteLink(name: string): Promise<void>;
  /** Add an address; `SysError` EEXIST if present. */
  addAddress(spec: AddressSpec): Promise<void>;
  /** Delete an address; `SysError` EADDRNOTAVAIL if absent. */
  deleteAddress(spec: AddressSpec): Promise<void>;
  /** Addresses, optionally filtered. */
  listAddresses(filter?: AddressFilter): Promise<AddressEntry[]>;
  /** Add a route; `SysError` EEXIST if present. */
  addRoute(spec: RouteSpec): Promise<void>;
  /** Add or overwrite a route. */
  replaceRoute(spec: RouteSpec): Promise<void>;
  /** Delete a route; `SysError` ESRCH if absent. */
  deleteRoute(spec: RouteSpec): Promise<void>;
  /** Routes of every table (or one), optionally filtered. */
  listRoutes(filter?: RouteFilter): Promise<RouteEntry[]>;
  /** Release the socket. */
  close(): void;
}
