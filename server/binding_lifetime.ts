/**
 * Lifetimes in TSP minutes (protocol brief §3.2 item 5, §5.1, §5.3), pure.
 *
 * TSP's `lifetime` is in minutes; leases are kept as absolute expiry times in ms. A binding
 * handed to a TEP (push or query answer) lives min(remaining lease, the server's cap), rounded
 * **up** to whole minutes so a TEP never drops a binding before the lease ends; the server
 * records exactly that TTL (`noteQuery`) so quarantine covers it.
 *
 * @module
 */

/** One TSP lifetime unit. */
export const MINUTE_MS = 60_000;

/** A lease lifetime (ms) as the `lifetime` of an allocation answer: whole minutes, at least 1. */
export function leaseMinutes(lifetimeMs: number): number {
  return Math.max(1, Math.ceil(lifetimeMs / MINUTE_MS));
}

/**
 * Minutes a TEP may keep a binding of a lease expiring at `expiresAt`: the remaining lease
 * rounded up, capped at `capMinutes`; 0 when the lease has ended.
 */
export function bindingMinutes(expiresAt: number, now: number, capMinutes: number): number {
  const remaining = expiresAt - now;
  if (!(remaining > 0)) return 0;
  return Math.min(Math.ceil(remaining / MINUTE_MS), capMinutes);
}
