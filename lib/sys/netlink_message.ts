/**
 * Netlink message framing (RFC 3549 §2.3.2, `linux/netlink.h`): the 16-byte `nlmsghdr`, the
 * 4-byte aligned `rtattr`/`nlattr` TLVs, and the `NLMSG_ERROR` acknowledgement with its
 * extended-ack TLVs. Pure code: {@link NetlinkWriter} writes into a caller's buffer, the
 * parsers return results and never throw on input. Integers are in host byte order.
 *
 * @module
 */

import { HOST_LE } from "./linux_constants.ts";
import { NL } from "./netlink_constants.ts";

/** Round `n` up to the netlink alignment (4). */
export function nlAlign(n: number): number {
  return (n + NL.ALIGNTO - 1) & ~(NL.ALIGNTO - 1);
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Builds one netlink message into a caller's buffer: header, fixed family header fields,
 * attributes (nested too), then {@link finish}. Running out of room sets a flag and `finish`
 * returns 0; nothing throws.
 */
export class NetlinkWriter {
  readonly #out: Uint8Array;
  readonly #dv: DataView;
  #pos = 0;
  #overflow = false;

  /** @param out the buffer to write into */
  constructor(out: Uint8Array) {
    this.#out = out;
    this.#dv = view(out);
  }

  #room(n: number): boolean {
    if (this.#overflow || this.#pos + n > this.#out.length) {
      this.#overflow = true;
      return false;
    }
    return true;
  }

  /** Start a message: header with length to be filled by {@link finish}. */
  begin(type: number, flags: number, seq: number, pid = 0): this {
    this.#pos = 0;
    this.#overflow = false;
    this.u32(0).u16(type).u16(flags).u32(seq).u32(pid);
    return this;
  }

  /** Append one byte. */
  u8(v: number): this {
    if (this.#room(1)) this.#dv.setUint8(this.#pos++, v);
    return this;
  }

  /** Append a host-order 16-bit value. */
  u16(v: number): this {
    if (this.#room(2)) {
      this.#dv.setUint16(this.#pos, v, HOST_LE);
      this.#pos += 2;
    }
    return this;
  }

  /** Append a host-order 32-bit value (signed values are written as their bit pattern). */
  u32(v: number): this {
    if (this.#room(4)) {
      this.#dv.setUint32(this.#pos, v >>> 0, HOST_LE);
      this.#pos += 4;
    }
    return this;
  }

  /** Append raw bytes. */
  bytes(b: Uint8Array): this {
    if (this.#room(b.length)) {
      this.#out.set(b, this.#pos);
      this.#pos += b.length;
    }
    return this;
  }

  /** Append zero bytes up to the 4-byte alignment. */
  pad(): this {
    const n = nlAlign(this.#pos) - this.#pos;
    if (this.#room(n)) {
      this.#out.fill(0, this.#pos, this.#pos + n);
      this.#pos += n;
    }
    return this;
  }

  /** Append an attribute holding `value`. */
  attr(type: number, value: Uint8Array): this {
    return this.u16(4 + value.length).u16(type).bytes(value).pad();
  }

  /** Append a 32-bit host-order attribute. */
  attrU32(type: number, v: number): this {
    return this.u16(8).u16(type).u32(v);
  }

  /** Append a NUL-terminated string attribute. */
  attrString(type: number, s: string): this {
    const b = new TextEncoder().encode(s);
    this.u16(4 + b.length + 1).u16(type).bytes(b).u8(0);
    return this.pad();
  }

  /** Open a nested attribute; pass the returned offset to {@link endNested}. */
  beginNested(type: number): number {
    const at = this.#pos;
    this.u16(0).u16(type | NL.NLA_F_NESTED);
    return at;
  }

  /** Close a nested attribute opened at `at`. */
  endNested(at: number): this {
    if (!this.#overflow) this.#dv.setUint16(at, this.#pos - at, HOST_LE);
    return this;
  }

  /** Write the total length into the header; returns it, or 0 if the buffer was too small. */
  finish(): number {
    if (this.#overflow || this.#pos < NL.HDRLEN) return 0;
    this.#dv.setUint32(0, this.#pos, HOST_LE);
    return this.#pos;
  }
}

/** One netlink message; `payload` is a view into the parsed buffer (after the header). */
export interface NetlinkMessage {
  /** nlmsg_type */
  type: number;
  /** nlmsg_flags */
  flags: number;
  /** nlmsg_seq */
  seq: number;
  /** nlmsg_pid */
  pid: number;
  /** Bytes after the 16-byte header, up to nlmsg_len. */
  payload: Uint8Array;
}

/** Why netlink bytes could not be parsed. */
export type NetlinkParseReason = "truncated" | "bad-length";

/** Result of {@link parseNetlinkMessages}. */
export type NetlinkMessagesResult =
  | { ok: true; messages: NetlinkMessage[] }
  | { ok: false; reason: NetlinkParseReason };

/** Split a datagram received from a netlink socket into its messages. */
export function parseNetlinkMessages(bytes: Uint8Array): NetlinkMessagesResult {
  const dv = view(bytes);
  const messages: NetlinkMessage[] = [];
  let off = 0;
  while (off < bytes.length) {
    if (bytes.length - off < NL.HDRLEN) return { ok: false, reason: "truncated" };
    const len = dv.getUint32(off, HOST_LE);
    if (len < NL.HDRLEN) return { ok: false, reason: "bad-length" };
    if (off + len > bytes.length) return { ok: false, reason: "truncated" };
    messages.push({
      type: dv.getUint16(off + 4, HOST_LE),
      flags: dv.getUint16(off + 6, HOST_LE),
      seq: dv.getUint32(off + 8, HOST_LE),
      pid: dv.getUint32(off + 12, HOST_LE),
      payload: bytes.subarray(off + NL.HDRLEN, off + len),
    });
    off += nlAlign(len);
  }
  return { ok: true, messages };
}

/** Attributes by type (nested flag masked off; the last of a repeated type wins). */
export type NetlinkAttributes = Map<number, Uint8Array>;

/** Result of {@link parseAttributes}. */
export type NetlinkAttributesResult =
  | { ok: true; attrs: NetlinkAttributes }
  | { ok: false; reason: NetlinkParseReason };

/** Parse a run of attributes (for instance what follows `ifinfomsg`). */
export function parseAttributes(bytes: Uint8Array): NetlinkAttributesResult {
  const dv = view(bytes);
  const attrs: NetlinkAttributes = new Map();
  let off = 0;
  while (off + 4 <= bytes.length) {
    const len = dv.getUint16(off, HOST_LE);
    const type = dv.getUint16(off + 2, HOST_LE) & NL.NLA_TYPE_MASK;
    if (len < 4) return { ok: false, reason: "bad-length" };
    if (off + len > bytes.length) return { ok: false, reason: "truncated" };
    attrs.set(type, bytes.subarray(off + 4, off + len));
    off += nlAlign(len);
  }
  return { ok: true, attrs };
}

/** Read a host-order u32 from the first 4 bytes of an attribute; undefined if too short. */
export function attrU32(value: Uint8Array | undefined): number | undefined {
  if (!value || value.length < 4) return undefined;
  return view(value).getUint32(0, HOST_LE);
}

/** Read a NUL-terminated string attribute; undefined if absent. */
export function attrString(value: Uint8Array | undefined): string | undefined {
  if (!value) return undefined;
  const nul = value.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? value : value.subarray(0, nul));
}

/** A decoded `NLMSG_ERROR`: `errno` 0 is a plain acknowledgement. */
export interface NetlinkAck {
  /** Positive errno, or 0 for success. */
  errno: number;
  /** Sequence number of the request it answers (from the echoed header). */
  requestSeq: number;
  /** The kernel's extended-ack text (NLMSGERR_ATTR_MSG), if any. */
  message: string | undefined;
}

/** Result of {@link parseNetlinkAck}. */
export type NetlinkAckResult = { ok: true; ack: NetlinkAck } | {
  ok: false;
  reason: NetlinkParseReason;
};

/**
 * Decode the payload of an `NLMSG_ERROR` message: `int error; struct nlmsghdr msg;` then the
 * rest of the request (unless `NLM_F_CAPPED`) and extended-ack TLVs (if `NLM_F_ACK_TLVS`).
 */
export function parseNetlinkAck(msg: NetlinkMessage): NetlinkAckResult {
  const p = msg.payload;
  if (p.length < 4 + NL.HDRLEN) return { ok: false, reason: "truncated" };
  const dv = view(p);
  const error = dv.getInt32(0, HOST_LE);
  const echoedLen = dv.getUint32(4, HOST_LE);
  const requestSeq = dv.getUint32(12, HOST_LE);
  let message: string | undefined;
  if (msg.flags & NL.F_ACK_TLVS) {
    const body = msg.flags & NL.F_CAPPED ? NL.HDRLEN : nlAlign(echoedLen);
    const start = 4 + body;
    if (start <= p.length) {
      const tlv = parseAttributes(p.subarray(start));
      if (tlv.ok) message = attrString(tlv.attrs.get(NL.NLMSGERR_ATTR_MSG));
    }
  }
  return { ok: true, ack: { errno: error < 0 ? -error : error, requestSeq, message } };
}
