/**
 * Lease records and the lease events (facts) the allocator emits and the journal stores.
 *
 * protocol.md §5.3: the lease record is `{ ipv4, clientIPv6, expiresAt, assignedTep, authIdentity,
 * tepsThatQueried }`. Times are absolute milliseconds (§5.1: store absolute expiry in ms).
 *
 * @module
 */

/** A live lease, as handed to callers (a copy: mutating it changes nothing). */
export interface Lease {
  /** The leased IPv4 address as an unsigned 32-bit integer. */
  readonly ipv4: number;
  /** The client's IPv6 address (16 bytes; a fresh copy). */
  readonly clientIpv6: Uint8Array;
  /** Authenticated identity of the client; `""` for anonymous sessions. */
  readonly identity: string;
  /** Absolute expiry time (ms). */
  readonly expiresAt: number;
  /** Name of the TEP assigned to this lease. */
  readonly tep: string;
  /**
   * TEPs other than `tep` that may hold a binding for this lease (they queried it, were pushed it,
   * or were its assigned TEP before a reassignment). They must get a `delete` when it ends.
   */
  readonly tepsThatQueried: ReadonlySet<string>;
  /** Latest absolute time until which any TEP may cache a binding handed out for this lease. */
  readonly bindingUntil: number;
}

/** TSP status codes the lease engine produces (protocol.md §2.7). */
export const LeaseStatus = {
  /** `301 No more tunnels available`: a per-IPv6, per-/64 or per-identity limit is reached. */
  limitReached: 301,
  /** `306 Address Pool Exhausted`. */
  poolExhausted: 306,
  /** `308 Requested Address Unavailable`: not leased, or not leased to this client. */
  addressUnavailable: 308,
  /** `309 Invalid IPv6 address`: the client IPv6 address cannot hold a lease. */
  invalidIpv6: 309,
  /** `501 Invalid IPv4 address`: the address is not in the pool. */
  invalidIpv4: 501,
} as const;

/** One of the {@link LeaseStatus} codes. */
export type LeaseStatusCode = typeof LeaseStatus[keyof typeof LeaseStatus];

/** Why an allocator call failed; stable labels for logs and counters. */
export type LeaseFailureReason =
  | "pool-exhausted"
  | "limit-ipv6"
  | "limit-prefix64"
  | "limit-identity"
  | "invalid-ipv6"
  | "address-mismatch"
  | "not-leased"
  | "outside-pool";

/** A failed allocator call: a TSP status code and a stable reason label. */
export interface LeaseFailure {
  readonly ok: false;
  /** TSP status code to send. */
  readonly code: LeaseStatusCode;
  /** Reason label (for logs and drop counters). */
  readonly reason: LeaseFailureReason;
}

/**
 * A fact about the lease table, emitted by the allocator and appended to the journal. Replaying
 * the events in order with `LeaseAllocator.apply` rebuilds the table; applying one twice is
 * harmless. `at` is the time (ms) of the operation.
 */
export type LeaseEvent =
  | {
    /** A new lease. */
    readonly kind: "allocate";
    readonly at: number;
    readonly ipv4: number;
    readonly clientIpv6: Uint8Array;
    readonly identity: string;
    readonly tep: string;
    readonly expiresAt: number;
  }
  | {
    /** A lease's expiry moved (renewal). */
    readonly kind: "renew";
    readonly at: number;
    readonly ipv4: number;
    readonly expiresAt: number;
  }
  | {
    /** The client released the lease; the address is quarantined until `quarantineUntil`. */
    readonly kind: "release";
    readonly at: number;
    readonly ipv4: number;
    readonly quarantineUntil: number;
    /** The lease as it was (for sending `delete` to its TEPs); not journaled. */
    readonly lease?: Lease;
  }
  | {
    /** The lease ran out; the address is quarantined until `quarantineUntil`. */
    readonly kind: "expire";
    readonly at: number;
    readonly ipv4: number;
    readonly quarantineUntil: number;
    /** The lease as it was (for sending `delete` to its TEPs); not journaled. */
    readonly lease?: Lease;
  }
  | {
    /** The lease moved to another TEP (failover). */
    readonly kind: "reassign";
    readonly at: number;
    readonly ipv4: number;
    readonly tep: string;
    /** The TEP it moved from (send it a `delete`); not journaled. */
    readonly previousTep?: string;
  }
  | {
    /** A TEP was handed a binding for the lease, valid until `until` (query reply or push). */
    readonly kind: "binding";
    readonly at: number;
    readonly ipv4: number;
    readonly tep: string;
    readonly until: number;
  };

/** The `kind` of a {@link LeaseEvent}. */
export type LeaseEventKind = LeaseEvent["kind"];
