/**
 * {@link NetlinkApi} over a real `AF_NETLINK`/`NETLINK_ROUTE` socket (RFC 3549), through the
 * FFI {@link Libc}. Requests are acknowledged (`NLM_F_ACK`), matched by sequence number, and a
 * kernel refusal becomes a {@link SysError} carrying the errno and the kernel's extended-ack
 * text. Calls are synchronous system calls that take microseconds; the methods return promises
 * so that the fake and any future implementation share the interface.
 *
 * @module
 */

import { Errno } from "./errno.ts";
import type { IpFamily } from "./ip_text.ts";
import { type Libc, libc } from "./libc.ts";
import { HOST_LE, LINUX } from "./linux_constants.ts";
import type {
  AddressEntry,
  AddressFilter,
  AddressSpec,
  NetlinkApi,
  RouteEntry,
  RouteFilter,
  RouteSpec,
} from "./netlink_api.ts";
import { NL, RTM } from "./netlink_constants.ts";
import { type NetlinkMessage, parseNetlinkAck, parseNetlinkMessages } from "./netlink_message.ts";
import {
  checkIfName,
  describeAddress,
  describeLinkChange,
  describeRoute,
  parseAddressSpec,
  parseRouteSpec,
} from "./netlink_spec.ts";
import { parseAddress, writeAddressChange, writeAddressDump } from "./rtnl_address.ts";
import {
  type LinkChange,
  type LinkInfo,
  parseLink,
  writeLinkDelete,
  writeLinkDump,
  writeLinkGet,
  writeLinkSet,
} from "./rtnl_link.ts";
import { parseRoute, writeRouteChange, writeRouteDump } from "./rtnl_route.ts";
import { SysError } from "./sys_error.ts";

/** How long to wait for the kernel's answer before failing with ETIMEDOUT. */
const RECV_TIMEOUT_MS = 5000;
/** Receive buffer: the kernel sends dump batches of up to 32 KiB. */
const RX_SIZE = 65536;

/** Run `f` now; its result or exception becomes a settled promise. */
function settle<T>(f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e);
  }
}

/** A netlink route socket. Open with {@link Rtnetlink.open}; close when done. */
export class Rtnetlink implements NetlinkApi {
  readonly #c: Libc;
  #fd: number;
  #seq: number;
  readonly #tx = new Uint8Array(1024);
  readonly #rx = new Uint8Array(RX_SIZE);
  readonly #kernel = new Uint8Array(12);

  private constructor(c: Libc, fd: number) {
    this.#c = c;
    this.#fd = fd;
    this.#seq = (Date.now() / 1000) >>> 0;
    // struct sockaddr_nl of the kernel: family AF_NETLINK, pid 0, groups 0.
    new DataView(this.#kernel.buffer).setUint16(0, NL.AF_NETLINK, HOST_LE);
  }

  /** Open a route socket in the current network namespace; throws {@link SysError}. */
  static open(c: Libc = libc()): Rtnetlink {
    const fd = c.socket(NL.AF_NETLINK, LINUX.SOCK_RAW | LINUX.SOCK_CLOEXEC, NL.NETLINK_ROUTE);
    if (fd < 0) throw new SysError("open netlink route socket", c.errno());
    const one = new Uint8Array(4);
    new DataView(one.buffer).setInt32(0, 1, HOST_LE);
    // Best effort: extended acks carry the kernel's error text; capped acks are shorter.
    c.setsockopt(fd, NL.SOL_NETLINK, NL.NETLINK_EXT_ACK, one, 4);
    c.setsockopt(fd, NL.SOL_NETLINK, NL.NETLINK_CAP_ACK, one, 4);
    const tv = new Uint8Array(16);
    const dv = new DataView(tv.buffer);
    dv.setBigInt64(0, BigInt(Math.floor(RECV_TIMEOUT_MS / 1000)), HOST_LE);
    dv.setBigInt64(8, BigInt((RECV_TIMEOUT_MS % 1000) * 1000), HOST_LE);
    c.setsockopt(fd, LINUX.SOL_SOCKET, LINUX.SO_RCVTIMEO, tv, 16);
    return new Rtnetlink(c, fd);
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }

  /**
   * Send the request in `#tx[0..len)` and read answers until its ack (or NLMSG_DONE for a
   * dump), passing every other message with the same sequence number to `collect`. Returns
   * true when the kernel flagged the dump as interrupted (NLM_F_DUMP_INTR: retry it).
   */
  #exchange(op: string, len: number, collect?: (m: NetlinkMessage) => void): boolean {
    if (len === 0) throw new RangeError(`Cannot encode ${op}: request too large`);
    const c = this.#c;
    const seq = new DataView(this.#tx.buffer).getUint32(8, HOST_LE);
    if (this.#fd < 0) throw new SysError(op, Errno.EBADF);
    for (;;) {
      const n = c.sendto(this.#fd, this.#tx, len, 0, this.#kernel, 12);
      if (n >= 0) break;
      const e = c.errno();
      if (e !== Errno.EINTR) throw new SysError(op, e);
    }
    let interrupted = false;
    for (;;) {
      const n = c.recvfrom(this.#fd, this.#rx, this.#rx.length, LINUX.MSG_TRUNC, null, null);
      if (n < 0) {
        const e = c.errno();
        if (e === Errno.EINTR) continue;
        throw new SysError(op, e === Errno.EAGAIN ? Errno.ETIMEDOUT : e);
      }
      if (n > this.#rx.length) throw new SysError(op, Errno.EMSGSIZE, "answer truncated");
      const parsed = parseNetlinkMessages(this.#rx.subarray(0, n));
      if (!parsed.ok) throw new SysError(op, Errno.EIO, `bad netlink answer: ${parsed.reason}`);
      for (const m of parsed.messages) {
        if (m.seq !== seq) continue; // a late answer to an earlier, timed-out request
        if (m.type === NL.NLMSG_ERROR) {
          const ack = parseNetlinkAck(m);
          if (!ack.ok) throw new SysError(op, Errno.EIO, `bad netlink ack: ${ack.reason}`);
          if (ack.ack.errno !== 0) throw new SysError(op, ack.ack.errno, ack.ack.message);
          return interrupted;
        }
        if (m.type === NL.NLMSG_DONE) {
          if (m.payload.length >= 4) {
            const err = new DataView(m.payload.buffer, m.payload.byteOffset, 4)
              .getInt32(0, HOST_LE);
            if (err < 0) throw new SysError(op, -err);
          }
          return interrupted || (m.flags & NL.F_DUMP_INTR) !== 0;
        }
        if (m.type === NL.NLMSG_NOOP) continue;
        if (m.flags & NL.F_DUMP_INTR) interrupted = true;
        collect?.(m);
      }
    }
  }

  #linkByName(name: string, op: string): LinkInfo {
    checkIfName(name);
    let found: LinkInfo | undefined;
    this.#exchange(op, writeLinkGet(this.#tx, this.#nextSeq(), name), (m) => {
      if (m.type !== RTM.NEWLINK) return;
      const r = parseLink(m.payload);
      if (r.ok) found = r.link;
    });
    if (!found) throw new SysError(op, Errno.ENODEV);
    return found;
  }

  /** Run a dump, retrying (up to 3 times) when the kernel reports it was interrupted. */
  #dump<T>(
    op: string,
    write: (seq: number) => number,
    type: number,
    decode: (payload: Uint8Array) => T | undefined,
  ): T[] {
    for (let attempt = 1;; attempt++) {
      const out: T[] = [];
      const interrupted = this.#exchange(op, write(this.#nextSeq()), (m) => {
        if (m.type !== type) return;
        const v = decode(m.payload);
        if (v !== undefined) out.push(v);
      });
      if (!interrupted || attempt === 3) return out;
    }
  }

  #dumpLinks(op: string): LinkInfo[] {
    return this.#dump(op, (seq) => writeLinkDump(this.#tx, seq), RTM.NEWLINK, (p) => {
      const r = parseLink(p);
      return r.ok ? r.link : undefined;
    });
  }

  #names(op: string): Map<number, string> {
    return new Map(this.#dumpLinks(op).map((l) => [l.index, l.name]));
  }

  /** {@inheritDoc NetlinkApi.linkIndex} */
  linkIndex(name: string): Promise<number> {
    return settle(() => this.#linkByName(name, `get link ${name}`).index);
  }

  /** {@inheritDoc NetlinkApi.getLink} */
  getLink(name: string): Promise<LinkInfo> {
    return settle(() => this.#linkByName(name, `get link ${name}`));
  }

  /** {@inheritDoc NetlinkApi.listLinks} */
  listLinks(): Promise<LinkInfo[]> {
    return settle(() => this.#dumpLinks("list links"));
  }

  /** {@inheritDoc NetlinkApi.setLink} */
  setLink(name: string, change: LinkChange): Promise<void> {
    return settle(() => {
      const op = `set link ${describeLinkChange(name, change)}`;
      if (change.mtu !== undefined && (!Number.isInteger(change.mtu) || change.mtu < 0)) {
        throw new TypeError(`Cannot use MTU ${change.mtu}: out of range`);
      }
      const index = this.#linkByName(name, op).index;
      this.#exchange(op, writeLinkSet(this.#tx, this.#nextSeq(), index, change));
    });
  }

  /** {@inheritDoc NetlinkApi.deleteLink} */
  deleteLink(name: string): Promise<void> {
    return settle(() => {
      const op = `delete link ${name}`;
      const index = this.#linkByName(name, op).index;
      this.#exchange(op, writeLinkDelete(this.#tx, this.#nextSeq(), index));
    });
  }

  #address(op: "add" | "delete", spec: AddressSpec): Promise<void> {
    return settle(() => {
      const what = `${op} address ${describeAddress(spec)}`;
      const parsed = parseAddressSpec(spec, 0);
      parsed.request.index = this.#linkByName(spec.dev, what).index;
      this.#exchange(what, writeAddressChange(this.#tx, this.#nextSeq(), op, parsed.request));
    });
  }

  /** {@inheritDoc NetlinkApi.addAddress} */
  addAddress(spec: AddressSpec): Promise<void> {
    return this.#address("add", spec);
  }

  /** {@inheritDoc NetlinkApi.deleteAddress} */
  deleteAddress(spec: AddressSpec): Promise<void> {
    return this.#address("delete", spec);
  }

  /** {@inheritDoc NetlinkApi.listAddresses} */
  listAddresses(filter: AddressFilter = {}): Promise<AddressEntry[]> {
    return settle(() => this.#listAddresses(filter));
  }

  #listAddresses(filter: AddressFilter): AddressEntry[] {
    const op = "list addresses";
    const names = this.#names(op);
    let only: number | undefined;
    if (filter.dev !== undefined) only = this.#linkByName(filter.dev, op).index;
    const family: IpFamily | 0 = filter.family ?? 0;
    return this.#dump(op, (seq) => writeAddressDump(this.#tx, seq, family), RTM.NEWADDR, (p) => {
      const r = parseAddress(p);
      if (!r.ok) return undefined;
      const a = r.address;
      if (only !== undefined && a.index !== only) return undefined;
      if (filter.family !== undefined && a.family !== filter.family) return undefined;
      return { ...a, dev: names.get(a.index) ?? `if${a.index}` };
    });
  }

  #route(op: "add" | "replace" | "delete", spec: RouteSpec): Promise<void> {
    return settle(() => {
      const what = `${op} route ${describeRoute(spec)}`;
      const parsed = parseRouteSpec(spec);
      if (spec.dev !== undefined) parsed.request.oif = this.#linkByName(spec.dev, what).index;
      this.#exchange(what, writeRouteChange(this.#tx, this.#nextSeq(), op, parsed.request));
    });
  }

  /** {@inheritDoc NetlinkApi.addRoute} */
  addRoute(spec: RouteSpec): Promise<void> {
    return this.#route("add", spec);
  }

  /** {@inheritDoc NetlinkApi.replaceRoute} */
  replaceRoute(spec: RouteSpec): Promise<void> {
    return this.#route("replace", spec);
  }

  /** {@inheritDoc NetlinkApi.deleteRoute} */
  deleteRoute(spec: RouteSpec): Promise<void> {
    return this.#route("delete", spec);
  }

  /** {@inheritDoc NetlinkApi.listRoutes} */
  listRoutes(filter: RouteFilter = {}): Promise<RouteEntry[]> {
    return settle(() => this.#listRoutes(filter));
  }

  #listRoutes(filter: RouteFilter): RouteEntry[] {
    const op = "list routes";
    const names = this.#names(op);
    let only: number | undefined;
    if (filter.dev !== undefined) only = this.#linkByName(filter.dev, op).index;
    const family: IpFamily | 0 = filter.family ?? 0;
    return this.#dump(op, (seq) => writeRouteDump(this.#tx, seq, family), RTM.NEWROUTE, (p) => {
      const r = parseRoute(p);
      if (!r.ok) return undefined;
      const rt = r.route;
      if (filter.family !== undefined && rt.family !== filter.family) return undefined;
      if (filter.table !== undefined && rt.table !== filter.table) return undefined;
      if (only !== undefined && rt.oif !== only) return undefined;
      return { ...rt, dev: rt.oif !== undefined ? names.get(rt.oif) : undefined };
    });
  }

  /** {@inheritDoc NetlinkApi.close} */
  close(): void {
    if (this.#fd >= 0) this.#c.close(this.#fd);
    this.#fd = -1;
  }
}
