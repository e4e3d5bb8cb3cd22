/**
 * Validation of {@link AddressSpec}/{@link RouteSpec} text into wire requests, and the
 * operation descriptions used in `SysError` messages. Shared by the real and the fake netlink
 * so both reject the same arguments (with `TypeError`) and describe failures alike.
 *
 * @module
 */

import { formatIp, type IpFamily, parseIp, parsePrefix } from "./ip_text.ts";
import { IFA_F } from "./netlink_constants.ts";
import type { AddressSpec, RouteSpec } from "./netlink_api.ts";
import type { AddressRequest } from "./rtnl_address.ts";
import type { LinkChange } from "./rtnl_link.ts";
import { type RouteRequest, routeTypeNumber } from "./rtnl_route.ts";

/** Longest interface name (IFNAMSIZ - 1). */
export const IFNAME_MAX = 15;

/** Throw `TypeError` unless `name` is a valid Linux interface name. */
export function checkIfName(name: string): void {
  if (
    typeof name !== "string" || name.length === 0 || name.length > IFNAME_MAX ||
    name === "." || name === ".." || /[\s/:\0]/.test(name)
  ) {
    throw new TypeError(`Cannot use interface name ${JSON.stringify(name)}: invalid`);
  }
}

function checkU32(what: string, v: number | undefined, max = 0xffffffff): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > max)) {
    throw new TypeError(`Cannot use ${what} ${v}: out of range`);
  }
}

/** `ip`-style text of an address spec: `"10.0.0.1/24 dev tun0"`. */
export function describeAddress(spec: AddressSpec): string {
  const peer = spec.peer ? ` peer ${spec.peer}` : "";
  return `${spec.address}/${spec.prefixLength}${peer} dev ${spec.dev}`;
}

/** `ip`-style text of a route spec: `"10.1.0.0/16 via 10.0.0.254 dev tun0 table 100"`. */
export function describeRoute(spec: RouteSpec): string {
  let s = spec.type && spec.type !== "unicast" ? `${spec.type} ${spec.dst}` : spec.dst;
  if (spec.gateway) s += ` via ${spec.gateway}`;
  if (spec.dev) s += ` dev ${spec.dev}`;
  if (spec.table !== undefined) s += ` table ${spec.table}`;
  if (spec.metric !== undefined) s += ` metric ${spec.metric}`;
  if (spec.src) s += ` src ${spec.src}`;
  return s;
}

/** `ip`-style text of a link change: `"tun0 up mtu 1400"`. */
export function describeLinkChange(name: string, change: LinkChange): string {
  let s = name;
  if (change.up !== undefined) s += change.up ? " up" : " down";
  if (change.mtu !== undefined) s += ` mtu ${change.mtu}`;
  return s;
}

/** Parsed, validated address spec. */
export interface ParsedAddress {
  /** 4 or 6. */
  family: IpFamily;
  /** The wire request (index still to be filled in). */
  request: AddressRequest;
}

/** Validate an address spec; throws `TypeError` on bad text. */
export function parseAddressSpec(spec: AddressSpec, index: number): ParsedAddress {
  checkIfName(spec.dev);
  const local = parseIp(spec.address);
  if (!local) throw new TypeError(`Cannot parse address ${JSON.stringify(spec.address)}`);
  const max = local.family === 4 ? 32 : 128;
  if (!Number.isInteger(spec.prefixLength) || spec.prefixLength < 0 || spec.prefixLength > max) {
    throw new TypeError(`Cannot use prefix length ${spec.prefixLength}: out of range`);
  }
  let peer: Uint8Array | undefined;
  if (spec.peer !== undefined) {
    const p = parseIp(spec.peer);
    if (!p || p.family !== local.family) {
      throw new TypeError(`Cannot parse peer address ${JSON.stringify(spec.peer)}`);
    }
    peer = p.bytes;
  }
  return {
    family: local.family,
    request: {
      index,
      local: local.bytes,
      prefixLength: spec.prefixLength,
      peer,
      flags: spec.noDad ? IFA_F.NODAD : 0,
    },
  };
}

/** Parsed, validated route spec. */
export interface ParsedRoute {
  /** 4 or 6. */
  family: IpFamily;
  /** Destination as `address/length` with host bits cleared, or `"default"`. */
  dstText: string;
  /** The wire request (oif still to be filled in). */
  request: RouteRequest;
}

function clearHostBits(bytes: Uint8Array, len: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, len - 8 * i));
    out[i] &= keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

/** Validate a route spec; throws `TypeError` on bad text or values. */
export function parseRouteSpec(spec: RouteSpec): ParsedRoute {
  if (spec.dev !== undefined) checkIfName(spec.dev);
  checkU32("table", spec.table);
  checkU32("metric", spec.metric);
  checkU32("protocol", spec.protocol, 255);
  checkU32("scope", spec.scope, 255);
  const gw = spec.gateway !== undefined ? parseIp(spec.gateway) : undefined;
  if (gw === null) throw new TypeError(`Cannot parse gateway ${JSON.stringify(spec.gateway)}`);
  const src = spec.src !== undefined ? parseIp(spec.src) : undefined;
  if (src === null) throw new TypeError(`Cannot parse source ${JSON.stringify(spec.src)}`);
  let family: IpFamily;
  let dst: Uint8Array;
  let dstLength: number;
  if (spec.dst === "default") {
    const f = spec.family ?? gw?.family ?? src?.family;
    if (f === undefined) throw new TypeError("Cannot use route default: family unknown");
    family = f;
    dst = new Uint8Array(f === 4 ? 4 : 16);
    dstLength = 0;
  } else {
    const p = parsePrefix(spec.dst);
    if (!p) throw new TypeError(`Cannot parse route destination ${JSON.stringify(spec.dst)}`);
    family = p.family;
    dst = clearHostBits(p.bytes, p.prefixLength);
    dstLength = p.prefixLength;
    if (dst.some((b, i) => b !== p.bytes[i])) {
      throw new TypeError(`Cannot use route destination ${spec.dst}: host bits set`);
    }
  }
  if (spec.family !== undefined && spec.family !== family) {
    throw new TypeError(`Cannot use route ${spec.dst}: not an IPv${spec.family} prefix`);
  }
  if ((gw && gw.family !== family) || (src && src.family !== family)) {
    throw new TypeError(`Cannot use route ${spec.dst}: mixed address families`);
  }
  let type: number | undefined;
  if (spec.type !== undefined) {
    type = routeTypeNumber(spec.type);
    if (type < 0) throw new TypeError(`Cannot use route type ${JSON.stringify(spec.type)}`);
  }
  const dstText = dstLength === 0 ? "default" : `${formatIp(dst)}/${dstLength}`;
  return {
    family,
    dstText,
    request: {
      dst,
      dstLength,
      table: spec.table ?? 254,
      type,
      protocol: spec.protocol,
      scope: spec.scope,
      gateway: gw?.bytes,
      priority: spec.metric,
      prefsrc: src?.bytes,
    },
  };
}
