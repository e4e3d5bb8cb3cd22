/**
 * The DSTM server's IPv4 lease allocator: pure, time-injected, O(1) per allocation.
 *
 * protocol.md §1.1 (the server keeps each address unique and remembers IPv6 → IPv4), §5.3
 * (renewal, release, expiry, quarantine before reuse), §6 rows 4 (stale TEP mappings) and 9
 * (per-client limits).
 *
 * Layout: struct-of-arrays keyed by pool index, grown lazily (doubling) up to the high-water mark
 * of indices ever handed out, so a /8 pool costs nothing up front. Free indices (quarantine over)
 * sit in a FIFO list (oldest freed reused first, and reused before any never-used index so memory
 * tracks the number of leases, not the pool size). Lease expiries and quarantine ends share one
 * indexed binary heap ordered by (deadline, index), so a sweep costs O(expired · log n) and never
 * scans the pool. IPv6 address → lease is an open-addressing table over the stored addresses
 * (`key_table.ts`); identities and TEP names are interned. Measured: one million leases on a /8
 * pool take about 235 MiB RSS on Deno and 280 MiB on Bun for the whole process.
 *
 * Expired leases are only found by a sweep; every method that takes `now` sweeps first, and
 * `lookup` treats a lease past its expiry as gone even before the sweep.
 *
 * Every change is described by a {@link LeaseEvent} (a fact). Live calls build the event and
 * apply it through the same code as replay ({@link LeaseAllocator.apply}), then queue it for
 * {@link LeaseAllocator.drainEvents}; the journal stores those events.
 *
 * @module
 */

import type { PoolSpace } from "./pool_space.ts";
import { MAX_POOL_SIZE } from "./pool_space.ts";
import type { Lease, LeaseEvent, LeaseFailure } from "./lease.ts";
import { LeaseStatus } from "./lease.ts";
import { isLeaseableIpv6 } from "./ipv6_policy.ts";
import { KeyTable } from "./key_table.ts";

/** Default lease lifetime: 1440 minutes (protocol.md §5.1). */
export const DEFAULT_LEASE_MS = 1440 * 60_000;
/** Default minimum quarantine after a lease ends: 15 minutes (a TEP's largest local cache cap). */
export const DEFAULT_QUARANTINE_MIN_MS = 15 * 60_000;

/** Configuration of a {@link LeaseAllocator}. */
export interface AllocatorOptions {
  /** The pool (an `Ipv4Pool` from `lib/addr`). */
  readonly pool: PoolSpace;
  /** Lifetime given by `create` when the request names none. Default {@link DEFAULT_LEASE_MS}. */
  readonly leaseMs?: number;
  /** Minimum quarantine after release or expiry. Default {@link DEFAULT_QUARANTINE_MIN_MS}. */
  readonly quarantineMinMs?: number;
  /** Leases per client IPv6 address (one per identity). Default 1. */
  readonly maxPerIpv6?: number;
  /** Leases per client /64. Default `Infinity` (no limit; no per-/64 bookkeeping). */
  readonly maxPerPrefix64?: number;
  /** Leases per non-empty identity (anonymous `""` is exempt). Default `Infinity`. */
  readonly maxPerIdentity?: number;
  /** Initial capacity of the per-index arrays (tests). Default 256. */
  readonly initialCapacity?: number;
}

/**
 * The per-client limits of a {@link LeaseAllocator} (protocol.md §6 row 9), as
 * {@link LeaseAllocator.limits} reports them and {@link LeaseAllocator.setLimits} takes them.
 * Each is an integer >= 1 or `Infinity` (no limit).
 */
export interface LeaseLimits {
  /** Leases per client IPv6 address. */
  readonly maxPerIpv6: number;
  /** Leases per client /64. */
  readonly maxPerPrefix64: number;
  /** Leases per non-empty identity (anonymous `""` is exempt). */
  readonly maxPerIdentity: number;
}

/** A `create` (allocation or renewal) request. */
export interface CreateRequest {
  /** The client's IPv6 address (16 bytes); the session's source address. */
  readonly clientIpv6: Uint8Array;
  /** Authenticated identity; `""` for anonymous. */
  readonly identity: string;
  /** TEP to assign if a new lease is made (renewals keep their TEP, §5.2). */
  readonly tep: string;
  /** The IPv4 named in the request: a renewal of exactly that lease, or 308. */
  readonly requestedIpv4?: number;
  /** Lifetime in ms; default `leaseMs`. */
  readonly lifetimeMs?: number;
}

/** Result of `create`: the lease and whether it was a renewal, or a failure code. */
export type CreateResult =
  | { readonly ok: true; readonly lease: Lease; readonly renewed: boolean }
  | LeaseFailure;

/** Result of a call about one lease: the (live) lease, or a failure code. */
export type LeaseResult = { readonly ok: true; readonly lease: Lease } | LeaseFailure;

/** Who may release a lease: both must match the lease. */
export interface LeaseOwner {
  /** The client's IPv6 address (16 bytes). */
  readonly clientIpv6: Uint8Array;
  /** The client's identity. */
  readonly identity: string;
}

/** A quarantined address and the end of its quarantine (ms). */
export interface QuarantineEntry {
  /** The address (uint32). */
  readonly ipv4: number;
  /** Absolute time (ms) from which it may be allocated again. */
  readonly until: number;
}

/** Receives one lease from {@link LeaseAllocator.forEachLeaseRecord} (see there). */
export type LeaseRecordVisitor = (
  ipv4: number,
  v6: Uint8Array,
  v6Offset: number,
  identity: string,
  tep: string,
  expiresAt: number,
  bindingUntil: number,
  teps: readonly string[],
) => void;

/** Counters describing the table. */
export interface AllocatorStats {
  /** Pool size. */
  readonly size: number;
  /** Length of the per-index arrays currently allocated. */
  readonly capacity: number;
  /** Pool indices ever touched (`0 .. highWater-1`). */
  readonly highWater: number;
  /** Leases in the table (including ones past expiry that no sweep has seen yet). */
  readonly leased: number;
  /** Addresses in quarantine. */
  readonly quarantined: number;
  /** Addresses available now (`size - leased - quarantined`). */
  readonly available: number;
}

const FREE = 0;
const LEASED = 1;
const QUARANTINED = 2;
const NONE = -1;

function fail(code: LeaseFailure["code"], reason: LeaseFailure["reason"]): LeaseFailure {
  return { ok: false, code, reason };
}

function checkNow(now: number): void {
  if (typeof now !== "number" || !Number.isFinite(now)) {
    throw new TypeError(`Cannot use time ${now}: not a finite number of ms`);
  }
}

function checkName(what: string, name: string): void {
  if (typeof name !== "string" || name.length === 0) {
    throw new TypeError(`Cannot use ${what}: expected a non-empty string`);
  }
}

function checkIpv6(a: Uint8Array): void {
  if (!(a instanceof Uint8Array) || a.length !== 16) {
    throw new TypeError("Cannot use client IPv6 address: expected a 16-byte Uint8Array");
  }
}

/** A string keying the /64 of the IPv6 address at `b[o..o+8)`. */
function prefix64Key(b: Uint8Array, o: number): string {
  return String.fromCharCode(
    b[o],
    b[o + 1],
    b[o + 2],
    b[o + 3],
    b[o + 4],
    b[o + 5],
    b[o + 6],
    b[o + 7],
  );
}

/** `tepsThatQueried` of a lease no other TEP queried (shared: the set is read-only). */
const NO_TEPS: ReadonlySet<string> = new Set();

/**
 * The lease table of one IPv4 pool. All methods taking `now` (ms) first expire what is due at
 * `now` (queueing `expire` events), so results are always as of `now`.
 */
export class LeaseAllocator {
  readonly #pool: PoolSpace;
  readonly #size: number;
  readonly #leaseMs: number;
  readonly #quarantineMinMs: number;
  #maxPerIpv6: number;
  #maxPer64: number;
  #maxPerIdentity: number;

  #cap = 0;
  #hwm = 0;
  #state = new Uint8Array(0);
  #deadline = new Float64Array(0); // expiresAt (leased) or quarantine end
  #bindingUntil = new Float64Array(0);
  #v6 = new Uint8Array(0);
  #ident = new Int32Array(0);
  #tep = new Int32Array(0);
  #prev = new Int32Array(0); // free list (free) or per-TEP list (leased)
  #next = new Int32Array(0);
  #v6Next = new Int32Array(0); // chain of leases sharing one IPv6 address
  #hpos = new Int32Array(0);
  #heap = new Int32Array(0);
  #heapLen = 0;

  #freeHead = NONE;
  #freeTail = NONE;
  #leased = 0;
  #quarantined = 0;

  /** IPv6 address → first lease index of its chain (keys live in #v6). */
  readonly #v6Index = new KeyTable(16, () => this.#v6);
  readonly #p64 = new Map<string, number>();
  readonly #queried = new Map<number, number[]>();

  readonly #idOf = new Map<string, number>();
  readonly #idName: string[] = [];
  readonly #idCount: number[] = [];
  readonly #idFree: number[] = [];

  readonly #tepOf = new Map<string, number>();
  readonly #tepName: string[] = [];
  readonly #tepHead: number[] = [];
  readonly #tepCount: number[] = [];

  #events: LeaseEvent[] = [];

  /** Create an empty table. Throws `RangeError` for bad limits or durations. */
  constructor(options: AllocatorOptions) {
    const pool = options.pool;
    if (!Number.isInteger(pool.size) || pool.size < 0 || pool.size > MAX_POOL_SIZE) {
      throw new RangeError(`Cannot create allocator: pool size ${pool.size} unsupported`);
    }
    this.#pool = pool;
    this.#size = pool.size;
    this.#leaseMs = positive("leaseMs", options.leaseMs ?? DEFAULT_LEASE_MS);
    this.#quarantineMinMs = nonNegative(
      "quarantineMinMs",
      options.quarantineMinMs ?? DEFAULT_QUARANTINE_MIN_MS,
    );
    this.#maxPerIpv6 = limit("maxPerIpv6", options.maxPerIpv6 ?? 1);
    this.#maxPer64 = limit("maxPerPrefix64", options.maxPerPrefix64 ?? Infinity);
    this.#maxPerIdentity = limit("maxPerIdentity", options.maxPerIdentity ?? Infinity);
    this.#grow(Math.min(this.#size, Math.max(1, options.initialCapacity ?? 256)));
  }

  /** The pool this table allocates from. */
  get pool(): PoolSpace {
    return this.#pool;
  }

  /** The per-client limits in force. */
  get limits(): LeaseLimits {
    return {
      maxPerIpv6: this.#maxPerIpv6,
      maxPerPrefix64: this.#maxPer64,
      maxPerIdentity: this.#maxPerIdentity,
    };
  }

  /**
   * Change the per-client limits (configuration reload). A field left out keeps its value. The
   * new limits apply to allocations from now on; leases already held stay (and renew) even when
   * they are now over a limit, they just count against it. Turning the /64 limit on from
   * `Infinity` counts the live leases per /64 once (O(high-water mark)); turning it off drops
   * that bookkeeping. Queues no event (limits are configuration, not lease state). Throws
   * `RangeError` for a bad value, changing nothing.
   */
  setLimits(limits: Partial<LeaseLimits>): void {
    const ipv6 = limit("maxPerIpv6", limits.maxPerIpv6 ?? this.#maxPerIpv6);
    const p64 = limit("maxPerPrefix64", limits.maxPerPrefix64 ?? this.#maxPer64);
    const identity = limit("maxPerIdentity", limits.maxPerIdentity ?? this.#maxPerIdentity);
    const was64 = this.#maxPer64 !== Infinity;
    this.#maxPerIpv6 = ipv6;
    this.#maxPer64 = p64;
    this.#maxPerIdentity = identity;
    if (was64 === (p64 !== Infinity)) return;
    this.#p64.clear();
    if (p64 === Infinity) return;
    for (let i = 0; i < this.#hwm; i++) {
      if (this.#state[i] !== LEASED) continue;
      const k64 = prefix64Key(this.#v6, i * 16);
      this.#p64.set(k64, (this.#p64.get(k64) ?? 0) + 1);
    }
  }

  /** Counters (O(1)). */
  stats(): AllocatorStats {
    return {
      size: this.#size,
      capacity: this.#cap,
      highWater: this.#hwm,
      leased: this.#leased,
      quarantined: this.#quarantined,
      available: this.#size - this.#leased - this.#quarantined,
    };
  }

  /** Next time (ms) something is due (a lease expiry or a quarantine end); `Infinity` if none. */
  pollAt(): number {
    return this.#heapLen === 0 ? Infinity : this.#deadline[this.#heap[0]];
  }

  /** Take the events queued since the last call, oldest first. */
  drainEvents(): LeaseEvent[] {
    const e = this.#events;
    this.#events = [];
    return e;
  }

  /**
   * Expire every lease whose `expiresAt <= now` (queueing `expire` events) and release every
   * quarantine that ended. Returns the leases that expired. Cost O(due · log n).
   */
  expire(now: number): Lease[] {
    checkNow(now);
    const out: Lease[] = [];
    while (this.#heapLen > 0) {
      const i = this.#heap[0];
      const d = this.#deadline[i];
      if (d > now) break;
      if (this.#state[i] === QUARANTINED) {
        this.#heapRemove(i);
        this.#state[i] = FREE;
        this.#quarantined--;
        this.#freePush(i);
        continue;
      }
      const lease = this.#leaseAt(i);
      const ev: LeaseEvent = {
        kind: "expire",
        at: d,
        ipv4: lease.ipv4,
        quarantineUntil: Math.max(d + this.#quarantineMinMs, this.#bindingUntil[i]),
        lease,
      };
      this.#endLease(i, ev.quarantineUntil, now);
      this.#events.push(ev);
      out.push(lease);
    }
    return out;
  }

  /**
   * A client `create` (protocol.md §5.3). With `requestedIpv4`: renew exactly that lease if it
   * is live and held by this IPv6 address and identity, else 308. Without: renew the live lease
   * of this IPv6 address and identity if there is one, else allocate (limits → 301, empty pool →
   * 306). An unusable IPv6 address → 309.
   */
  create(req: CreateRequest, now: number): CreateResult {
    checkNow(now);
    checkIpv6(req.clientIpv6);
    if (typeof req.identity !== "string") throw new TypeError("Cannot use identity: not a string");
    checkName("TEP name", req.tep);
    const lifetime = positive("lifetimeMs", req.lifetimeMs ?? this.#leaseMs);
    this.expire(now);
    if (!isLeaseableIpv6(req.clientIpv6)) return fail(LeaseStatus.invalidIpv6, "invalid-ipv6");

    const idId = this.#idOf.get(req.identity);
    let held = NONE;
    if (idId !== undefined) {
      for (let j = this.#v6Index.get(req.clientIpv6, 0); j !== NONE; j = this.#v6Next[j]) {
        if (this.#ident[j] === idId) {
          held = j;
          break;
        }
      }
    }
    if (req.requestedIpv4 !== undefined) {
      const i = this.#pool.indexOf(req.requestedIpv4);
      if (i < 0 || i !== held) return fail(LeaseStatus.addressUnavailable, "address-mismatch");
    }
    if (held !== NONE) {
      const ev: LeaseEvent = {
        kind: "renew",
        at: now,
        ipv4: this.#pool.addressAt(held),
        expiresAt: now + lifetime,
      };
      this.#commit(ev);
      return { ok: true, lease: this.#leaseAt(held), renewed: true };
    }

    // limits (protocol.md §6 row 9)
    let n = 0;
    for (let j = this.#v6Index.get(req.clientIpv6, 0); j !== NONE; j = this.#v6Next[j]) n++;
    if (n >= this.#maxPerIpv6) return fail(LeaseStatus.limitReached, "limit-ipv6");
    if (
      this.#maxPer64 !== Infinity &&
      (this.#p64.get(prefix64Key(req.clientIpv6, 0)) ?? 0) >= this.#maxPer64
    ) {
      return fail(LeaseStatus.limitReached, "limit-prefix64");
    }
    if (
      req.identity !== "" && idId !== undefined && this.#idCount[idId] >= this.#maxPerIdentity
    ) {
      return fail(LeaseStatus.limitReached, "limit-identity");
    }

    let i: number;
    if (this.#freeHead !== NONE) i = this.#freeHead;
    else if (this.#hwm < this.#size) i = this.#hwm;
    else return fail(LeaseStatus.poolExhausted, "pool-exhausted");

    const ev: LeaseEvent = {
      kind: "allocate",
      at: now,
      ipv4: this.#pool.addressAt(i),
      clientIpv6: req.clientIpv6.slice(),
      identity: req.identity,
      tep: req.tep,
      expiresAt: now + lifetime,
    };
    this.#commit(ev);
    return { ok: true, lease: this.#leaseAt(i), renewed: false };
  }

  /**
   * Release a lease (client `delete`). With `owner`, the lease must belong to that IPv6 address
   * and identity (else 308); without, any live lease is released (operator action). The address
   * goes into quarantine until the later of `now + quarantineMinMs` and the last binding TTL
   * handed out. Returns the released lease (send `delete` to `tep` and `tepsThatQueried`).
   */
  release(ipv4: number, now: number, owner?: LeaseOwner): LeaseResult {
    checkNow(now);
    if (owner) checkIpv6(owner.clientIpv6);
    this.expire(now);
    const i = this.#pool.indexOf(ipv4);
    if (i < 0) return fail(LeaseStatus.invalidIpv4, "outside-pool");
    if (i >= this.#hwm || this.#state[i] !== LEASED) {
      return fail(LeaseStatus.addressUnavailable, "not-leased");
    }
    if (owner && !this.#owns(i, owner.clientIpv6, owner.identity)) {
      return fail(LeaseStatus.addressUnavailable, "address-mismatch");
    }
    const lease = this.#leaseAt(i);
    this.#commit({
      kind: "release",
      at: now,
      ipv4,
      quarantineUntil: Math.max(now + this.#quarantineMinMs, this.#bindingUntil[i]),
      lease,
    });
    return { ok: true, lease };
  }

  /**
   * The live lease of `ipv4` as of `now` (read-only: no events). Not leased, expired or in
   * quarantine → 308; not a pool address → 501 (protocol.md §3.3).
   */
  lookup(ipv4: number, now: number): LeaseResult {
    checkNow(now);
    const i = this.#pool.indexOf(ipv4);
    if (i < 0) return fail(LeaseStatus.invalidIpv4, "outside-pool");
    if (i >= this.#hwm || this.#state[i] !== LEASED || this.#deadline[i] <= now) {
      return fail(LeaseStatus.addressUnavailable, "not-leased");
    }
    return { ok: true, lease: this.#leaseAt(i) };
  }

  /**
   * The live lease held by this IPv6 address and identity, if any (read-only).
   */
  findLease(clientIpv6: Uint8Array, identity: string, now: number): Lease | undefined {
    checkNow(now);
    checkIpv6(clientIpv6);
    const idId = this.#idOf.get(identity);
    if (idId === undefined) return undefined;
    for (let j = this.#v6Index.get(clientIpv6, 0); j !== NONE;) {
      if (this.#ident[j] === idId) {
        return this.#deadline[j] > now ? this.#leaseAt(j) : undefined;
      }
      j = this.#v6Next[j];
    }
    return undefined;
  }

  /**
   * Record that `tep` was handed a binding for `ipv4` valid for `ttlMs` from `now` (query reply
   * or push; also call it for pushes to the assigned TEP). The address will stay in quarantine
   * at least until `now + ttlMs` after the lease ends, and `tep` is added to `tepsThatQueried`.
   * Fails like {@link lookup}.
   */
  noteQuery(ipv4: number, tep: string, ttlMs: number, now: number): LeaseResult {
    checkNow(now);
    checkName("TEP name", tep);
    nonNegative("ttlMs", ttlMs);
    this.expire(now);
    const r = this.lookup(ipv4, now);
    if (!r.ok) return r;
    const i = this.#pool.indexOf(ipv4);
    const until = now + ttlMs;
    const tepId = this.#tepOf.get(tep);
    const known = tepId !== undefined &&
      (this.#tep[i] === tepId || (this.#queried.get(i)?.includes(tepId) ?? false));
    if (known && until <= this.#bindingUntil[i]) return r;
    this.#commit({ kind: "binding", at: now, ipv4, tep, until });
    return { ok: true, lease: this.#leaseAt(i) };
  }

  /**
   * Recovery after a crash: bindings may have been handed to TEPs whose `binding` records never
   * reached the journal (a query reply need not wait for the disk). Each was valid for at most
   * min(lease expiry, crash time + the binding cap), so raising every live lease's binding floor
   * to min(its expiry, `until`) (pass recovery time + cap) keeps quarantine covering them.
   * Returns how many floors were raised. Queues no events (the next snapshot carries them).
   */
  raiseBindingFloors(until: number): number {
    checkNow(until);
    let raised = 0;
    for (let i = 0; i < this.#hwm; i++) {
      if (this.#state[i] !== LEASED) continue;
      const floor = Math.min(this.#deadline[i], until);
      if (floor > this.#bindingUntil[i]) {
        this.#bindingUntil[i] = floor;
        raised++;
      }
    }
    return raised;
  }

  /**
   * Move a live lease to another TEP (failover). The previous TEP joins `tepsThatQueried`, since
   * it may still hold a binding. Fails like {@link lookup}.
   */
  reassign(ipv4: number, tep: string, now: number): LeaseResult {
    checkNow(now);
    checkName("TEP name", tep);
    this.expire(now);
    const r = this.lookup(ipv4, now);
    if (!r.ok) return r;
    if (r.lease.tep === tep) return r;
    this.#commit({ kind: "reassign", at: now, ipv4, tep, previousTep: r.lease.tep });
    return { ok: true, lease: this.#leaseAt(this.#pool.indexOf(ipv4)) };
  }

  /** Number of leases assigned to `tep` (O(1)); for picking the least-loaded TEP. */
  tepLoad(tep: string): number {
    const t = this.#tepOf.get(tep);
    return t === undefined ? 0 : this.#tepCount[t];
  }

  /** The IPv4 addresses of the leases assigned to `tep` (O(its leases)); for failover. */
  leasesOfTep(tep: string): number[] {
    const t = this.#tepOf.get(tep);
    const out: number[] = [];
    if (t === undefined) return out;
    for (let i = this.#tepHead[t]; i !== NONE; i = this.#next[i]) out.push(this.#pool.addressAt(i));
    return out;
  }

  /** Every lease in the table, in pool order (O(high-water mark); for listings and snapshots). */
  *leases(): IterableIterator<Lease> {
    for (let i = 0; i < this.#hwm; i++) if (this.#state[i] === LEASED) yield this.#leaseAt(i);
  }

  /**
   * Visit every lease without copying it (for snapshots of large tables). `v6` is the table's own
   * storage: the client address is `v6[v6Offset .. v6Offset+16)`, valid only during the call.
   * `teps` is `tepsThatQueried` (empty when none).
   */
  forEachLeaseRecord(visit: LeaseRecordVisitor): void {
    const none: readonly string[] = [];
    for (let i = 0; i < this.#hwm; i++) {
      if (this.#state[i] !== LEASED) continue;
      const q = this.#queried.get(i);
      visit(
        this.#pool.addressAt(i),
        this.#v6,
        i * 16,
        this.#idName[this.#ident[i]],
        this.#tepName[this.#tep[i]],
        this.#deadline[i],
        this.#bindingUntil[i],
        q ? q.map((t) => this.#tepName[t]) : none,
      );
    }
  }

  /** Every quarantined address, in pool order (O(high-water mark)). */
  *quarantine(): IterableIterator<QuarantineEntry> {
    for (let i = 0; i < this.#hwm; i++) {
      if (this.#state[i] === QUARANTINED) {
        yield { ipv4: this.#pool.addressAt(i), until: this.#deadline[i] };
      }
    }
  }

  /**
   * Apply one event from the journal (replay). Idempotent: applying an event twice, or an event
   * whose effect is already in the table, leaves the same table. An `allocate` always wins (it
   * was acknowledged to a client): the address is taken out of the free list or quarantine, or
   * away from another lease. Returns false when the event was ignored (address outside the pool,
   * or nothing to do). Queues no event.
   */
  apply(ev: LeaseEvent): boolean {
    const i = this.#pool.indexOf(ev.ipv4);
    if (i < 0) return false;
    const st = i < this.#hwm ? this.#state[i] : FREE;
    switch (ev.kind) {
      case "allocate": {
        if (st === LEASED) {
          if (this.#owns(i, ev.clientIpv6, ev.identity)) {
            this.#setDeadline(i, ev.expiresAt);
            this.#setTep(i, this.#internTep(ev.tep));
            return true;
          }
          this.#unindexLease(i);
          this.#heapRemove(i);
          this.#leased--;
        } else {
          this.#take(i);
        }
        this.#lease(i, ev.clientIpv6, ev.identity, ev.tep, ev.expiresAt);
        return true;
      }
      case "renew":
        if (st !== LEASED) return false;
        this.#setDeadline(i, ev.expiresAt);
        return true;
      case "release":
      case "expire":
        if (st === LEASED) {
          this.#endLease(i, ev.quarantineUntil, ev.at);
          return true;
        }
        if (st === QUARANTINED && ev.quarantineUntil > this.#deadline[i]) {
          this.#setDeadline(i, ev.quarantineUntil);
          return true;
        }
        return false;
      case "reassign": {
        if (st !== LEASED) return false;
        const t = this.#internTep(ev.tep);
        const old = this.#tep[i];
        if (old === t) return false;
        this.#addQueried(i, old);
        this.#removeQueried(i, t);
        this.#setTep(i, t);
        return true;
      }
      case "binding": {
        if (st !== LEASED) return false;
        const t = this.#internTep(ev.tep);
        if (t !== this.#tep[i]) this.#addQueried(i, t);
        if (ev.until > this.#bindingUntil[i]) this.#bindingUntil[i] = ev.until;
        return true;
      }
    }
  }

  /**
   * Put a lease from a snapshot back (recovery). Like an `allocate` event plus its binding state.
   * Returns false when the address is outside the pool.
   */
  restoreLease(lease: Lease): boolean {
    checkIpv6(lease.clientIpv6);
    if (
      !this.apply({
        kind: "allocate",
        at: 0,
        ipv4: lease.ipv4,
        clientIpv6: lease.clientIpv6,
        identity: lease.identity,
        tep: lease.tep,
        expiresAt: lease.expiresAt,
      })
    ) return false;
    const i = this.#pool.indexOf(lease.ipv4);
    for (const t of lease.tepsThatQueried) this.#addQueried(i, this.#internTep(t));
    if (lease.bindingUntil > this.#bindingUntil[i]) this.#bindingUntil[i] = lease.bindingUntil;
    return true;
  }

  /** Put a quarantined address from a snapshot back (recovery). False if outside the pool. */
  restoreQuarantine(q: QuarantineEntry): boolean {
    const i = this.#pool.indexOf(q.ipv4);
    if (i < 0) return false;
    const st = i < this.#hwm ? this.#state[i] : FREE;
    if (st === LEASED) return false;
    if (st === QUARANTINED) {
      if (q.until > this.#deadline[i]) this.#setDeadline(i, q.until);
      return true;
    }
    this.#take(i);
    this.#state[i] = QUARANTINED;
    this.#quarantined++;
    this.#deadline[i] = q.until;
    this.#heapPush(i);
    return true;
  }

  // ---- internals -------------------------------------------------------------------------

  #commit(ev: LeaseEvent): void {
    this.apply(ev);
    this.#events.push(ev);
  }

  #owns(i: number, v6: Uint8Array, identity: string): boolean {
    if (this.#idName[this.#ident[i]] !== identity) return false;
    const base = i * 16;
    for (let k = 0; k < 16; k++) if (this.#v6[base + k] !== v6[k]) return false;
    return true;
  }

  #leaseAt(i: number): Lease {
    const q = this.#queried.get(i);
    let teps: ReadonlySet<string> = NO_TEPS;
    if (q) {
      const named = new Set<string>();
      for (const t of q) named.add(this.#tepName[t]);
      teps = named;
    }
    return {
      ipv4: this.#pool.addressAt(i),
      clientIpv6: this.#v6.slice(i * 16, i * 16 + 16),
      identity: this.#idName[this.#ident[i]],
      expiresAt: this.#deadline[i],
      tep: this.#tepName[this.#tep[i]],
      tepsThatQueried: teps,
      bindingUntil: this.#bindingUntil[i],
    };
  }

  /** Make index `i` (free or never used) the caller's: out of the free list, under the hwm. */
  #take(i: number): void {
    if (i >= this.#hwm) {
      if (i >= this.#cap) this.#grow(Math.max(i + 1, Math.min(this.#size, this.#cap * 2)));
      for (let j = this.#hwm; j < i; j++) {
        this.#state[j] = FREE;
        this.#freePush(j);
      }
      this.#hwm = i + 1;
      return;
    }
    const st = this.#state[i];
    if (st === FREE) this.#freeUnlink(i);
    else if (st === QUARANTINED) {
      this.#heapRemove(i);
      this.#quarantined--;
    }
  }

  #lease(i: number, v6: Uint8Array, identity: string, tep: string, expiresAt: number): void {
    this.#state[i] = LEASED;
    this.#leased++;
    const v = this.#v6;
    for (let k = 0, o = i * 16; k < 16; k++) v[o + k] = v6[k];
    this.#bindingUntil[i] = 0;
    this.#queried.delete(i);
    // identity
    let id = this.#idOf.get(identity);
    if (id === undefined) {
      id = this.#idFree.pop() ?? this.#idName.length;
      this.#idOf.set(identity, id);
      this.#idName[id] = identity;
      this.#idCount[id] = 0;
    }
    this.#idCount[id]++;
    this.#ident[i] = id;
    // IPv6 chain and /64 count
    this.#v6Next[i] = this.#v6Index.get(this.#v6, i * 16);
    this.#v6Index.set(this.#v6, i * 16, i);
    if (this.#maxPer64 !== Infinity) {
      const k64 = prefix64Key(this.#v6, i * 16);
      this.#p64.set(k64, (this.#p64.get(k64) ?? 0) + 1);
    }
    // TEP list
    this.#tep[i] = NONE;
    this.#setTep(i, this.#internTep(tep));
    // expiry
    this.#deadline[i] = expiresAt;
    this.#heapPush(i);
  }

  /** End lease `i`: quarantine until `until`, or free it at once if `until <= now`. */
  #endLease(i: number, until: number, now: number): void {
    this.#unindexLease(i);
    this.#heapRemove(i);
    this.#leased--;
    if (until > now) {
      this.#state[i] = QUARANTINED;
      this.#quarantined++;
      this.#deadline[i] = until;
      this.#heapPush(i);
    } else {
      this.#state[i] = FREE;
      this.#freePush(i);
    }
  }

  /** Remove lease `i` from the IPv6, /64, identity and TEP indexes. */
  #unindexLease(i: number): void {
    const head = this.#v6Index.get(this.#v6, i * 16);
    if (head === i) {
      const nx = this.#v6Next[i];
      if (nx === NONE) this.#v6Index.delete(this.#v6, i * 16);
      else this.#v6Index.set(this.#v6, i * 16, nx);
    } else {
      for (let j = head; j !== NONE; j = this.#v6Next[j]) {
        if (this.#v6Next[j] === i) {
          this.#v6Next[j] = this.#v6Next[i];
          break;
        }
      }
    }
    if (this.#maxPer64 !== Infinity) {
      const k64 = prefix64Key(this.#v6, i * 16);
      const c = (this.#p64.get(k64) ?? 1) - 1;
      if (c <= 0) this.#p64.delete(k64);
      else this.#p64.set(k64, c);
    }
    const id = this.#ident[i];
    if (--this.#idCount[id] === 0) {
      this.#idOf.delete(this.#idName[id]);
      this.#idName[id] = "";
      this.#idFree.push(id);
    }
    this.#tepUnlink(i);
    this.#queried.delete(i);
  }

  #internTep(name: string): number {
    let t = this.#tepOf.get(name);
    if (t === undefined) {
      t = this.#tepName.length;
      this.#tepOf.set(name, t);
      this.#tepName.push(name);
      this.#tepHead.push(NONE);
      this.#tepCount.push(0);
    }
    return t;
  }

  #setTep(i: number, t: number): void {
    if (this.#tep[i] === t) return;
    if (this.#tep[i] !== NONE) this.#tepUnlink(i);
    this.#tep[i] = t;
    const h = this.#tepHead[t];
    this.#prev[i] = NONE;
    this.#next[i] = h;
    if (h !== NONE) this.#prev[h] = i;
    this.#tepHead[t] = i;
    this.#tepCount[t]++;
  }

  #tepUnlink(i: number): void {
    const t = this.#tep[i];
    const p = this.#prev[i];
    const n = this.#next[i];
    if (p !== NONE) this.#next[p] = n;
    else this.#tepHead[t] = n;
    if (n !== NONE) this.#prev[n] = p;
    this.#tepCount[t]--;
    this.#tep[i] = NONE;
  }

  #addQueried(i: number, t: number): void {
    const q = this.#queried.get(i);
    if (!q) this.#queried.set(i, [t]);
    else if (!q.includes(t)) q.push(t);
  }

  #removeQueried(i: number, t: number): void {
    const q = this.#queried.get(i);
    if (!q) return;
    const k = q.indexOf(t);
    if (k >= 0) q.splice(k, 1);
    if (q.length === 0) this.#queried.delete(i);
  }

  #freePush(i: number): void {
    this.#prev[i] = this.#freeTail;
    this.#next[i] = NONE;
    if (this.#freeTail !== NONE) this.#next[this.#freeTail] = i;
    else this.#freeHead = i;
    this.#freeTail = i;
  }

  #freeUnlink(i: number): void {
    const p = this.#prev[i];
    const n = this.#next[i];
    if (p !== NONE) this.#next[p] = n;
    else this.#freeHead = n;
    if (n !== NONE) this.#prev[n] = p;
    else this.#freeTail = p;
  }

  #grow(cap: number): void {
    if (cap <= this.#cap) return;
    const old = this.#cap;
    const u8 = (a: Uint8Array, w: number) => {
      const b = new Uint8Array(cap * w);
      b.set(a);
      return b;
    };
    const f64 = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    const i32 = (a: Int32Array) => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    this.#state = u8(this.#state, 1);
    this.#v6 = u8(this.#v6, 16);
    this.#deadline = f64(this.#deadline);
    this.#bindingUntil = f64(this.#bindingUntil);
    this.#ident = i32(this.#ident);
    this.#tep = i32(this.#tep);
    this.#prev = i32(this.#prev);
    this.#next = i32(this.#next);
    this.#v6Next = i32(this.#v6Next);
    this.#hpos = i32(this.#hpos);
    this.#heap = i32(this.#heap);
    this.#hpos.fill(NONE, old);
    this.#cap = cap;
  }

  // indexed binary min-heap over pool indices, keyed by (deadline, index)

  #less(a: number, b: number): boolean {
    const da = this.#deadline[a];
    const db = this.#deadline[b];
    return da < db || (da === db && a < b);
  }

  #setDeadline(i: number, d: number): void {
    const old = this.#deadline[i];
    this.#deadline[i] = d;
    const p = this.#hpos[i];
    if (p === NONE) return;
    if (d < old) this.#up(p);
    else this.#down(p);
  }

  #heapPush(i: number): void {
    const p = this.#heapLen++;
    this.#heap[p] = i;
    this.#hpos[i] = p;
    this.#up(p);
  }

  #heapRemove(i: number): void {
    const p = this.#hpos[i];
    if (p === NONE) return;
    const last = this.#heap[--this.#heapLen];
    this.#hpos[i] = NONE;
    if (p === this.#heapLen) return;
    this.#heap[p] = last;
    this.#hpos[last] = p;
    this.#up(p);
    this.#down(this.#hpos[last]);
  }

  #up(p: number): void {
    const h = this.#heap;
    const x = h[p];
    while (p > 0) {
      const q = (p - 1) >> 1;
      const y = h[q];
      if (!this.#less(x, y)) break;
      h[p] = y;
      this.#hpos[y] = p;
      p = q;
    }
    h[p] = x;
    this.#hpos[x] = p;
  }

  #down(p: number): void {
    const h = this.#heap;
    const n = this.#heapLen;
    const x = h[p];
    for (;;) {
      let c = 2 * p + 1;
      if (c >= n) break;
      if (c + 1 < n && this.#less(h[c + 1], h[c])) c++;
      const y = h[c];
      if (!this.#less(y, x)) break;
      h[p] = y;
      this.#hpos[y] = p;
      p = c;
    }
    h[p] = x;
    this.#hpos[x] = p;
  }
}

function positive(name: string, v: number): number {
  if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) {
    throw new RangeError(`Cannot use ${name} ${v}: expected a positive finite number`);
  }
  return v;
}

function nonNegative(name: string, v: number): number {
  if (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v)) {
    throw new RangeError(`Cannot use ${name} ${v}: expected a non-negative finite number`);
  }
  return v;
}

function limit(name: string, v: number): number {
  if (typeof v !== "number" || !(v >= 1) || (!Number.isInteger(v) && v !== Infinity)) {
    throw new RangeError(`Cannot use ${name} ${v}: expected an integer >= 1 or Infinity`);
  }
  return v;
}
