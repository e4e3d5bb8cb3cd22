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
 * Packets come and go in bursts ({@link DataplaneIo}): each packet is decided on its own, the
 * sends and writes of a burst are held by the I/O and made together at its end (one batched call
 * each), and their failures counted then.
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
/** Most packets per burst (one batched read or receive, one batched send or write). */
export const BURST = 64;
/**
 * Fewest TUN reads asked for in one burst. The burst size adapts: twice what the last burst
 * found (a batched read costs a request per packet asked for, found or not), up to {@link BURST}.
 */
export const MIN_TUN_BURST = 8;

/**
 * The Worker's I/O, as the loop uses it, in bursts: packets are read or received into the I/O's
 * own memory, and sends or writes of packets in that memory may be held until the flush that
 * ends the burst (one batched call). Every call returns a number or a boolean; none throws on a
 * packet.
 */
export interface DataplaneIo {
  /**
   * Read a burst of at most `max` (<= {@link BURST}) packets from the TUN: how many (0: none
   * waiting). Packet `i` is `tunIn[tunOffset(i) .. + tunLength(i)]`, valid until the next read.
   */
  readTun(max: number): number;
  /** The memory TUN packets are read into. */
  readonly tunIn: Uint8Array;
  /** Offset in {@link tunIn} of packet `i` of the last {@link readTun}. */
  tunOffset(i: number): number;
  /** Length of packet `i` of the last {@link readTun}. */
  tunLength(i: number): number;
  /**
   * Write `buf[off .. off + len]` into the TUN; a packet in {@link tunnelIn} may be held until
   * {@link flushTun}. False: it failed now.
   */
  writeTun(buf: Uint8Array, off: number, len: number): boolean;
  /** Make the held TUN writes: how many writes failed since the last flush. */
  flushTun(): number;
  /**
   * Send `buf[off .. off + len]` (an IPv4 packet) to `to` (16 bytes) in IPv6; a packet in
   * {@link tunIn} may be held until {@link flushTunnel}. False: it failed now.
   */
  sendTunnel(buf: Uint8Array, off: number, len: number, to: Uint8Array): boolean;
  /** Make the held sends: how many sends failed since the last flush. */
  flushTunnel(): number;
  /**
   * Receive a burst of at most `max` (<= {@link BURST}) inner IPv4 packets: how many. Packet `i`
   * is `tunnelIn[tunnelOffset(i) .. + tunnelLength(i)]`, its outer IPv6 source
   * `tunnelFrom[tunnelFromOffset(i) .. + 16]`; valid until the next receive (call
   * {@link flushTun} before it).
   */
  recvTunnel(max: number): number;
  /** The memory tunnel packets land in. */
  readonly tunnelIn: Uint8Array;
  /** Offset in {@link tunnelIn} of packet `i` of the last {@link recvTunnel}. */
  tunnelOffset(i: number): number;
  /** Length of packet `i` of the last {@link recvTunnel}. */
  tunnelLength(i: number): number;
  /** Where the outer IPv6 sources of the last {@link recvTunnel} are. */
  readonly tunnelFrom: Uint8Array;
  /** Offset in {@link tunnelFrom} of the source of packet `i`. */
  tunnelFromOffset(i: number): number;
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
  readonly #icmpBuf = new Uint8Array(4096);
  readonly #msgBuf = new Uint8Array(RING_MESSAGE_MAX + 8);
  readonly #probeBuf = new Uint8Array(64);
  readonly #reader = new RingReader();
  #tunBurst = BURST;
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

  #writeTun(buf: Uint8Array, off: number, len: number): void {
    if (!this.#io.writeTun(buf, off, len)) this.#c[IO_COUNTER_ID["tun-write-errors"]]++;
  }

  #send(buf: Uint8Array, off: number, len: number): void {
    if (!this.#io.sendTunnel(buf, off, len, this.#tep6)) {
      this.#c[IO_COUNTER_ID["tunnel-send-errors"]]++;
    }
  }

  /** End of a burst: make the held sends and writes, count what failed. */
  #flush(): void {
    const c = this.#c;
    const io = this.#io;
    c[IO_COUNTER_ID["tunnel-send-errors"]] += io.flushTunnel();
    c[IO_COUNTER_ID["tun-write-errors"]] += io.flushTun();
  }

  /** The TUN is readable: local IPv4 into the tunnel, a burst at a time. */
  onTun(): void {
    const now = this.#clock();
    const io = this.#io;
    const dp = this.dataplane;
    for (let total = 0; total < BATCH;) {
      const burst = this.#tunBurst;
      const want = BATCH - total < burst ? BATCH - total : burst;
      const n = io.readTun(want);
      // Ask for twice what came next time (fewer reads that find nothing), more when it was full.
      const next = n === want ? 2 * burst : 2 * n;
      this.#tunBurst = next < MIN_TUN_BURST ? MIN_TUN_BURST : next > BURST ? BURST : next;
      if (n <= 0) return;
      const mem = io.tunIn;
      for (let i = 0; i < n; i++) {
        const r = dp.fromTun(mem, io.tunOffset(i), io.tunLength(i), now);
        if (r.kind === "send-tunnel") this.#send(r.buffer, r.offset, r.length);
        else if (r.kind === "reply-tun") this.#writeTun(r.buffer, r.offset, r.length);
      }
      this.#flush();
      total += n;
      if (n < want) return;
    }
  }

  /** The IPIP socket is readable: decapsulated IPv4 toward the local stack, a burst at a time. */
  onTunnel(): void {
    const io = this.#io;
    const dp = this.dataplane;
    for (let total = 0; total < BATCH;) {
      const want = BATCH - total < BURST ? BATCH - total : BURST;
      const n = io.recvTunnel(want);
      if (n <= 0) return;
      const mem = io.tunnelIn;
      const from = io.tunnelFrom;
      for (let i = 0; i < n; i++) {
        const t = dp.fromTunnel(
          mem,
          io.tunnelOffset(i),
          io.tunnelLength(i),
          from,
          io.tunnelFromOffset(i),
        );
        if (t.kind === "write-tun") this.#writeTun(t.buffer, t.offset, t.length);
        else if (t.kind === "keepalive-reply") {
          this.#post({ kind: "keepalive-reply", seq: t.seq, at: this.#clock() });
        }
      }
      this.#flush();
      total += n;
      if (n < want) return;
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
          if (r.length > 0) this.#writeTun(r.buffer, r.offset, r.length);
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
          if (r.length > 0) this.#writeTun(r.buffer, r.offset, r.length);
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
          if (len > 0) this.#send(this.#probeBuf, 0, len);
          break;
        }
      }
    }
  }
}
