/**
 * Reconnection delays of the TEP's TSP session: 1 s doubling to 30 s, each shortened by a random
 * jitter of up to 20 % so that many TEPs restarted together do not reconnect in lockstep. Pure:
 * the randomness is passed in.
 *
 * @module
 */

/** Bounds of the backoff, ms. */
export interface BackoffOptions {
  /** First delay (> 0). Default 1000. */
  readonly initialMs: number;
  /** Largest delay (>= initialMs). Default 30 000. */
  readonly maxMs: number;
}

/** Defaults of {@link BackoffOptions}. */
export const BACKOFF_DEFAULTS: BackoffOptions = Object.freeze({ initialMs: 1000, maxMs: 30_000 });

/** Largest fraction the jitter takes off a delay. */
export const BACKOFF_JITTER = 0.2;

/**
 * The delay before reconnection attempt `attempt` (0 for the first after a loss), given
 * `random` in [0, 1): `min(maxMs, initialMs * 2^attempt)` minus up to 20 %.
 */
export function reconnectDelay(
  attempt: number,
  random: number,
  options: BackoffOptions = BACKOFF_DEFAULTS,
): number {
  const n = Number.isInteger(attempt) && attempt > 0 ? Math.min(attempt, 40) : 0;
  const base = Math.min(options.maxMs, options.initialMs * 2 ** n);
  const r = random >= 0 && random < 1 ? random : 0;
  return Math.round(base * (1 - BACKOFF_JITTER * r));
}
