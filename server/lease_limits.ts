/**
 * Per-client lease limits (protocol brief §6 row 9), pure and reloadable: live leases per client
 * IPv6 address and per authenticated identity (anonymous sessions count per address only).
 *
 * The server keeps these counts itself, from the lease events it sees, so that SIGHUP can change
 * the limits without rebuilding the lease table (the allocator's own limits are fixed when it is
 * created; the server creates it with no limits).
 *
 * @module
 */

/** The limits in force. */
export interface LeaseLimitValues {
  /** Live leases per client IPv6 address. */
  readonly perIpv6: number;
  /** Live leases per non-anonymous identity. */
  readonly perIdentity: number;
}

/** Which limit a new lease would break. */
export type LimitVerdict = "ok" | "limit-ipv6" | "limit-identity";

/** Counts of live leases by IPv6 key and identity. */
export class LeaseLimits {
  readonly #byIpv6 = new Map<string, number>();
  readonly #byIdentity = new Map<string, number>();

  /** Count a lease that started (or was loaded). `identity` `""` is anonymous. */
  add(ipv6Key: string, identity: string): void {
    this.#byIpv6.set(ipv6Key, (this.#byIpv6.get(ipv6Key) ?? 0) + 1);
    if (identity !== "") this.#byIdentity.set(identity, (this.#byIdentity.get(identity) ?? 0) + 1);
  }

  /** Forget a lease that ended. */
  remove(ipv6Key: string, identity: string): void {
    dec(this.#byIpv6, ipv6Key);
    if (identity !== "") dec(this.#byIdentity, identity);
  }

  /** Live leases of an IPv6 key. */
  ofIpv6(ipv6Key: string): number {
    return this.#byIpv6.get(ipv6Key) ?? 0;
  }

  /** Live leases of an identity. */
  ofIdentity(identity: string): number {
    return this.#byIdentity.get(identity) ?? 0;
  }

  /** May this client take one more lease under `limits`? */
  check(ipv6Key: string, identity: string, limits: LeaseLimitValues): LimitVerdict {
    if (this.ofIpv6(ipv6Key) >= limits.perIpv6) return "limit-ipv6";
    if (identity !== "" && this.ofIdentity(identity) >= limits.perIdentity) {
      return "limit-identity";
    }
    return "ok";
  }
}

function dec(m: Map<string, number>, k: string): void {
  const n = (m.get(k) ?? 0) - 1;
  if (n <= 0) m.delete(k);
  else m.set(k, n);
}
