/**
 * rtnetlink link messages (`struct ifinfomsg` + IFLA_* attributes, `linux/rtnetlink.h`):
 * requests to set, read, dump and delete links, and the decoder of the kernel's RTM_NEWLINK
 * answers. Pure code: writers fill a caller's buffer and return the length (0 if it does not
 * fit); the parser never throws.
 *
 * @module
 */

import { HOST_LE } from "./linux_constants.ts";
import { IFF, IFLA, NL, OPERSTATE, RTEXT_FILTER, RTM } from "./netlink_constants.ts";
import {
  attrString,
  attrU32,
  type NetlinkParseReason,
  NetlinkWriter,
  parseAttributes,
} from "./netlink_message.ts";

/** sizeof(struct ifinfomsg) */
export const IFINFOMSG_LEN = 16;

/** A link as the kernel reports it. */
export interface LinkInfo {
  /** Interface index. */
  index: number;
  /** Interface name. */
  name: string;
  /** IFF_* flags. */
  flags: number;
  /** IFF_UP is set (administratively up). */
  up: boolean;
  /** MTU in bytes (0 if not reported). */
  mtu: number;
  /** ARPHRD_* link type (65534 = none, as for TUN). */
  linkType: number;
  /** Driver kind from IFLA_INFO_KIND (`"tun"`, `"veth"`), if reported. */
  kind: string | undefined;
  /** RFC 2863 operational state (`"UP"`, `"DOWN"`, `"UNKNOWN"`). */
  operState: string;
}

/** What to change on a link; absent fields stay as they are. */
export interface LinkChange {
  /** Bring the link up (true) or down (false). */
  up?: boolean;
  /** New MTU in bytes. */
  mtu?: number;
}

function ifinfomsg(w: NetlinkWriter, index: number, flags: number, change: number): void {
  // ifi_family, pad, ifi_type, ifi_index, ifi_flags, ifi_change
  w.u8(0).u8(0).u16(0).u32(index).u32(flags).u32(change);
}

/** RTM_NEWLINK on an existing link: set up/down and/or the MTU (as `ip link set`). */
export function writeLinkSet(
  out: Uint8Array,
  seq: number,
  index: number,
  change: LinkChange,
): number {
  const w = new NetlinkWriter(out).begin(RTM.NEWLINK, NL.F_REQUEST | NL.F_ACK, seq);
  const flags = change.up === true ? IFF.UP : 0;
  const mask = change.up === undefined ? 0 : IFF.UP;
  ifinfomsg(w, index, flags, mask);
  if (change.mtu !== undefined) w.attrU32(IFLA.MTU, change.mtu);
  return w.finish();
}

/** RTM_GETLINK for one link by name (answered by one RTM_NEWLINK, then the ack). */
export function writeLinkGet(out: Uint8Array, seq: number, name: string): number {
  const w = new NetlinkWriter(out).begin(RTM.GETLINK, NL.F_REQUEST | NL.F_ACK, seq);
  ifinfomsg(w, 0, 0, 0);
  w.attrU32(IFLA.EXT_MASK, RTEXT_FILTER.VF | RTEXT_FILTER.SKIP_STATS);
  w.attrString(IFLA.IFNAME, name);
  return w.finish();
}

/** RTM_GETLINK dump of every link. */
export function writeLinkDump(out: Uint8Array, seq: number): number {
  const w = new NetlinkWriter(out).begin(RTM.GETLINK, NL.F_REQUEST | NL.F_DUMP, seq);
  ifinfomsg(w, 0, 0, 0);
  w.attrU32(IFLA.EXT_MASK, RTEXT_FILTER.VF | RTEXT_FILTER.SKIP_STATS);
  return w.finish();
}

/** RTM_DELLINK of the link with this index (as `ip link del`). */
export function writeLinkDelete(out: Uint8Array, seq: number, index: number): number {
  const w = new NetlinkWriter(out).begin(RTM.DELLINK, NL.F_REQUEST | NL.F_ACK, seq);
  ifinfomsg(w, index, 0, 0);
  return w.finish();
}

/** Result of {@link parseLink}. */
export type LinkResult = { ok: true; link: LinkInfo } | { ok: false; reason: NetlinkParseReason };

/** Decode the payload of an RTM_NEWLINK message. */
export function parseLink(payload: Uint8Array): LinkResult {
  if (payload.length < IFINFOMSG_LEN) return { ok: false, reason: "truncated" };
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const linkType = dv.getUint16(2, HOST_LE);
  const index = dv.getInt32(4, HOST_LE);
  const flags = dv.getUint32(8, HOST_LE);
  const parsed = parseAttributes(payload.subarray(IFINFOMSG_LEN));
  if (!parsed.ok) return parsed;
  const a = parsed.attrs;
  let kind: string | undefined;
  const info = a.get(IFLA.LINKINFO);
  if (info) {
    const nested = parseAttributes(info);
    if (nested.ok) kind = attrString(nested.attrs.get(IFLA.INFO_KIND));
  }
  const op = a.get(IFLA.OPERSTATE);
  return {
    ok: true,
    link: {
      index,
      name: attrString(a.get(IFLA.IFNAME)) ?? "",
      flags,
      up: (flags & IFF.UP) !== 0,
      mtu: attrU32(a.get(IFLA.MTU)) ?? 0,
      linkType,
      kind,
      operState: op && op.length > 0 ? (OPERSTATE[op[0]] ?? "UNKNOWN") : "UNKNOWN",
    },
  };
}
