/**
 * rtnetlink address messages (`struct ifaddrmsg` + IFA_* attributes, `linux/if_addr.h`):
 * add, delete and dump requests, and the decoder of RTM_NEWADDR answers. Pure code: writers
 * fill a caller's buffer and return the length (0 if it does not fit); the parser never throws.
 *
 * @module
 */

import { HOST_LE } from "./linux_constants.ts";
import { AF, IFA, NL, RT_SCOPE, RTM } from "./netlink_constants.ts";
import {
  attrString,
  attrU32,
  type NetlinkParseReason,
  NetlinkWriter,
  parseAttributes,
} from "./netlink_message.ts";
import { formatIp, type IpFamily } from "./ip_text.ts";

/** sizeof(struct ifaddrmsg) */
export const IFADDRMSG_LEN = 8;

/** An address request in wire form. */
export interface AddressRequest {
  /** Interface index. */
  index: number;
  /** 4 or 16 bytes: the local address (IFA_LOCAL). */
  local: Uint8Array;
  /** Prefix length in bits. */
  prefixLength: number;
  /** Peer address of a point-to-point link (IFA_ADDRESS); defaults to `local`. */
  peer?: Uint8Array;
  /** IFA_F_* flags, e.g. IFA_F.NODAD. */
  flags?: number;
  /** RT_SCOPE_* (default universe). */
  scope?: number;
}

/** An address as the kernel reports it. */
export interface AddressInfo {
  /** Interface index. */
  index: number;
  /** 4 or 6. */
  family: IpFamily;
  /** The local address (IFA_LOCAL, or IFA_ADDRESS when there is no IFA_LOCAL). */
  address: string;
  /** Prefix length in bits. */
  prefixLength: number;
  /** Peer address when it differs from `address` (point-to-point). */
  peer: string | undefined;
  /** Interface label (IPv4), e.g. `"tun0"`. */
  label: string | undefined;
  /** RT_SCOPE_* value. */
  scope: number;
  /** IFA_F_* flags (the 32-bit IFA_FLAGS when present). */
  flags: number;
}

/**
 * RTM_NEWADDR (`"add"`, fails with EEXIST if present) or RTM_DELADDR (`"delete"`), as
 * `ip addr add|del`: IFA_LOCAL then IFA_ADDRESS.
 */
export function writeAddressChange(
  out: Uint8Array,
  seq: number,
  op: "add" | "delete",
  req: AddressRequest,
): number {
  const add = op === "add";
  const flags = NL.F_REQUEST | NL.F_ACK | (add ? NL.F_EXCL | NL.F_CREATE : 0);
  const w = new NetlinkWriter(out).begin(add ? RTM.NEWADDR : RTM.DELADDR, flags, seq);
  const family = req.local.length === 4 ? AF.INET : AF.INET6;
  const ifaFlags = req.flags ?? 0;
  w.u8(family).u8(req.prefixLength).u8(ifaFlags & 0xff).u8(req.scope ?? RT_SCOPE.UNIVERSE);
  w.u32(req.index);
  w.attr(IFA.LOCAL, req.local);
  w.attr(IFA.ADDRESS, req.peer ?? req.local);
  if (ifaFlags > 0xff) w.attrU32(IFA.FLAGS, ifaFlags);
  return w.finish();
}

/** RTM_GETADDR dump of one family (4 or 6) or both (0). */
export function writeAddressDump(out: Uint8Array, seq: number, family: IpFamily | 0): number {
  const w = new NetlinkWriter(out).begin(RTM.GETADDR, NL.F_REQUEST | NL.F_DUMP, seq);
  const af = family === 4 ? AF.INET : family === 6 ? AF.INET6 : AF.UNSPEC;
  w.u8(af).u8(0).u8(0).u8(0).u32(0);
  return w.finish();
}

/** Result of {@link parseAddress}. */
export type AddressResult =
  | { ok: true; address: AddressInfo }
  | { ok: false; reason: NetlinkParseReason | "bad-family" };

/** Decode the payload of an RTM_NEWADDR message. */
export function parseAddress(payload: Uint8Array): AddressResult {
  if (payload.length < IFADDRMSG_LEN) return { ok: false, reason: "truncated" };
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const af = payload[0];
  if (af !== AF.INET && af !== AF.INET6) return { ok: false, reason: "bad-family" };
  const family: IpFamily = af === AF.INET ? 4 : 6;
  const alen = family === 4 ? 4 : 16;
  const parsed = parseAttributes(payload.subarray(IFADDRMSG_LEN));
  if (!parsed.ok) return parsed;
  const a = parsed.attrs;
  const local = a.get(IFA.LOCAL);
  const addr = a.get(IFA.ADDRESS);
  const localOk = local !== undefined && local.length === alen;
  const addrOk = addr !== undefined && addr.length === alen;
  if (!localOk && !addrOk) return { ok: false, reason: "truncated" };
  const address = formatIp(localOk ? local : addr!);
  const peerText = localOk && addrOk ? formatIp(addr) : undefined;
  return {
    ok: true,
    address: {
      index: dv.getUint32(4, HOST_LE),
      family,
      address,
      prefixLength: payload[1],
      peer: peerText !== undefined && peerText !== address ? peerText : undefined,
      label: attrString(a.get(IFA.LABEL)),
      scope: payload[3],
      flags: attrU32(a.get(IFA.FLAGS)) ?? payload[2],
    },
  };
}
