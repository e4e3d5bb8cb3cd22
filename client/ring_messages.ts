/**
 * The messages the main thread sends to the data-plane Worker over its `MessageRing` (the Worker
 * spends its life in a blocking `poll(2)` loop and never sees `postMessage`), and the messages
 * the Worker posts back (rare events only; never one per data packet).
 *
 * Ring records (first byte = kind):
 *
 * | Kind | Bytes | Meaning |
 * |---|---|---|
 * | 1 `lease` | `[1][ipv4 u32][tep ipv4 u32][tep ipv6 ×16]` (25) | set the lease and its TEP |
 * | 2 `no-lease` | `[2]` (1) | clear the lease: drop everything |
 * | 3 `mtu` | `[3][mtu u32]` (5) | set the tunnel MTU |
 * | 4 `probe` | `[4][seq u16]` (3) | send a keepalive echo request with this sequence number |
 *
 * Decoding never throws on input; a record that does not parse is `undefined`.
 *
 * @module
 */

/** A control message for the data-plane Worker. */
export type RingMessage =
  | {
    readonly kind: "lease";
    readonly ipv4: number;
    readonly tepIpv4: number;
    readonly tepIpv6: Uint8Array;
  }
  | { readonly kind: "no-lease" }
  | { readonly kind: "mtu"; readonly mtu: number }
  | { readonly kind: "probe"; readonly seq: number };

/** Largest encoded {@link RingMessage}. */
export const RING_MESSAGE_MAX = 25;

const KIND = { lease: 1, "no-lease": 2, mtu: 3, probe: 4 } as const;

function u32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

function readU32(b: Uint8Array, off: number): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}

/**
 * Write `m` into `out` (at least {@link RING_MESSAGE_MAX} bytes) and return its length.
 *
 * @throws {RangeError} on a value out of range (a programmer error).
 */
export function writeRingMessage(m: RingMessage, out: Uint8Array): number {
  if (out.length < RING_MESSAGE_MAX) {
    throw new RangeError("Cannot write ring message: short buffer");
  }
  out[0] = KIND[m.kind];
  switch (m.kind) {
    case "lease":
      if ((m.ipv4 >>> 0) !== m.ipv4 || (m.tepIpv4 >>> 0) !== m.tepIpv4) {
        throw new RangeError("Cannot write ring message: bad IPv4 address");
      }
      if (!(m.tepIpv6 instanceof Uint8Array) || m.tepIpv6.length !== 16) {
        throw new RangeError("Cannot write ring message: TEP IPv6 must be 16 bytes");
      }
      u32(out, 1, m.ipv4);
      u32(out, 5, m.tepIpv4);
      out.set(m.tepIpv6, 9);
      return 25;
    case "no-lease":
      return 1;
    case "mtu":
      if (!Number.isInteger(m.mtu) || m.mtu < 0 || m.mtu > 0xffff) {
        throw new RangeError(`Cannot write ring message: bad MTU ${m.mtu}`);
      }
      u32(out, 1, m.mtu);
      return 5;
    case "probe":
      if (!Number.isInteger(m.seq) || m.seq < 0 || m.seq > 0xffff) {
        throw new RangeError(`Cannot write ring message: bad sequence ${m.seq}`);
      }
      out[1] = m.seq >> 8;
      out[2] = m.seq & 0xff;
      return 3;
  }
}

/**
 * A reusable decoder: {@link RingReader.read} fills one mutable record (no allocation per
 * message, for the Worker's loop) and returns its kind, or `undefined` for a bad record.
 */
export class RingReader {
  /** Leased IPv4 of the last `lease` record. */
  ipv4 = 0;
  /** TEP IPv4 of the last `lease` record. */
  tepIpv4 = 0;
  /** TEP IPv6 of the last `lease` record (reused). */
  readonly tepIpv6 = new Uint8Array(16);
  /** MTU of the last `mtu` record. */
  mtu = 0;
  /** Sequence number of the last `probe` record. */
  seq = 0;

  /** Decode `len` bytes of `buf`; never throws on contents. */
  read(buf: Uint8Array, len: number): RingMessage["kind"] | undefined {
    if (len < 1 || len > buf.length) return undefined;
    switch (buf[0]) {
      case 1:
        if (len !== 25) return undefined;
        this.ipv4 = readU32(buf, 1);
        this.tepIpv4 = readU32(buf, 5);
        this.tepIpv6.set(buf.subarray(9, 25));
        return "lease";
      case 2:
        return len === 1 ? "no-lease" : undefined;
      case 3:
        if (len !== 5) return undefined;
        this.mtu = readU32(buf, 1);
        return "mtu";
      case 4:
        if (len !== 3) return undefined;
        this.seq = (buf[1] << 8) | buf[2];
        return "probe";
      default:
        return undefined;
    }
  }
}

/** What the Worker posts to the main thread. */
export type WorkerEvent =
  /** The sockets are open and the loop runs. */
  | { readonly kind: "ready" }
  /** Start-up or loop failure; the Worker has stopped. */
  | {
    readonly kind: "error";
    readonly message: string;
    /** The failed operation and errno, when it was a system call (rebuilt as a SysError). */
    readonly op?: string;
    readonly errno?: number;
    readonly detail?: string;
  }
  /** A keepalive echo reply from the TEP, received at `at` (ms since the epoch). */
  | { readonly kind: "keepalive-reply"; readonly seq: number; readonly at: number }
  /** ICMPv6 says our tunnel packets to the TEP are undeliverable (rate-limited in the Worker). */
  | {
    readonly kind: "tep-unreachable";
    readonly type: number;
    readonly code: number;
    readonly at: number;
  }
  /** A domain TEP has no binding for the lease (ICMPv6 1/5; rate-limited in the Worker). */
  | { readonly kind: "binding-unknown"; readonly at: number }
  /** A Packet Too Big lowered the tunnel MTU. */
  | { readonly kind: "mtu"; readonly mtu: number }
  /** The loop ended after a stop request. */
  | { readonly kind: "stopped" };

/** What the main thread posts once to start the data-plane Worker. */
export interface DataplaneInit {
  /** The TUN fd (owned by the main thread; the Worker never closes it). */
  readonly tunFd: number;
  /** The TUN was opened with IFF_VNET_HDR: a virtio header before every packet read or written. */
  readonly vnetHeader: boolean;
  /** The registered IPv6 address: the raw sockets bind to it (tunnel source, §4.1). */
  readonly localIpv6: string;
  /** Hop limit of the tunnel packets. */
  readonly hopLimit: number;
  /** Initial tunnel MTU. */
  readonly mtu: number;
  /** Configured TEP prefixes (CIDR text); empty: the /64 of each named TEP. */
  readonly tepPrefixes: readonly string[];
  /** Identifier of the keepalive echo requests. */
  readonly probeId: number;
  /** Open the raw ICMPv6 error socket (needs no more privilege than the IPIP one). */
  readonly icmpErrors: boolean;
  /** The shared counter block (`io_counters.ts`). */
  readonly counters: SharedArrayBuffer;
  /** The control ring (main → Worker). */
  readonly ring: { readonly sab: SharedArrayBuffer; readonly wakeFd: number };
  /** The stop signal. */
  readonly stop: { readonly sab: SharedArrayBuffer; readonly wakeFd: number };
}
