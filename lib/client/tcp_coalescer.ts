/**
 * Receive-side coalescing (GRO) of the decapsulated IPv4 packets the client writes into a TUN
 * opened with a virtio header (`IFF_VNET_HDR`): consecutive in-order TCP segments of one flow are
 * joined into one large segment, written once with a header asking the kernel to take it as a
 * GSO packet (`VIRTIO_NET_HDR_GSO_TCPV4`, checksum partial). The local stack then handles one
 * packet where it would have handled up to 45, and acknowledges it once: fewer ACKs through the
 * tunnel, less work for the client and the TEP.
 *
 * The rules follow the kernel's own GRO (`tcp_gro_receive`) and wireguard-go's: IPv4 without
 * options, not a fragment, TCP with only ACK (PSH ends a segment), same addresses, ports, TOS,
 * TTL, DF, acknowledgement number, TCP header length and options; the sequence number follows on;
 * every segment but the last one carries the same payload size; at most 65535 bytes. A segment is
 * joined only after its TCP checksum (and the first segment's) was verified here, since the
 * kernel takes a partial-checksum packet as verified: a damaged segment is written alone, for the
 * kernel to drop.
 *
 * Packets live in one memory (the receive slots): a joined segment's payload is copied behind
 * the first segment, in that segment's slot, which must have room for 65535 bytes after the
 * packet start; {@link HEADROOM} bytes before every packet take the virtio header. Packets are
 * written in the order they were added.
 *
 * ```ts
 * const gro = new TcpCoalescer(memory, (off, len) => tun.write(memory, off, len));
 * for (const p of burst) gro.add(p.offset, p.length); // each packet after its checks
 * gro.flush(); // at the end of the burst
 * ```
 *
 * No allocation per packet.
 *
 * @module
 */
import { foldSum, internetChecksum, ipv4PseudoHeaderSum, onesSum } from "../inet/checksum.ts";

/** Bytes of the virtio header written before every packet. */
export const VNET_HDR_LEN = 10;
/** Bytes every packet must have free before it. */
export const HEADROOM = VNET_HDR_LEN;
/** Largest joined packet (the IPv4 Total Length limit). */
export const MAX_COALESCED = 0xffff;

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const F_NEEDS_CSUM = 1;
const GSO_TCPV4 = 1;
const TCP = 6;
const ACK = 0x10;
const PSH = 0x08;

/** Joins TCP segments before they are written to the TUN; see the module documentation. */
export class TcpCoalescer {
  /** Segments joined to a previous one (not written on their own). */
  merged = 0;
  /** Joined packets written. */
  coalesced = 0;
  /** Segments written alone because their TCP checksum was wrong. */
  badChecksums = 0;

  readonly #mem: Uint8Array;
  /** The same memory as 32-bit words, for the checksums (undefined if misaligned). */
  readonly #u32: Uint32Array | undefined;
  readonly #write: (off: number, len: number) => void;
  /** The packet being grown: its offset, or -1. */
  #head = -1;
  #headLen = 0;
  /** IPv4 + TCP header length of the head. */
  #hdrLen = 0;
  /** Payload size of its first segment (every segment's but the last). */
  #gso = 0;
  #segs = 0;
  #headChecked = false;

  /**
   * A coalescer over `memory`; `write(off, len)` writes `memory[off .. off + len]` (virtio
   * header included) into the TUN.
   */
  constructor(memory: Uint8Array, write: (off: number, len: number) => void) {
    this.#mem = memory;
    this.#u32 = memory.byteOffset % 4 === 0
      ? new Uint32Array(memory.buffer, memory.byteOffset, memory.byteLength >> 2)
      : undefined;
    this.#write = write;
  }

  /**
   * Take the IPv4 packet of `len` bytes (its Total Length, already checked) at `memory[off]`,
   * with {@link HEADROOM} bytes free before it: joined to the packet being grown, or written
   * (or held to be grown) in order.
   */
  add(off: number, len: number): void {
    const m = this.#mem;
    // A candidate: IPv4 without options, TCP, not a fragment, only ACK (or ACK+PSH), payload.
    const isCandidate = len >= 40 && m[off] === 0x45 && m[off + 9] === TCP &&
      (m[off + 6] & 0x3f) === 0 && m[off + 7] === 0;
    const flags = isCandidate ? m[off + 33] : 0;
    const thl = isCandidate ? (m[off + 32] >> 4) << 2 : 0;
    const payload = len - 20 - thl;
    if (!isCandidate || (flags !== ACK && flags !== (ACK | PSH)) || thl < 20 || payload <= 0) {
      this.flush();
      this.#alone(off, len);
      return;
    }
    const h = this.#head;
    if (h >= 0 && this.#joins(off, thl, payload)) {
      if (!this.#headChecked) {
        this.#headChecked = true;
        if (!this.#tcpChecksumOk(h, this.#headLen)) {
          this.badChecksums++;
          this.flush(); // written alone: the kernel drops it
          this.#start(off, len, thl, payload, flags);
          return;
        }
      }
      if (!this.#tcpChecksumOk(off, len)) {
        this.badChecksums++;
        this.flush();
        this.#alone(off, len);
        return;
      }
      m.copyWithin(h + this.#headLen, off + 20 + thl, off + len);
      this.#headLen += payload;
      this.#segs++;
      this.merged++;
      if (flags & PSH) {
        m[h + 33] |= PSH;
        this.flush();
      }
      return;
    }
    this.flush();
    this.#start(off, len, thl, payload, flags);
  }

  /** Write the packet being grown, if any. */
  flush(): void {
    const h = this.#head;
    if (h < 0) return;
    this.#head = -1;
    const m = this.#mem;
    const len = this.#headLen;
    if (this.#segs === 1) {
      this.#alone(h, len);
      return;
    }
    this.coalesced++;
    // IPv4 Total Length and header checksum.
    m[h + 2] = len >> 8;
    m[h + 3] = len & 0xff;
    m[h + 10] = 0;
    m[h + 11] = 0;
    const ipSum = internetChecksum(m, h, 20);
    m[h + 10] = ipSum >> 8;
    m[h + 11] = ipSum & 0xff;
    // TCP checksum field: the pseudo-header sum only; the kernel adds the rest (partial).
    const tcpLen = len - 20;
    const pseudo = ipv4PseudoHeaderSum(be32(m, h + 12), be32(m, h + 16), TCP, tcpLen);
    m[h + 36] = pseudo >> 8;
    m[h + 37] = pseudo & 0xff;
    // virtio_net_hdr, host (little-endian) order.
    const v = h - VNET_HDR_LEN;
    m[v] = F_NEEDS_CSUM;
    m[v + 1] = GSO_TCPV4;
    put16le(m, v + 2, this.#hdrLen);
    put16le(m, v + 4, this.#gso);
    put16le(m, v + 6, 20); // csum_start: the TCP header
    put16le(m, v + 8, 16); // csum_offset: its checksum field
    this.#write(v, len + VNET_HDR_LEN);
  }

  /** Whether the segment at `off` continues the head. */
  #joins(off: number, thl: number, payload: number): boolean {
    const m = this.#mem;
    const h = this.#head;
    if (thl + 20 !== this.#hdrLen) return false;
    if (this.#headLen + payload > MAX_COALESCED) return false;
    // Every segment so far as large as the first; this one not larger.
    if ((this.#headLen - this.#hdrLen) !== this.#gso * this.#segs || payload > this.#gso) {
      return false;
    }
    // TOS; DF and the reserved bit; TTL; addresses.
    if (m[off + 1] !== m[h + 1] || (m[off + 6] >> 5) !== (m[h + 6] >> 5)) return false;
    if (m[off + 8] !== m[h + 8]) return false;
    for (let i = 12; i < 20; i++) if (m[off + i] !== m[h + i]) return false;
    // Ports; acknowledgement number; options.
    for (let i = 20; i < 24; i++) if (m[off + i] !== m[h + i]) return false;
    for (let i = 28; i < 32; i++) if (m[off + i] !== m[h + i]) return false;
    for (let i = 40; i < 20 + thl; i++) if (m[off + i] !== m[h + i]) return false;
    // The sequence number follows on.
    const next = (be32(m, h + 24) + (this.#headLen - this.#hdrLen)) >>> 0;
    return be32(m, off + 24) === next;
  }

  #start(off: number, len: number, thl: number, payload: number, flags: number): void {
    if (flags & PSH) {
      this.#alone(off, len); // nothing may follow a PSH
      return;
    }
    this.#head = off;
    this.#headLen = len;
    this.#hdrLen = 20 + thl;
    this.#gso = payload;
    this.#segs = 1;
    this.#headChecked = false;
  }

  /** Whether the TCP checksum of the IPv4 (no options) packet of `len` bytes at `off` holds. */
  #tcpChecksumOk(off: number, len: number): boolean {
    const m = this.#mem;
    const tcpLen = len - 20;
    const pseudo = ipv4PseudoHeaderSum(be32(m, off + 12), be32(m, off + 16), TCP, tcpLen);
    return this.#sum(off + 20, tcpLen, pseudo) === 0xffff;
  }

  /**
   * Folded ones' complement sum of `len` bytes at `off` plus `initial` (as `onesSum`), 32 bits at
   * a time where the start is 4-byte aligned: on a little-endian host the sum of little-endian
   * words is the byte-swapped sum of the big-endian ones (RFC 1071 §2(B)).
   */
  #sum(off: number, len: number, initial: number): number {
    const u = this.#u32;
    if (u === undefined || !HOST_LE || (off & 3) !== 0 || len < 64) {
      return onesSum(this.#mem, off, len, initial);
    }
    const words = len >> 2;
    let k = off >> 2;
    const end = k + words;
    let s = 0;
    for (const end4 = k + (words & ~3); k < end4; k += 4) {
      s += u[k] + u[k + 1] + u[k + 2] + u[k + 3];
    }
    for (; k < end; k++) s += u[k];
    const le = foldSum(s);
    const be = ((le & 0xff) << 8) | (le >> 8);
    const rest = len & 3;
    return rest === 0
      ? foldSum(be + initial)
      : onesSum(this.#mem, off + (words << 2), rest, foldSum(be + initial));
  }

  /** Write one packet as it is (an all-zero virtio header). */
  #alone(off: number, len: number): void {
    this.#mem.fill(0, off - VNET_HDR_LEN, off);
    this.#write(off - VNET_HDR_LEN, len + VNET_HDR_LEN);
  }
}

function be32(m: Uint8Array, i: number): number {
  return ((m[i] << 24) | (m[i + 1] << 16) | (m[i + 2] << 8) | m[i + 3]) >>> 0;
}

function put16le(m: Uint8Array, i: number, v: number): void {
  m[i] = v & 0xff;
  m[i + 1] = v >> 8;
}
