/**
 * The body of the client's data-plane Worker, apart from its I/O: what to do when the TUN, the
 * raw IPv4-in-IPv6 socket, the raw ICMPv6 socket or the control ring is readable. The decisions
 * are `lib/client`'s `ClientDataplane`; this adds the carrying out (send, write, post), the
 * control messages, the per-wake batch bound and the rate limit on reports to the main thread.
 *
 * - TUN → `fromTun` → `sendTunnel(TEP IPv6)`, or an ICMPv4 3/4 back into the TUN.
 * - tunnel → `fromTunnel` (domain TEPs only, lease only) → TUN; keepalive replies are reported.
 * - ICMPv6 → `fromIcmpv6` → ICMPv4 relays into the TUN; `tep-unreachable` and `binding-unknown`
 *   reported at most once per {@link REPORT_GAP_MS} each (the rest counted as
 *   `events-suppressed`), so a flood of errors (one per data packet, or forged) never becomes
 *   one message per packet; a lowered MTU is reported when it changes.
 * - ring → `lease` / `no-lease` / `mtu` / `probe` (`ring_messages.ts`).
 *
 * No allocation per packet: fixed buffers, reused results, counters in the shared block.
 *
 * @module
 */
import { ClientDataplane, IPV4_MIN_MTU, MAX_TUNNEL_MTU } from "../lib/client/mod.ts";
import type { Cidr6 } from "../lib/addr/mod.ts";
import { type CounterBlock, IO_COUNTER_ID } from "./io_counters.ts";
import { RING_MESSAGE_MAX, RingReader, type WorkerEvent } from "./ring_messages.ts";
import { DomainTepFilter } from "./tep_filter.ts";

/** Shortest gap between two reports of the same ICMPv6 event to the main thread, ms. */
export const REPORT_GAP_MS = 200;
/** Most packets taken from one source per wake-up, so one busy fd cannot starve the others. */
export const BATCH = 256;

/** The Worker's I/O, as the loop uses it. Every call returns a number; none throws. */
export interface DataplaneIo {
  /** Read one packet from the TUN into `buf`: its length, or < 0 when none is waiting. */
  readTun(buf: Uint8Array): number;
  /** Write `len` bytes of `buf` into the TUN: < 0 on failure. */
  writeTun(buf: Uint8Array, len: number): number;
  /** Receive one inner IPv4 packet: its length (source in {@link tunnelFrom}), or < 0. */
  recvTunnel(buf: Uint8Array): number;
  /** Outer IPv6 source of the last {@link recvTunnel}. */
  readonly tunnelFrom: Uint8Array;
  /** Send `len` bytes of `buf` (an IPv4 packet) to `to` in IPv6: < 0 on failure. */
  sendTunnel(buf: Uint8Array, len: number, to: Uint8Array): number;
  /** Receive one ICMPv6 message: its length (source in {@link icmpFrom}), or < 0. */
  recvIcmp(buf: Uint8Array): number;
  /** IPv6 source of the last {@link recvIcmp}. */
  readonly icmpFrom: Uint8Array;
  /** Take the next control message into `buf`: its length, or -1 when the ring is empty. */
  popRing(buf: Uint8Array): number;
}

/** What the loop is built from. */
export interface DataplaneLoopOptions {
  /** The registered IPv6 address (16 bytes). */
  readonly localIpv6: Uint8Array;
  /** Configured TEP prefixes (none: the /64 of each named TEP). */
  readonly tepPrefixes: readonly Cidr6[];
  /** Keepalive echo identifier. */
  readonly probeId: number;
  /** Initial tunnel MTU. */
  readonly mtu: number;
  /** The counter block to write. */
  readonly counters: CounterBlock;
  /** The I/O. */
  readonly io: DataplaneIo;
  /** Report to the main thread (rare events only). */
  readonly post: (e: WorkerEvent) => void;
  /** Clock, ms since the epoch (the main thread's clock base). */
  readonly clock: () => number;
}

/** The Worker's loop body; see the module documentation. */
export class DataplaneLoop {
  /** The decisions. */
  readonly dataplane: ClientDataplane;
  readonly #io: DataplaneIo;
  readonly #post: (e: WorkerEvent) => void;
  readonly #clock: () => number;
  readonly #c: Float64Array;
  readonly #tep6 = new Uint8Array(16);
  readonly #tunBuf = new Uint8Array(65536);
  readonly #rxBuf = new Uint8Array(65536);
  readonly #icmpBuf = new Uint8Array(4096);
  readonly #msgBuf = new Uint8Array(RING_MESSAGE_MAX + 8);
  readonly #probeBuf = new Uint8Array(64);
  readonly #reader = new RingReader();
  #lastUnreachable = -Infinity;
  #lastBinding = -Infinity;

  /** A loop with no lease. */
  constructor(o: DataplaneLoopOptions) {
    this.#io = o.io;
    this.#post = o.post;
    this.#clock = o.clock;
    this.#c = o.counters.io;
    this.dataplane = new ClientDataplane({
      localIpv6: o.localIpv6,
      filter: new DomainTepFilter({ prefixes: o.tepPrefixes }),
      probeId: o.probeId,
      tunnelMtu: o.mtu,
      counters: o.counters.dataplane,
    });
  }

  #writeTun(buf: Uint8Array, len: number): void {
    if (this.#io.writeTun(buf, len) < 0) this.#c[IO_COUNTER_ID["tun-write-errors"]]++;
  }

  #send(buf: Uint8Array, len: number): void {
    if (this.#io.sendTunnel(buf, len, this.#tep6) < 0) {
      this.#c[IO_COUNTER_ID["tunnel-send-errors"]]++;
    }
  }

  /** The TUN is readable: local IPv4 into the tunnel. */
  onTun(): void {
    const now = this.#clock();
    const io = this.#io;
    const buf = this.#tunBuf;
    for (let i = 0; i < BATCH; i++) {
      const n = io.readTun(buf);
      if (n <= 0) return;
      const r = this.dataplane.fromTun(buf, 0, n, now);
      // Results at offset 0: the packet read at 0, or the reply buffer.
      if (r.kind === "send-tunnel") this.#send(r.buffer, r.length);
      else if (r.kind === "reply-tun") this.#writeTun(r.buffer, r.length);
    }
  }

  /** The IPIP socket is readable: decapsulated IPv4 toward the local stack. */
  onTunnel(): void {
    const io = this.#io;
    const buf = this.#rxBuf;
    for (let i = 0; i < BATCH; i++) {
      const n = io.recvTunnel(buf);
      if (n < 0) return;
      const t = this.dataplane.fromTunnel(buf, 0, n, io.tunnelFrom, 0);
      if (t.kind === "write-tun") this.#writeTun(t.buffer, t.length);
      else if (t.kind === "keepalive-reply") {
        this.#post({ kind: "keepalive-reply", seq: t.seq, at: this.#clock() });
      }
    }
  }

  /** The ICMPv6 socket is readable: errors about our tunnel packets. */
  onIcmp(): void {
    const io = this.#io;
    const buf = this.#icmpBuf;
    const c = this.#c;
    for (let i = 0; i < BATCH; i++) {
      const n = io.recvIcmp(buf);
      if (n < 0) return;
      const now = this.#clock();
      const r = this.dataplane.fromIcmpv6(buf, 0, n, io.icmpFrom, 0, now);
      switch (r.kind) {
        case "tep-unreachable":
          if (r.length > 0) this.#writeTun(r.buffer, r.length);
          if (now - this.#lastUnreachable >= REPORT_GAP_MS) {
            this.#lastUnreachable = now;
            this.#post({ kind: "tep-unreachable", type: r.type, code: r.code, at: now });
          } else c[IO_COUNTER_ID["events-suppressed"]]++;
          break;
        case "binding-unknown":
          if (now - this.#lastBinding >= REPORT_GAP_MS) {
            this.#lastBinding = now;
            this.#post({ kind: "binding-unknown", at: now });
          } else c[IO_COUNTER_ID["events-suppressed"]]++;
          break;
        case "mtu":
          if (r.length > 0) this.#writeTun(r.buffer, r.length);
          if (r.changed) this.#post({ kind: "mtu", mtu: r.mtu });
          break;
        default:
          break;
      }
    }
  }

  /** The ring is readable: apply every control message waiting. */
  onRing(): void {
    const io = this.#io;
    const c = this.#c;
    const dp = this.dataplane;
    const rd = this.#reader;
    for (let n = io.popRing(this.#msgBuf); n >= 0; n = io.popRing(this.#msgBuf)) {
      const kind = rd.read(this.#msgBuf, n);
      if (kind === undefined) {
        c[IO_COUNTER_ID["bad-control-messages"]]++;
        continue;
      }
      c[IO_COUNTER_ID["control-messages"]]++;
      switch (kind) {
        case "lease":
          this.#tep6.set(rd.tepIpv6);
          dp.setLease({ ipv4: rd.ipv4, tep: { ipv6: rd.tepIpv6, ipv4: rd.tepIpv4 } });
          break;
        case "no-lease":
          dp.setLease(undefined);
          break;
        case "mtu":
          if (rd.mtu >= IPV4_MIN_MTU && rd.mtu <= MAX_TUNNEL_MTU) dp.setTunnelMtu(rd.mtu);
          else c[IO_COUNTER_ID["bad-control-messages"]]++;
          break;
        case "probe": {
          const len = dp.buildKeepalive(rd.seq, this.#probeBuf, 0);
          if (len > 0) this.#send(this.#probeBuf, len);
          break;
        }
      }
    }
  }
}
