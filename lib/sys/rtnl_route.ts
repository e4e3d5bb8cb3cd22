/**
 * rtnetlink route messages (`struct rtmsg` + RTA_* attributes, `linux/rtnetlink.h`): add,
 * replace, delete and dump requests, and the decoder of RTM_NEWROUTE answers. Defaults follow
 * `ip route` so that the requests match its bytes. Pure code: writers fill a caller's buffer
 * and return the length (0 if it does not fit); the parser never throws.
 *
 * @module
 */

import { AF, NL, RT_SCOPE, RT_TABLE, RTA, RTM, RTN_NAMES, RTPROT } from "./netlink_constants.ts";
import {
  attrU32,
  type NetlinkParseReason,
  NetlinkWriter,
  parseAttributes,
} from "./netlink_message.ts";
import { formatIp, type IpFamily } from "./ip_text.ts";

/** sizeof(struct rtmsg) */
export const RTMSG_LEN = 12;

/** Route types the sys layer creates or reports (RTN_* names, as `ip route` prints them). */
export type RouteType =
  | "unspec"
  | "unicast"
  | "local"
  | "broadcast"
  | "anycast"
  | "multicast"
  | "blackhole"
  | "unreachable"
  | "prohibit"
  | "throw"
  | "nat"
  | "xresolve";

/** RTN_* number of a route type name; -1 if unknown. */
export function routeTypeNumber(type: RouteType): number {
  return RTN_NAMES.indexOf(type);
}

/** A route request in wire form. */
export interface RouteRequest {
  /** 4 or 16 bytes: destination prefix address. */
  dst: Uint8Array;
  /** Destination prefix length (0 = default route, no RTA_DST). */
  dstLength: number;
  /** Routing table (254 = main); above 255 goes in RTA_TABLE. */
  table: number;
  /** RTN_* type (default unicast, or unspec for delete). */
  type?: number;
  /** RTPROT_* (default boot as `ip route`, or unspec for delete). */
  protocol?: number;
  /** RT_SCOPE_* (default as `ip route`: link for an IPv4 unicast route without gateway). */
  scope?: number;
  /** 4 or 16 bytes: next hop. */
  gateway?: Uint8Array;
  /** Output interface index. */
  oif?: number;
  /** Metric (RTA_PRIORITY). */
  priority?: number;
  /** Preferred source address (RTA_PREFSRC). */
  prefsrc?: Uint8Array;
}

/** A route as the kernel reports it. */
export interface RouteInfo {
  /** 4 or 6. */
  family: IpFamily;
  /** Destination prefix, e.g. `"10.1.0.0/16"`, or `"default"`. */
  dst: string;
  /** Routing table. */
  table: number;
  /** Route type name. */
  type: RouteType;
  /** RTPROT_* value. */
  protocol: number;
  /** RT_SCOPE_* value. */
  scope: number;
  /** Next hop, if any. */
  gateway: string | undefined;
  /** Output interface index, if any. */
  oif: number | undefined;
  /** Metric, if any. */
  metric: number | undefined;
  /** Preferred source, if any. */
  prefsrc: string | undefined;
}

/**
 * RTM_NEWROUTE (`"add"` fails with EEXIST if present, `"replace"` creates or overwrites) or
 * RTM_DELROUTE (`"delete"`). Attribute order: RTA_DST, RTA_TABLE, RTA_GATEWAY, RTA_PRIORITY,
 * RTA_PREFSRC, RTA_OIF.
 */
export function writeRouteChange(
  out: Uint8Array,
  seq: number,
  op: "add" | "replace" | "delete",
  req: RouteRequest,
): number {
  const del = op === "delete";
  let flags = NL.F_REQUEST | NL.F_ACK;
  if (op === "add") flags |= NL.F_EXCL | NL.F_CREATE;
  if (op === "replace") flags |= NL.F_CREATE | NL.F_REPLACE;
  const w = new NetlinkWriter(out).begin(del ? RTM.DELROUTE : RTM.NEWROUTE, flags, seq);
  const v4 = req.dst.length === 4;
  const type = req.type ?? (del ? 0 : 1);
  let scope = req.scope;
  if (scope === undefined) {
    if (del) scope = RT_SCOPE.NOWHERE;
    else if (type === 2) scope = RT_SCOPE.HOST;
    else if (v4 && type === 1 && !req.gateway) scope = RT_SCOPE.LINK;
    else scope = RT_SCOPE.UNIVERSE;
  }
  const protocol = req.protocol ?? (del ? RTPROT.UNSPEC : RTPROT.BOOT);
  // rtm_family, rtm_dst_len, rtm_src_len, rtm_tos, rtm_table, rtm_protocol, rtm_scope,
  // rtm_type, rtm_flags
  w.u8(v4 ? AF.INET : AF.INET6).u8(req.dstLength).u8(0).u8(0);
  w.u8(req.table > 255 ? RT_TABLE.UNSPEC : req.table).u8(protocol).u8(scope).u8(type);
  w.u32(0);
  if (req.dstLength > 0) w.attr(RTA.DST, req.dst);
  if (req.table > 255) w.attrU32(RTA.TABLE, req.table);
  if (req.gateway) w.attr(RTA.GATEWAY, req.gateway);
  if (req.priority !== undefined) w.attrU32(RTA.PRIORITY, req.priority);
  if (req.prefsrc) w.attr(RTA.PREFSRC, req.prefsrc);
  if (req.oif !== undefined) w.attrU32(RTA.OIF, req.oif);
  return w.finish();
}

/** RTM_GETROUTE dump of one family (4 or 6) or both (0), every table. */
export function writeRouteDump(out: Uint8Array, seq: number, family: IpFamily | 0): number {
  const w = new NetlinkWriter(out).begin(RTM.GETROUTE, NL.F_REQUEST | NL.F_DUMP, seq);
  const af = family === 4 ? AF.INET : family === 6 ? AF.INET6 : AF.UNSPEC;
  w.u8(af).u8(0).u8(0).u8(0).u8(0).u8(0).u8(0).u8(0).u32(0);
  return w.finish();
}

/** Result of {@link parseRoute}. */
export type RouteResult =
  | { ok: true; route: RouteInfo }
  | { ok: false; reason: NetlinkParseReason | "bad-family" };

/** Decode the payload of an RTM_NEWROUTE message. */
export function parseRoute(payload: Uint8Array): RouteResult {
  if (payload.length < RTMSG_LEN) return { ok: false, reason: "truncated" };
  const af = payload[0];
  if (af !== AF.INET && af !== AF.INET6) return { ok: false, reason: "bad-family" };
  const family: IpFamily = af === AF.INET ? 4 : 6;
  const alen = family === 4 ? 4 : 16;
  const parsed = parseAttributes(payload.subarray(RTMSG_LEN));
  if (!parsed.ok) return parsed;
  const a = parsed.attrs;
  const ip = (v: Uint8Array | undefined) =>
    v !== undefined && v.length === alen ? formatIp(v) : undefined;
  const dstLength = payload[1];
  const dstAddr = ip(a.get(RTA.DST));
  let dst: string;
  if (dstLength === 0) dst = "default";
  else if (dstAddr === undefined) return { ok: false, reason: "truncated" };
  else dst = `${dstAddr}/${dstLength}`;
  return {
    ok: true,
    route: {
      family,
      dst,
      table: attrU32(a.get(RTA.TABLE)) ?? payload[4],
      type: (RTN_NAMES[payload[7]] ?? "unspec") as RouteType,
      protocol: payload[5],
      scope: payload[6],
      gateway: ip(a.get(RTA.GATEWAY)),
      oif: attrU32(a.get(RTA.OIF)),
      metric: attrU32(a.get(RTA.PRIORITY)),
      prefsrc: ip(a.get(RTA.PREFSRC)),
    },
  };
}
