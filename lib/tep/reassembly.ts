/**
 * IPv6 fragment reassembly for the TEP's decapsulator (protocol brief §4.3; RFC 2473 §7:
 * reassemble before decapsulating), with bounded memory and injected time.
 *
 * Rules (RFC 8200 §4.5 unless noted):
 * - fragments belong together when (source, destination, Identification) match;
 * - the unfragmentable part (IPv6 header and the extension headers before the Fragment header)
 *   is taken from the first fragment (offset 0), and the Next Header of its last header from that
 *   fragment's Fragment header;
 * - a fragment with the M flag whose data is not a multiple of 8 bytes, an empty fragment with
 *   the M flag, data past the end announced by the last fragment, or two different ends, are
 *   malformed (`fragment-malformed`; the malformed fragment, or the datagram if the ends
 *   disagree);
 * - overlapping fragments abandon the whole datagram (RFC 5722: `fragment-overlap`); an exact
 *   duplicate (same offset and length) is dropped on its own (`fragment-duplicate`), as RFC 8200
 *   allows;
 * - a datagram whose payload would pass 65 535 bytes, or whose reassembled packet would pass
 *   `maxPacketBytes`, is abandoned (`fragment-too-big`);
 * - a datagram not complete `timeoutMs` after its first fragment arrived is abandoned
 *   (`fragment-reassembly-timeout`; RFC 8200 uses 60 s, the TEP defaults to 5 s).
 *
 * Memory: one arena of `maxBytes`, cut into `blockSize`-byte blocks, holds fragment data; at most
 * `maxDatagrams` datagrams and `maxFragmentsPerDatagram` fragments each are in progress. When a
 * new fragment needs room that is not there, the oldest datagram in progress is evicted
 * (`fragment-memory`), as Linux does; a fragment that cannot be held even then is dropped with the
 * same reason. Everything is allocated in the constructor: {@link Reassembler.add} allocates
 * nothing.
 *
 * Results: `add` returns {@link REASSEMBLY}`.HELD`, `.COMPLETE` (the packet was written to the
 * caller's buffer; see {@link Reassembler.length}) or `.DROPPED` (see {@link Reassembler.reason}).
 * Every fragment the call dropped is reported in counts on the reassembler, so the caller can
 * count each dropped packet under its reason: {@link Reassembler.dropped} (the current fragment
 * and, when a datagram is abandoned, the fragments it held), {@link Reassembler.evicted}
 * (fragments of older datagrams evicted for room) and {@link Reassembler.timedOut}.
 *
 * @module
 */
import { IP_PROTO, IPV6_HEADER_LENGTH, Ipv6Walk, walkIpv6 } from "../inet/mod.ts";

/** What {@link Reassembler.add} did with a fragment. */
export const REASSEMBLY = {
  /** The fragment is held; the datagram is not complete yet. */
  HELD: 0,
  /** The datagram is complete and was written to `out`. */
  COMPLETE: 1,
  /** The fragment was dropped (and perhaps its datagram); see `reason`. */
  DROPPED: 2,
} as const;

/** One of the {@link REASSEMBLY} codes. */
export type ReassemblyStatus = (typeof REASSEMBLY)[keyof typeof REASSEMBLY];

/** Why fragments were dropped. Each value is a drop-counter label. */
export type ReassemblyReason =
  | "fragment-reassembly-timeout"
  | "fragment-overlap"
  | "fragment-duplicate"
  | "fragment-memory"
  | "fragment-too-big"
  | "fragment-malformed"
  /** The bytes are not an IPv6 fragment at all (header chain does not parse, or no fragment). */
  | "malformed-ipv6";

/** Every {@link ReassemblyReason}, for registering drop counters up front. */
export const REASSEMBLY_REASONS: readonly ReassemblyReason[] = [
  "fragment-reassembly-timeout",
  "fragment-overlap",
  "fragment-duplicate",
  "fragment-memory",
  "fragment-too-big",
  "fragment-malformed",
  "malformed-ipv6",
];

/** Options of a {@link Reassembler}. */
export interface ReassemblerOptions {
  /** How long a datagram may take to complete after its first fragment, ms (> 0). Default 5000. */
  readonly timeoutMs?: number;
  /** Most datagrams in progress (>= 1). Default 64. */
  readonly maxDatagrams?: number;
  /** Bytes of fragment data held at most (the arena). Default 1 MiB. Must be >= `maxPacketBytes`. */
  readonly maxBytes?: number;
  /** Arena block size in bytes (8..65536). Default 256. */
  readonly blockSize?: number;
  /** Most fragments per datagram (>= 2). Default 128. */
  readonly maxFragmentsPerDatagram?: number;
  /**
   * Largest reassembled packet, IPv6 header included, in 1500..65575. Default 65575 (a
   * 65 535-byte payload). The brief asks for at least 1500 (RFC 8200, RFC 4213 §3.6).
   */
  readonly maxPacketBytes?: number;
}

/** Defaults of {@link ReassemblerOptions}. */
export const REASSEMBLER_DEFAULTS = Object.freeze({
  timeoutMs: 5000,
  maxDatagrams: 64,
  maxBytes: 1 << 20,
  blockSize: 256,
  maxFragmentsPerDatagram: 128,
  maxPacketBytes: IPV6_HEADER_LENGTH + 0xffff,
});

/** Largest unfragmentable part (IPv6 header + Hop-by-Hop/Routing headers) kept per datagram. */
export const REASSEMBLY_MAX_UNFRAGMENTABLE = 256;

/** Counters of a {@link Reassembler} (a snapshot). */
export interface ReassemblerStats {
  /** Datagrams in progress. */
  readonly inProgress: number;
  /** Bytes of fragment data held. */
  readonly heldBytes: number;
  /** Fragments held. */
  readonly heldFragments: number;
  /** Datagrams completed. */
  readonly completed: number;
  /** Datagrams abandoned, all reasons. */
  readonly abandoned: number;
}

function intOption(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(
      `Cannot make reassembler: ${name} ${v} is not an integer in ${min}..${max}`,
    );
  }
  return v;
}

function hash16(b: Uint8Array, o: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i += 4) {
    const w = (b[o + i] << 24) | (b[o + i + 1] << 16) | (b[o + i + 2] << 8) | b[o + i + 3];
    h = Math.imul(h ^ w, 0x01000193);
    h ^= h >>> 15;
  }
  return h;
}

/**
 * IPv6 fragment reassembly with a fixed memory budget and timeouts. See the module
 * documentation.
 *
 * @example
 * ```ts
 * const r = new Reassembler({ timeoutMs: 5000 });
 * const out = new Uint8Array(r.maxPacketBytes);
 * switch (r.add(pkt, 0, n, now, out)) {
 *   case REASSEMBLY.COMPLETE: decapsulate(out, 0, r.length); break;
 *   case REASSEMBLY.DROPPED: counters.count(r.reason!, r.dropped); break;
 * }
 * // and at r.pollAt(): counters.count("fragment-reassembly-timeout", r.expire(now));
 * ```
 */
export class Reassembler {
  /** Timeout per datagram, ms. */
  readonly timeoutMs: number;
  /** Most datagrams in progress. */
  readonly maxDatagrams: number;
  /** Arena size in bytes. */
  readonly maxBytes: number;
  /** Arena block size. */
  readonly blockSize: number;
  /** Most fragments per datagram. */
  readonly maxFragmentsPerDatagram: number;
  /** Largest reassembled packet (header included); `out` must have this much room. */
  readonly maxPacketBytes: number;

  /** After `add`: length of the packet written to `out` when the status is `COMPLETE`, else 0. */
  length = 0;
  /** After `add`: why the current fragment was dropped when the status is `DROPPED`, else null. */
  reason: ReassemblyReason | null = null;
  /** After `add`: fragments dropped with `reason` (the current one, plus its datagram's). */
  dropped = 0;
  /** After `add`: fragments of other datagrams evicted for room (`fragment-memory`). */
  evicted = 0;
  /** After `add`: fragments dropped because their datagram timed out at this call's `now`. */
  timedOut = 0;

  #walk = new Ipv6Walk();
  // Datagrams.
  #index = new Map<number, number>(); // hash -> first slot of the chain
  #dHash: Int32Array;
  #dChain: Int32Array;
  #dId: Uint32Array;
  #dAddr: Uint8Array; // 32 bytes per slot: source, destination
  #dDeadline: Float64Array;
  #dFirst: Int32Array; // fragment list, sorted by offset
  #dCount: Int32Array;
  #dEnd: Int32Array; // -1 until the last fragment arrived
  #dReceived: Int32Array;
  #dHdrLen: Int32Array; // 0 until the first fragment arrived
  #dNhAt: Int32Array;
  #dNextHeader: Uint8Array;
  #dHdr: Uint8Array;
  #dPrev: Int32Array; // age order: head = oldest
  #dNext: Int32Array;
  #dFree: Int32Array;
  #dFreeTop: number;
  #head = -1;
  #tail = -1;
  // Fragments.
  #fOff: Int32Array;
  #fLen: Int32Array;
  #fNext: Int32Array;
  #fBlock: Int32Array;
  #fFree: Int32Array;
  #fFreeTop: number;
  // Blocks.
  #arena: Uint8Array;
  #bNext: Int32Array;
  #bFree: Int32Array;
  #bFreeTop: number;
  #heldBytes = 0;
  #completed = 0;
  #abandoned = 0;

  /**
   * A reassembler with all its memory allocated up front.
   *
   * @throws {RangeError} if an option is not valid (a programmer error).
   */
  constructor(options: ReassemblerOptions = {}) {
    const d = REASSEMBLER_DEFAULTS;
    const t = options.timeoutMs ?? d.timeoutMs;
    if (typeof t !== "number" || !(t > 0) || !Number.isFinite(t)) {
      throw new RangeError(`Cannot make reassembler: timeoutMs ${t} is not a positive number`);
    }
    this.timeoutMs = t;
    this.maxDatagrams = intOption(
      "maxDatagrams",
      options.maxDatagrams ?? d.maxDatagrams,
      1,
      1 << 20,
    );
    this.blockSize = intOption("blockSize", options.blockSize ?? d.blockSize, 8, 65536);
    this.maxPacketBytes = intOption(
      "maxPacketBytes",
      options.maxPacketBytes ?? d.maxPacketBytes,
      1500,
      d.maxPacketBytes,
    );
    this.maxBytes = intOption(
      "maxBytes",
      options.maxBytes ?? d.maxBytes,
      this.maxPacketBytes,
      1 << 30,
    );
    this.maxFragmentsPerDatagram = intOption(
      "maxFragmentsPerDatagram",
      options.maxFragmentsPerDatagram ?? d.maxFragmentsPerDatagram,
      2,
      1 << 16,
    );
    const n = this.maxDatagrams;
    this.#dHash = new Int32Array(n);
    this.#dChain = new Int32Array(n);
    this.#dId = new Uint32Array(n);
    this.#dAddr = new Uint8Array(n * 32);
    this.#dDeadline = new Float64Array(n);
    this.#dFirst = new Int32Array(n);
    this.#dCount = new Int32Array(n);
    this.#dEnd = new Int32Array(n);
    this.#dReceived = new Int32Array(n);
    this.#dHdrLen = new Int32Array(n);
    this.#dNhAt = new Int32Array(n);
    this.#dNextHeader = new Uint8Array(n);
    this.#dHdr = new Uint8Array(n * REASSEMBLY_MAX_UNFRAGMENTABLE);
    this.#dPrev = new Int32Array(n);
    this.#dNext = new Int32Array(n);
    this.#dFree = new Int32Array(n);
    for (let i = 0; i < n; i++) this.#dFree[i] = n - 1 - i;
    this.#dFreeTop = n;
    const blocks = Math.floor(this.maxBytes / this.blockSize);
    this.#arena = new Uint8Array(blocks * this.blockSize);
    this.#bNext = new Int32Array(blocks);
    this.#bFree = new Int32Array(blocks);
    for (let i = 0; i < blocks; i++) this.#bFree[i] = blocks - 1 - i;
    this.#bFreeTop = blocks;
    // A fragment holds at least one block, except an empty last fragment: one record per block
    // plus one per datagram is always enough.
    const frags = blocks + n;
    this.#fOff = new Int32Array(frags);
    this.#fLen = new Int32Array(frags);
    this.#fNext = new Int32Array(frags);
    this.#fBlock = new Int32Array(frags);
    this.#fFree = new Int32Array(frags);
    for (let i = 0; i < frags; i++) this.#fFree[i] = frags - 1 - i;
    this.#fFreeTop = frags;
  }

  /** Datagrams in progress. */
  get inProgress(): number {
    return this.maxDatagrams - this.#dFreeTop;
  }

  /** The earliest deadline of a datagram in progress (ms), or `Infinity`. */
  pollAt(): number {
    return this.#head < 0 ? Number.POSITIVE_INFINITY : this.#dDeadline[this.#head];
  }

  /**
   * Abandon every datagram whose deadline is at or before `now`. Returns the number of fragments
   * dropped (count them as `fragment-reassembly-timeout`). No allocation.
   */
  expire(now: number): number {
    let n = 0;
    while (this.#head >= 0 && this.#dDeadline[this.#head] <= now) {
      n += this.#abandon(this.#head);
    }
    return n;
  }

  /** Drop every datagram in progress; returns the number of fragments dropped. */
  clear(): number {
    let n = 0;
    while (this.#head >= 0) n += this.#abandon(this.#head);
    return n;
  }

  /** Counters (a snapshot; allocates). */
  stats(): ReassemblerStats {
    let frags = 0;
    for (let s = this.#head; s >= 0; s = this.#dNext[s]) frags += this.#dCount[s];
    return {
      inProgress: this.inProgress,
      heldBytes: this.#heldBytes,
      heldFragments: frags,
      completed: this.#completed,
      abandoned: this.#abandoned,
    };
  }

  #drop(reason: ReassemblyReason, n: number): ReassemblyStatus {
    this.reason = reason;
    this.dropped += n;
    return REASSEMBLY.DROPPED;
  }

  /**
   * Add the IPv6 fragment in `len` bytes of `buf` from `off`, received at `now`. When it
   * completes its datagram, the reassembled packet (no Fragment header) is written to
   * `out[outOff..]` and {@link length} says how long it is. The caller keeps `buf`; the
   * fragment's bytes are copied. Never throws on content; no allocation.
   *
   * @throws {RangeError} if `out` has fewer than {@link maxPacketBytes} bytes from `outOff`, or
   * the range is outside `buf` (programmer errors).
   */
  add(
    buf: Uint8Array,
    off: number,
    len: number,
    now: number,
    out: Uint8Array,
    outOff = 0,
  ): ReassemblyStatus {
    if (!(outOff >= 0 && out.length - outOff >= this.maxPacketBytes)) {
      throw new RangeError(
        `Cannot reassemble: out has ${out.length - outOff} bytes, needs ${this.maxPacketBytes}`,
      );
    }
    this.length = 0;
    this.reason = null;
    this.dropped = 0;
    this.evicted = 0;
    this.timedOut = this.expire(now);
    const w = this.#walk;
    if (walkIpv6(buf, off, len, w) !== null || !w.isFragment()) {
      return this.#drop("malformed-ipv6", 1);
    }
    const fh = w.fragmentHeaderOffset;
    const fOff = w.fragmentOffset;
    const more = w.moreFragments;
    const dataAt = fh + 8;
    const dataLen = w.end - dataAt;
    const fEnd = fOff + dataLen;
    if (more && ((dataLen & 7) !== 0 || dataLen === 0)) return this.#drop("fragment-malformed", 1);
    if (fEnd > 0xffff) return this.#drop("fragment-too-big", 1);
    // Length of the unfragmentable part, if this is the first fragment.
    const unfrag = fh - off;
    if (fOff === 0 && unfrag > REASSEMBLY_MAX_UNFRAGMENTABLE) {
      return this.#drop("fragment-malformed", 1);
    }

    const id = w.identification;
    const key = (id ^ hash16(buf, off + 8) ^ Math.imul(hash16(buf, off + 24), 0x9e3779b1)) | 0;
    let s = this.#find(key, id, buf, off);
    if (s < 0) {
      s = this.#newDatagram(key, id, buf, off, now);
      if (s < 0) return this.#drop("fragment-memory", 1);
    }

    // Size checks against what is known of the datagram.
    const hdrLen = fOff === 0 ? unfrag : this.#dHdrLen[s];
    const end = this.#dEnd[s];
    if (!more) {
      if (end >= 0 && end !== fEnd) return this.#drop("fragment-malformed", 1 + this.#abandon(s));
      if (this.#lastOffsetEnd(s) > fEnd) {
        return this.#drop("fragment-malformed", 1 + this.#abandon(s));
      }
    } else if (end >= 0 && fEnd > end) {
      return this.#drop("fragment-malformed", 1 + this.#abandon(s));
    }
    const minHdr = hdrLen > 0 ? hdrLen : IPV6_HEADER_LENGTH;
    const held = end >= 0 ? end : this.#lastOffsetEnd(s);
    if (minHdr + (fEnd > held ? fEnd : held) > this.maxPacketBytes) {
      return this.#drop("fragment-too-big", 1 + this.#abandon(s));
    }

    // Place it in the offset-sorted list; RFC 5722 for overlaps.
    let prev = -1;
    let next = this.#dFirst[s];
    while (next >= 0 && this.#fOff[next] < fOff) {
      prev = next;
      next = this.#fNext[next];
    }
    if (next >= 0 && this.#fOff[next] === fOff && this.#fLen[next] === dataLen) {
      return this.#drop("fragment-duplicate", 1);
    }
    if (
      (prev >= 0 && this.#fOff[prev] + this.#fLen[prev] > fOff) ||
      (next >= 0 && this.#fOff[next] < fEnd) ||
      (next >= 0 && this.#fOff[next] === fOff && this.#fLen[next] !== dataLen)
    ) {
      return this.#drop("fragment-overlap", 1 + this.#abandon(s));
    }
    if (this.#dCount[s] >= this.maxFragmentsPerDatagram) {
      return this.#drop("fragment-memory", 1 + this.#abandon(s));
    }

    // Room: blocks for the data, one fragment record.
    const need = Math.ceil(dataLen / this.blockSize);
    while ((this.#bFreeTop < need || this.#fFreeTop === 0) && this.#head >= 0) {
      const victim = this.#head === s ? this.#dNext[s] : this.#head;
      if (victim < 0) break;
      this.evicted += this.#abandon(victim);
    }
    if (this.#bFreeTop < need || this.#fFreeTop === 0) {
      return this.#drop("fragment-memory", 1 + this.#abandon(s));
    }

    // Store.
    const f = this.#fFree[--this.#fFreeTop];
    this.#fOff[f] = fOff;
    this.#fLen[f] = dataLen;
    this.#fBlock[f] = this.#storeData(buf, dataAt, dataLen, need);
    this.#fNext[f] = next;
    if (prev >= 0) this.#fNext[prev] = f;
    else this.#dFirst[s] = f;
    this.#dCount[s]++;
    this.#dReceived[s] += dataLen;
    this.#heldBytes += dataLen;
    if (!more) this.#dEnd[s] = fEnd;
    if (fOff === 0) {
      // Keep the unfragmentable part and where its last Next Header byte is (RFC 8200 §4.5).
      const h = s * REASSEMBLY_MAX_UNFRAGMENTABLE;
      for (let i = 0; i < unfrag; i++) this.#dHdr[h + i] = buf[off + i];
      this.#dHdrLen[s] = unfrag;
      this.#dNhAt[s] = this.#fragmentNhAt(buf, off, fh);
      this.#dNextHeader[s] = buf[fh];
    }

    if (this.#dHdrLen[s] === 0 || this.#dEnd[s] < 0 || this.#dReceived[s] !== this.#dEnd[s]) {
      return REASSEMBLY.HELD;
    }
    this.length = this.#emit(s, out, outOff);
    this.#completed++;
    this.#release(s);
    return REASSEMBLY.COMPLETE;
  }

  /** Offset of the Next Header byte that announces the Fragment header at `fh`. */
  #fragmentNhAt(buf: Uint8Array, off: number, fh: number): number {
    let nhAt = off + 6;
    let pos = off + IPV6_HEADER_LENGTH;
    while (pos < fh) {
      const nh = buf[nhAt];
      const hlen = nh === IP_PROTO.AH ? (buf[pos + 1] + 2) << 2 : (buf[pos + 1] + 1) << 3;
      nhAt = pos;
      pos += hlen;
    }
    return nhAt - off;
  }

  /** The largest end among held fragments of datagram `s` (0 if none). */
  #lastOffsetEnd(s: number): number {
    let last = -1;
    for (let f = this.#dFirst[s]; f >= 0; f = this.#fNext[f]) last = f;
    return last < 0 ? 0 : this.#fOff[last] + this.#fLen[last];
  }

  #find(key: number, id: number, buf: Uint8Array, off: number): number {
    const first = this.#index.get(key);
    if (first === undefined) return -1;
    for (let s = first; s >= 0; s = this.#dChain[s]) {
      if (this.#dId[s] !== id) continue;
      const a = s * 32;
      let same = true;
      for (let i = 0; i < 32; i++) {
        if (this.#dAddr[a + i] !== buf[off + 8 + i]) {
          same = false;
          break;
        }
      }
      if (same) return s;
    }
    return -1;
  }

  #newDatagram(key: number, id: number, buf: Uint8Array, off: number, now: number): number {
    if (this.#dFreeTop === 0) {
      if (this.#head < 0) return -1;
      this.evicted += this.#abandon(this.#head);
    }
    const s = this.#dFree[--this.#dFreeTop];
    this.#dHash[s] = key;
    this.#dId[s] = id;
    const a = s * 32;
    for (let i = 0; i < 32; i++) this.#dAddr[a + i] = buf[off + 8 + i];
    this.#dDeadline[s] = now + this.timeoutMs;
    this.#dFirst[s] = -1;
    this.#dCount[s] = 0;
    this.#dEnd[s] = -1;
    this.#dReceived[s] = 0;
    this.#dHdrLen[s] = 0;
    const first = this.#index.get(key);
    this.#dChain[s] = first === undefined ? -1 : first;
    this.#index.set(key, s);
    this.#dPrev[s] = this.#tail;
    this.#dNext[s] = -1;
    if (this.#tail >= 0) this.#dNext[this.#tail] = s;
    else this.#head = s;
    this.#tail = s;
    return s;
  }

  #storeData(buf: Uint8Array, at: number, len: number, blocks: number): number {
    const bs = this.blockSize;
    let first = -1;
    let prev = -1;
    for (let k = 0; k < blocks; k++) {
      const b = this.#bFree[--this.#bFreeTop];
      const n = Math.min(bs, len - k * bs);
      const src = at + k * bs;
      const dst = b * bs;
      for (let i = 0; i < n; i++) this.#arena[dst + i] = buf[src + i];
      this.#bNext[b] = -1;
      if (prev >= 0) this.#bNext[prev] = b;
      else first = b;
      prev = b;
    }
    return first;
  }

  #emit(s: number, out: Uint8Array, outOff: number): number {
    const hdrLen = this.#dHdrLen[s];
    const h = s * REASSEMBLY_MAX_UNFRAGMENTABLE;
    for (let i = 0; i < hdrLen; i++) out[outOff + i] = this.#dHdr[h + i];
    const total = hdrLen + this.#dEnd[s];
    const plen = total - IPV6_HEADER_LENGTH;
    out[outOff + 4] = plen >> 8;
    out[outOff + 5] = plen & 0xff;
    out[outOff + this.#dNhAt[s]] = this.#dNextHeader[s];
    const bs = this.blockSize;
    const arena = this.#arena;
    for (let f = this.#dFirst[s]; f >= 0; f = this.#fNext[f]) {
      let left = this.#fLen[f];
      let pos = outOff + hdrLen + this.#fOff[f];
      for (let b = this.#fBlock[f]; b >= 0 && left > 0; b = this.#bNext[b]) {
        const n = left < bs ? left : bs;
        const src = b * bs;
        for (let i = 0; i < n; i++) out[pos + i] = arena[src + i];
        pos += n;
        left -= n;
      }
    }
    return total;
  }

  /** Abandon datagram `s`; returns how many fragments it held. */
  #abandon(s: number): number {
    const n = this.#dCount[s];
    this.#abandoned++;
    this.#release(s);
    return n;
  }

  /** Free datagram `s`: its blocks, its fragment records, its slot. */
  #release(s: number): void {
    for (let f = this.#dFirst[s]; f >= 0;) {
      for (let b = this.#fBlock[f]; b >= 0;) {
        const nb = this.#bNext[b];
        this.#bFree[this.#bFreeTop++] = b;
        b = nb;
      }
      this.#heldBytes -= this.#fLen[f];
      const nf = this.#fNext[f];
      this.#fFree[this.#fFreeTop++] = f;
      f = nf;
    }
    this.#dFirst[s] = -1;
    this.#dCount[s] = 0;
    // Unlink from the hash chain.
    const key = this.#dHash[s];
    const first = this.#index.get(key);
    if (first === s) {
      if (this.#dChain[s] >= 0) this.#index.set(key, this.#dChain[s]);
      else this.#index.delete(key);
    } else if (first !== undefined) {
      for (let p = first; p >= 0; p = this.#dChain[p]) {
        if (this.#dChain[p] === s) {
          this.#dChain[p] = this.#dChain[s];
          break;
        }
      }
    }
    // Unlink from the age list.
    const p = this.#dPrev[s];
    const n = this.#dNext[s];
    if (p >= 0) this.#dNext[p] = n;
    else this.#head = n;
    if (n >= 0) this.#dPrev[n] = p;
    else this.#tail = p;
    this.#dFree[this.#dFreeTop++] = s;
  }
}
