/**
 * The TEP's binding table (protocol brief §4.5, §5.4, §6 rows 1, 4 and 5): pool IPv4 address ->
 * client IPv6 address, filled **only** from the authenticated control plane (a server push or
 * the answer to a TSP `query`), never learned from data packets.
 *
 * Layout: a `Map` from the IPv4 address (as a signed 32-bit key, which V8 keeps unboxed, so
 * lookups allocate nothing) to a slot; each slot's fields live in preallocated typed-array slabs
 * (`ipv6` is 16 bytes at `slot * 16` in one `Uint8Array`). A binary min-heap over the slots by
 * expiry gives {@link BindingTable.pollAt} in O(1) and lets {@link BindingTable.sweep} and a full
 * table reclaim expired entries in O(log n) each. The per-packet calls ({@link
 * BindingTable.lookup}, {@link BindingTable.matches}, {@link BindingTable.check}, {@link
 * BindingTable.copyIpv6}) allocate nothing.
 *
 * Times are absolute milliseconds on the caller's monotonic clock; lifetimes are milliseconds
 * (convert the TSP `lifetime`, in minutes, before calling, §5.1).
 *
 * IPv4 addresses are unsigned 32-bit integers; the per-packet calls also accept the signed form
 * (`a | 0`). Prefer the signed form on the hot path: V8 passes an int32 between functions
 * unboxed, while a uint32 >= 2^31 (every address from 128.0.0.0 up) may be boxed into a heap
 * number at a call boundary. Likewise compute `now` once per batch of packets, not per packet.
 *
 * @module
 */

/** Where a binding came from: a server push (2002 profile) or the answer to a `query`. */
export type BindingSource = "push" | "query";

/** Options of a {@link BindingTable}. */
export interface BindingTableOptions {
  /** Most bindings (>= 1). Default 65 536. Slabs for all of them are allocated up front. */
  readonly capacity?: number;
  /**
   * Local maximum TTL in ms (> 0): a binding lives `min(lifetime, maxTtlMs)` (§5.4). Default
   * 600 000 (10 min; the brief suggests 5–15 min).
   */
  readonly maxTtlMs?: number;
}

/** Default {@link BindingTableOptions.capacity}. */
export const BINDING_TABLE_DEFAULT_CAPACITY = 65_536;
/** Default {@link BindingTableOptions.maxTtlMs}: 10 minutes. */
export const BINDING_TABLE_DEFAULT_MAX_TTL_MS = 600_000;

/** A binding to install with {@link BindingTable.upsert}. */
export interface BindingInput {
  /** Pool IPv4 address, unsigned 32-bit. */
  readonly ipv4: number;
  /** Buffer holding the client's IPv6 address (16 bytes at `ipv6Off`). */
  readonly ipv6: Uint8Array;
  /** Offset of the IPv6 address in `ipv6`. Default 0. */
  readonly ipv6Off?: number;
  /**
   * Lifetime from the server in ms (>= 0). The TTL is `min(lifetimeMs, maxTtlMs)`; 0 means "do
   * not cache" (§3.2 item 5) and removes any binding the new one would replace.
   */
  readonly lifetimeMs: number;
  /** Control-plane source. */
  readonly source: BindingSource;
  /** Name of the TEP the server assigned the client to, if known (for `ctl bindings`). */
  readonly tep?: string;
}

/**
 * What {@link BindingTable.upsert} did:
 * - `inserted`: a new binding;
 * - `replaced`: an existing binding now has another IPv6 address or source;
 * - `refreshed`: same IPv6 and source, new expiry and TEP name;
 * - `kept-push`: a `query` answer arrived for an address with an unexpired pushed binding; the
 *   push wins (it is the server's own word and may be newer than the answer) and is unchanged;
 * - `not-cached`: lifetime 0; any binding it would have replaced was removed;
 * - `full`: the table is full of unexpired bindings; nothing changed.
 */
export type UpsertResult =
  | "inserted"
  | "replaced"
  | "refreshed"
  | "kept-push"
  | "not-cached"
  | "full";

/**
 * The outcome of {@link BindingTable.check} for a decapsulated packet: `ok`, or the drop
 * reason (names from the drop-reason table).
 */
export type BindingCheck = "ok" | "no-binding" | "binding-expired" | "spoofed-source";

/** One binding as listed by {@link BindingTable.entries} (a copy). */
export interface BindingEntry {
  /** Pool IPv4 address, unsigned 32-bit. */
  readonly ipv4: number;
  /** Client IPv6 address (a fresh 16-byte copy). */
  readonly ipv6: Uint8Array;
  /** When the binding expires, ms. */
  readonly expiresAt: number;
  /** When it was last installed or refreshed, ms. */
  readonly updatedAt: number;
  /** Control-plane source. */
  readonly source: BindingSource;
  /** Assigned TEP name, if known. */
  readonly tep?: string;
}

/** Counters of a {@link BindingTable} (a snapshot). */
export interface BindingTableStats {
  /** Bindings held (including expired ones not reclaimed yet). */
  readonly size: number;
  /** Most bindings. */
  readonly capacity: number;
  /** Lookups that found an unexpired binding. */
  readonly hits: number;
  /** Lookups that found nothing. */
  readonly misses: number;
  /** Lookups that found an expired binding (reclaimed on the spot). */
  readonly expiredHits: number;
  /** `upsert` results, by kind. */
  readonly inserted: number;
  readonly replaced: number;
  readonly refreshed: number;
  readonly keptPush: number;
  readonly notCached: number;
  readonly refusedFull: number;
  /** Bindings removed by `remove` (server `delete`). */
  readonly removed: number;
  /** Expired bindings reclaimed by `sweep` or to make room. */
  readonly swept: number;
}

const SRC_PUSH = 1;
const SRC_QUERY = 2;

const C_HITS = 0;
const C_MISSES = 1;
const C_EXPIRED = 2;
const C_INSERTED = 3;
const C_REPLACED = 4;
const C_REFRESHED = 5;
const C_KEPT = 6;
const C_NOT_CACHED = 7;
const C_FULL = 8;
const C_REMOVED = 9;
const C_SWEPT = 10;

/**
 * Pool IPv4 -> client IPv6 bindings with expiry, a TTL cap, a size cap and zero-allocation
 * per-packet checks.
 *
 * @example
 * ```ts
 * const table = new BindingTable({ capacity: 1024, maxTtlMs: 600_000 });
 * table.upsert({ ipv4: 0xc6336407, ipv6: clientV6, lifetimeMs: 1312 * 60_000, source: "query" }, now);
 * // Decapsulation: inner IPv4 source must match the outer IPv6 source.
 * table.check(innerSrc, packet, 8, now); // "ok" | "no-binding" | "binding-expired" | "spoofed-source"
 * // Encapsulation: find the client's IPv6 address.
 * const slot = table.lookup(innerDst, now);
 * if (slot >= 0) table.copyIpv6(slot, out, 24); // outer destination
 * ```
 */
export class BindingTable {
  /** Most bindings. */
  readonly capacity: number;
  /** Local maximum TTL, ms. */
  readonly maxTtlMs: number;
  #index = new Map<number, number>();
  #ipv4: Uint32Array;
  #ipv6: Uint8Array;
  #expires: Float64Array;
  #updated: Float64Array;
  #source: Uint8Array;
  #tep: (string | undefined)[];
  #free: Int32Array;
  #freeTop: number;
  // Min-heap of slots by expiry; #pos[slot] = its index in #heap.
  #heap: Int32Array;
  #pos: Int32Array;
  #heapSize = 0;
  #c = new Float64Array(11);

  /**
   * An empty table with slabs for `capacity` bindings.
   *
   * @throws {RangeError} if an option is not valid (a programmer error).
   */
  constructor(options: BindingTableOptions = {}) {
    const cap = options.capacity ?? BINDING_TABLE_DEFAULT_CAPACITY;
    if (!Number.isInteger(cap) || cap < 1 || cap > 0x4000000) {
      throw new RangeError(
        `Cannot make binding table: capacity ${cap} is not an integer in 1..2^26`,
      );
    }
    const maxTtl = options.maxTtlMs ?? BINDING_TABLE_DEFAULT_MAX_TTL_MS;
    if (typeof maxTtl !== "number" || !(maxTtl > 0) || !Number.isFinite(maxTtl)) {
      throw new RangeError(
        `Cannot make binding table: maxTtlMs ${maxTtl} is not a positive number`,
      );
    }
    this.capacity = cap;
    this.maxTtlMs = maxTtl;
    this.#ipv4 = new Uint32Array(cap);
    this.#ipv6 = new Uint8Array(cap * 16);
    this.#expires = new Float64Array(cap);
    this.#updated = new Float64Array(cap);
    this.#source = new Uint8Array(cap);
    this.#tep = new Array<string | undefined>(cap).fill(undefined);
    this.#free = new Int32Array(cap);
    for (let i = 0; i < cap; i++) this.#free[i] = cap - 1 - i;
    this.#freeTop = cap;
    this.#heap = new Int32Array(cap);
    this.#pos = new Int32Array(cap).fill(-1);
  }

  /** Bindings held, including expired ones not reclaimed yet. */
  get size(): number {
    return this.#index.size;
  }

  // ---- heap -------------------------------------------------------------------------------

  #swap(i: number, j: number): void {
    const h = this.#heap;
    const a = h[i];
    const b = h[j];
    h[i] = b;
    h[j] = a;
    this.#pos[b] = i;
    this.#pos[a] = j;
  }

  #up(i: number): void {
    const h = this.#heap;
    const e = this.#expires;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (e[h[p]] <= e[h[i]]) break;
      this.#swap(i, p);
      i = p;
    }
  }

  #down(i: number): void {
    const h = this.#heap;
    const e = this.#expires;
    const n = this.#heapSize;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && e[h[r]] < e[h[l]] ? r : l;
      if (e[h[i]] <= e[h[c]]) break;
      this.#swap(i, c);
      i = c;
    }
  }

  #heapRemove(slot: number): void {
    const i = this.#pos[slot];
    const last = --this.#heapSize;
    if (i !== last) {
      this.#swap(i, last);
      this.#up(i);
      this.#down(i);
    }
    this.#pos[slot] = -1;
  }

  // ---- slots ------------------------------------------------------------------------------

  #release(slot: number): void {
    this.#heapRemove(slot);
    this.#index.delete(this.#ipv4[slot] | 0);
    this.#tep[slot] = undefined;
    this.#source[slot] = 0;
    this.#free[this.#freeTop++] = slot;
  }

  /** Reclaim the binding with the earliest expiry if it has expired at `now`; true if one was. */
  #reclaimOne(now: number): boolean {
    if (this.#heapSize === 0) return false;
    const s = this.#heap[0];
    if (this.#expires[s] > now) return false;
    this.#release(s);
    this.#c[C_SWEPT]++;
    return true;
  }

  /**
   * Install or refresh a binding from the control plane at `now` (ms), with TTL
   * `min(lifetimeMs, maxTtlMs)`. A `push` always replaces what is there; a `query` answer does
   * not replace an unexpired pushed binding (`kept-push`). When the table is full, an expired
   * binding is reclaimed to make room; if none has expired the call returns `full`.
   *
   * @throws {RangeError} if `ipv4` is not an unsigned 32-bit integer, the IPv6 address does not
   * fit in `ipv6` at `ipv6Off`, `lifetimeMs` is negative or NaN, or `source` is unknown
   * (programmer errors: the control-plane codec validated the message).
   */
  upsert(input: BindingInput, now: number): UpsertResult {
    const { ipv4, ipv6, lifetimeMs, source, tep } = input;
    const off = input.ipv6Off ?? 0;
    if (typeof ipv4 !== "number" || (ipv4 >>> 0) !== ipv4) {
      throw new RangeError(`Cannot install binding: ${ipv4} is not an IPv4 address`);
    }
    if (
      !(ipv6 instanceof Uint8Array) || !Number.isInteger(off) || off < 0 || off + 16 > ipv6.length
    ) {
      throw new RangeError(`Cannot install binding: no 16-byte IPv6 address at offset ${off}`);
    }
    if (typeof lifetimeMs !== "number" || !(lifetimeMs >= 0)) {
      throw new RangeError(`Cannot install binding: lifetime ${lifetimeMs} ms is not >= 0`);
    }
    if (source !== "push" && source !== "query") {
      throw new RangeError(`Cannot install binding: unknown source ${source}`);
    }
    const src = source === "push" ? SRC_PUSH : SRC_QUERY;
    const key = ipv4 | 0;
    let slot = this.#index.get(key);
    if (slot !== undefined) {
      const live = now < this.#expires[slot];
      if (live && src === SRC_QUERY && this.#source[slot] === SRC_PUSH) {
        this.#c[C_KEPT]++;
        return "kept-push";
      }
      if (!live) {
        // An expired binding is as good as absent: reclaim it and insert afresh.
        this.#release(slot);
        this.#c[C_SWEPT]++;
        slot = undefined;
      }
    }
    if (lifetimeMs === 0) {
      if (slot !== undefined) this.#release(slot);
      this.#c[C_NOT_CACHED]++;
      return "not-cached";
    }
    const expiresAt = now + (lifetimeMs < this.maxTtlMs ? lifetimeMs : this.maxTtlMs);
    let result: UpsertResult;
    if (slot !== undefined) {
      const same = this.#source[slot] === src && this.#ipv6Equals(slot, ipv6, off);
      result = same ? "refreshed" : "replaced";
      this.#c[same ? C_REFRESHED : C_REPLACED]++;
      this.#expires[slot] = expiresAt;
      const i = this.#pos[slot];
      this.#up(i);
      this.#down(this.#pos[slot]);
    } else {
      if (this.#freeTop === 0 && !this.#reclaimOne(now)) {
        this.#c[C_FULL]++;
        return "full";
      }
      slot = this.#free[--this.#freeTop];
      this.#ipv4[slot] = ipv4;
      this.#index.set(key, slot);
      this.#expires[slot] = expiresAt;
      const i = this.#heapSize++;
      this.#heap[i] = slot;
      this.#pos[slot] = i;
      this.#up(i);
      result = "inserted";
      this.#c[C_INSERTED]++;
    }
    const b = slot * 16;
    for (let k = 0; k < 16; k++) this.#ipv6[b + k] = ipv6[off + k];
    this.#source[slot] = src;
    this.#updated[slot] = now;
    this.#tep[slot] = tep;
    return result;
  }

  /** Remove the binding for `ipv4` (a server `delete`, §5.4); true if there was one. */
  remove(ipv4: number): boolean {
    const slot = this.#index.get(ipv4 | 0);
    if (slot === undefined) return false;
    this.#release(slot);
    this.#c[C_REMOVED]++;
    return true;
  }

  /**
   * The slot of the unexpired binding for `ipv4` at `now`, or -1. An expired binding counts as
   * missing and is reclaimed on the spot. No allocation. A slot stays valid until the next call
   * that changes the table (`upsert`, `remove`, `sweep`, another `lookup`/`check` that reclaims).
   */
  lookup(ipv4: number, now: number): number {
    const slot = this.#index.get(ipv4 | 0);
    if (slot === undefined) {
      this.#c[C_MISSES]++;
      return -1;
    }
    if (now < this.#expires[slot]) {
      this.#c[C_HITS]++;
      return slot;
    }
    this.#release(slot);
    this.#c[C_EXPIRED]++;
    this.#c[C_SWEPT]++;
    return -1;
  }

  /**
   * The decapsulation check (§4.5 step 3, §6 rows 1 and 5): does `ipv4` (the inner IPv4
   * source) have an unexpired binding whose IPv6 address equals the 16 bytes at `ipv6Off` in
   * `ipv6Buf` (the outer IPv6 source)? Returns `ok` or the drop reason. No allocation.
   */
  check(ipv4: number, ipv6Buf: Uint8Array, ipv6Off: number, now: number): BindingCheck {
    const slot = this.#index.get(ipv4 | 0);
    if (slot === undefined) {
      this.#c[C_MISSES]++;
      return "no-binding";
    }
    if (!(now < this.#expires[slot])) {
      this.#release(slot);
      this.#c[C_EXPIRED]++;
      this.#c[C_SWEPT]++;
      return "binding-expired";
    }
    this.#c[C_HITS]++;
    return this.#ipv6Equals(slot, ipv6Buf, ipv6Off) ? "ok" : "spoofed-source";
  }

  /** {@link check} as a boolean: true only for `ok`. No allocation. */
  matches(ipv4: number, ipv6Buf: Uint8Array, ipv6Off: number, now: number): boolean {
    return this.check(ipv4, ipv6Buf, ipv6Off, now) === "ok";
  }

  #ipv6Equals(slot: number, buf: Uint8Array, off: number): boolean {
    const t = this.#ipv6;
    const b = slot * 16;
    for (let k = 0; k < 16; k++) if (t[b + k] !== buf[off + k]) return false;
    return true;
  }

  /**
   * True if the binding in `slot` has the IPv6 address at `off` in `buf`. No allocation.
   *
   * @throws {RangeError} if `slot` holds no binding (a programmer error).
   */
  ipv6Equals(slot: number, buf: Uint8Array, off: number): boolean {
    this.#checkSlot(slot);
    return this.#ipv6Equals(slot, buf, off);
  }

  /**
   * Copy the IPv6 address of the binding in `slot` (from {@link lookup}) into `out` at `off`
   * (for the outer destination of an encapsulated packet). No allocation.
   *
   * @throws {RangeError} if `slot` holds no binding or `out` has no room (programmer errors).
   */
  copyIpv6(slot: number, out: Uint8Array, off: number): void {
    this.#checkSlot(slot);
    if (!(off >= 0 && off + 16 <= out.length)) {
      throw new RangeError(`Cannot copy binding IPv6: no room for 16 bytes at offset ${off}`);
    }
    const t = this.#ipv6;
    const b = slot * 16;
    for (let k = 0; k < 16; k++) out[off + k] = t[b + k];
  }

  #checkSlot(slot: number): void {
    if (!(slot >= 0 && slot < this.capacity && this.#pos[slot] >= 0)) {
      throw new RangeError(`Cannot use binding slot ${slot}: it holds no binding`);
    }
  }

  /** IPv4 address of the binding in `slot`. */
  ipv4At(slot: number): number {
    this.#checkSlot(slot);
    return this.#ipv4[slot];
  }

  /** Expiry (ms) of the binding in `slot`, e.g. to refresh it early while traffic flows. */
  expiresAt(slot: number): number {
    this.#checkSlot(slot);
    return this.#expires[slot];
  }

  /** Source of the binding in `slot`. */
  sourceAt(slot: number): BindingSource {
    this.#checkSlot(slot);
    return this.#source[slot] === SRC_PUSH ? "push" : "query";
  }

  /** The earliest expiry among held bindings (ms), or `Infinity` when the table is empty. */
  pollAt(): number {
    return this.#heapSize === 0 ? Number.POSITIVE_INFINITY : this.#expires[this.#heap[0]];
  }

  /** Reclaim every binding expired at `now`; returns how many. O(k log n) for k reclaimed. */
  sweep(now: number): number {
    let n = 0;
    while (this.#reclaimOne(now)) n++;
    return n;
  }

  /** Unexpired bindings at `now`, sorted by IPv4 (allocates; for `ctl bindings`). */
  entries(now: number): BindingEntry[] {
    const out: BindingEntry[] = [];
    for (let i = 0; i < this.#heapSize; i++) {
      const s = this.#heap[i];
      if (!(now < this.#expires[s])) continue;
      const tep = this.#tep[s];
      out.push({
        ipv4: this.#ipv4[s],
        ipv6: this.#ipv6.slice(s * 16, s * 16 + 16),
        expiresAt: this.#expires[s],
        updatedAt: this.#updated[s],
        source: this.#source[s] === SRC_PUSH ? "push" : "query",
        ...(tep === undefined ? {} : { tep }),
      });
    }
    return out.sort((a, b) => a.ipv4 - b.ipv4);
  }

  /** Counters (a snapshot; allocates). */
  stats(): BindingTableStats {
    const c = this.#c;
    return {
      size: this.#index.size,
      capacity: this.capacity,
      hits: c[C_HITS],
      misses: c[C_MISSES],
      expiredHits: c[C_EXPIRED],
      inserted: c[C_INSERTED],
      replaced: c[C_REPLACED],
      refreshed: c[C_REFRESHED],
      keptPush: c[C_KEPT],
      notCached: c[C_NOT_CACHED],
      refusedFull: c[C_FULL],
      removed: c[C_REMOVED],
      swept: c[C_SWEPT],
    };
  }

  /** Remove every binding (e.g. the server session was reset and will push again). */
  clear(): void {
    while (this.#heapSize > 0) this.#release(this.#heap[0]);
  }
}
