/**
 * Raw IPv6 sockets (`socket(AF_INET6, SOCK_RAW, protocol)`, RFC 3542 §3) for the IPv6 side of
 * the client data plane.
 *
 * With protocol 4 (IPIP) a receive returns the inner IPv4 packet: the kernel has reassembled
 * the IPv6 fragments and stripped the IPv6 header and extension headers; {@link Raw6Socket.from}
 * holds the outer source address. A send of an IPv4 packet to a `sockaddr_in6` makes the
 * kernel prepend the IPv6 header (source = the bound address, next header 4, the configured hop
 * limit) and fragment it when it exceeds the path MTU. With protocol 58 and an ICMP6_FILTER the
 * same class receives ICMPv6 error messages.
 *
 * Calls return numbers (`-errno`, `-EAGAIN` when nothing is waiting) and allocate nothing.
 *
 * @module
 */

import { Errno } from "./errno.ts";
import { parseIpv6 } from "./ip_text.ts";
import { type Libc, libc } from "./libc.ts";
import { HOST_LE, LINUX } from "./linux_constants.ts";
import { checkIfName } from "./netlink_spec.ts";
import { SysError } from "./sys_error.ts";

/** sizeof(struct sockaddr_in6) */
export const SOCKADDR_IN6_LEN = 28;

/** IPV6_MTU_DISCOVER choices (`linux/in6.h`). */
export type PmtuDiscover = "dont" | "want" | "do" | "probe";

const PMTU: Record<PmtuDiscover, number> = {
  dont: LINUX.IPV6_PMTUDISC_DONT,
  want: LINUX.IPV6_PMTUDISC_WANT,
  do: LINUX.IPV6_PMTUDISC_DO,
  probe: LINUX.IPV6_PMTUDISC_PROBE,
};

/** How to open a raw IPv6 socket. */
export interface Raw6Options {
  /** IPv6 next-header value to send and receive (4 = IPv4-in-IPv6, 58 = ICMPv6). */
  protocol: number;
  /** Bind to this local IPv6 address: the source of every send, the only destination received. */
  local?: string;
  /** Bind to this interface (SO_BINDTODEVICE). */
  device?: string;
  /** Hop limit of sent packets (IPV6_UNICAST_HOPS); default 64 (RFC 2473 §6.3 for routers). */
  hopLimit?: number;
  /**
   * Path MTU discovery (IPV6_MTU_DISCOVER). Default `"want"`: the kernel fragments a packet
   * larger than the path MTU (at the source, as IPv6 requires) and learns from Packet Too Big.
   * `"do"` makes oversized sends fail with EMSGSIZE instead.
   */
  pmtuDiscover?: PmtuDiscover;
  /** ICMPv6 only: the ICMPv6 types to receive (ICMP6_FILTER); default: all. */
  icmpTypes?: readonly number[];
  /** O_NONBLOCK; default true. */
  nonBlocking?: boolean;
  /** SO_RCVBUF in bytes (the kernel doubles it); default: system default. */
  receiveBuffer?: number;
}

function setInt(c: Libc, fd: number, level: number, name: number, v: number, op: string): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, HOST_LE);
  if (c.setsockopt(fd, level, name, b, 4) < 0) throw new SysError(op, c.errno());
}

/** Write `sockaddr_in6` for `addr` (16 bytes) into `out` (28 bytes); port, flow and scope 0. */
export function writeSockaddrIn6(out: Uint8Array, addr: Uint8Array): void {
  out.fill(0);
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint16(0, LINUX.AF_INET6, HOST_LE);
  out.set(addr, 8);
}

/** An open raw IPv6 socket. */
export class Raw6Socket {
  /** The socket fd (for a poll set). */
  readonly fd: number;
  /** The IPv6 next-header value it carries. */
  readonly protocol: number;
  /** Source address of the last packet received (a view into the receive sockaddr). */
  readonly from: Uint8Array;
  readonly #c: Libc;
  readonly #rxAddr = new Uint8Array(SOCKADDR_IN6_LEN);
  readonly #rxLen = new Uint8Array(4);
  readonly #rxLenView: DataView;
  readonly #txAddr = new Uint8Array(SOCKADDR_IN6_LEN);
  readonly #txDst: Uint8Array;
  #open = true;

  private constructor(c: Libc, fd: number, protocol: number) {
    this.#c = c;
    this.fd = fd;
    this.protocol = protocol;
    this.from = this.#rxAddr.subarray(8, 24);
    this.#rxLenView = new DataView(this.#rxLen.buffer);
    writeSockaddrIn6(this.#txAddr, new Uint8Array(16));
    this.#txDst = this.#txAddr.subarray(8, 24);
  }

  /** Open, configure and bind; throws {@link SysError} (or `TypeError` for bad options). */
  static open(options: Raw6Options, c: Libc = libc()): Raw6Socket {
    const local = options.local !== undefined ? parseIpv6(options.local) : undefined;
    if (local === null) throw new TypeError(`Cannot parse IPv6 address ${options.local}`);
    if (options.device !== undefined) checkIfName(options.device);
    const what = `raw IPv6 socket (protocol ${options.protocol}${
      options.local ? `, ${options.local}` : ""
    })`;
    let type = LINUX.SOCK_RAW | LINUX.SOCK_CLOEXEC;
    if (options.nonBlocking ?? true) type |= LINUX.SOCK_NONBLOCK;
    const fd = c.socket(LINUX.AF_INET6, type, options.protocol);
    if (fd < 0) throw new SysError(`open ${what}`, c.errno());
    try {
      setInt(
        c,
        fd,
        LINUX.IPPROTO_IPV6,
        LINUX.IPV6_UNICAST_HOPS,
        options.hopLimit ?? 64,
        `set hop limit on ${what}`,
      );
      setInt(
        c,
        fd,
        LINUX.IPPROTO_IPV6,
        LINUX.IPV6_MTU_DISCOVER,
        PMTU[options.pmtuDiscover ?? "want"],
        `set MTU discovery on ${what}`,
      );
      if (options.receiveBuffer !== undefined) {
        setInt(
          c,
          fd,
          LINUX.SOL_SOCKET,
          LINUX.SO_RCVBUF,
          options.receiveBuffer,
          `set receive buffer on ${what}`,
        );
      }
      if (options.icmpTypes !== undefined) {
        // struct icmp6_filter: a set bit blocks that type (RFC 3542 §3.2).
        const filter = new Uint32Array(8).fill(0xffffffff);
        for (const t of options.icmpTypes) filter[t >> 5] &= ~(1 << (t & 31));
        const b = new Uint8Array(filter.buffer);
        if (c.setsockopt(fd, LINUX.IPPROTO_ICMPV6, LINUX.ICMP6_FILTER, b, 32) < 0) {
          throw new SysError(`set ICMPv6 filter on ${what}`, c.errno());
        }
      }
      if (options.device !== undefined) {
        const name = new TextEncoder().encode(options.device + "\0");
        if (c.setsockopt(fd, LINUX.SOL_SOCKET, LINUX.SO_BINDTODEVICE, name, name.length) < 0) {
          throw new SysError(`bind ${what} to device ${options.device}`, c.errno());
        }
      }
      if (local) {
        const sa = new Uint8Array(SOCKADDR_IN6_LEN);
        writeSockaddrIn6(sa, local);
        if (c.bind(fd, sa, SOCKADDR_IN6_LEN) < 0) {
          const e = c.errno();
          throw new SysError(
            `bind ${what}`,
            e,
            e === Errno.EADDRNOTAVAIL
              ? "address not assigned here (or still tentative)"
              : undefined,
          );
        }
      }
    } catch (e) {
      c.close(fd);
      throw e;
    }
    return new Raw6Socket(c, fd, options.protocol);
  }

  /**
   * Receive one packet into `buf`: its length (the payload after the IPv6 header chain), or
   * `-errno` (`-EAGAIN` when none is waiting). The source is in {@link from}.
   */
  recv(buf: Uint8Array): number {
    this.#rxLenView.setUint32(0, SOCKADDR_IN6_LEN, HOST_LE);
    const n = this.#c.recvfrom(this.fd, buf, buf.length, 0, this.#rxAddr, this.#rxLen);
    return n >= 0 ? n : -this.#c.errno();
  }

  /** Send the first `len` bytes of `buf` to `to` (16 bytes): `len`, or `-errno`. */
  send(buf: Uint8Array, len: number, to: Uint8Array): number {
    this.#txDst.set(to);
    const n = this.#c.sendto(this.fd, buf, len, 0, this.#txAddr, SOCKADDR_IN6_LEN);
    return n >= 0 ? n : -this.#c.errno();
  }

  /** Close the socket. Idempotent. */
  close(): void {
    if (this.#open) this.#c.close(this.fd);
    this.#open = false;
  }
}

/** A raw socket carrying IPv4-in-IPv6 (protocol 4) bound to `local` (the client's address). */
export function openIpipSocket(
  options: Omit<Raw6Options, "protocol" | "icmpTypes">,
  c: Libc = libc(),
): Raw6Socket {
  return Raw6Socket.open({ ...options, protocol: LINUX.IPPROTO_IPIP }, c);
}

/**
 * A raw ICMPv6 socket receiving only error messages (types 1-4: Destination Unreachable,
 * Packet Too Big, Time Exceeded, Parameter Problem). Each packet starts at the ICMPv6 type.
 */
export function openIcmpv6ErrorSocket(
  options: Omit<Raw6Options, "protocol" | "icmpTypes"> = {},
  c: Libc = libc(),
): Raw6Socket {
  return Raw6Socket.open(
    { ...options, protocol: LINUX.IPPROTO_ICMPV6, icmpTypes: [1, 2, 3, 4] },
    c,
  );
}
