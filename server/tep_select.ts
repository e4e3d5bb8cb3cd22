/**
 * Which TEP a lease is assigned to (pure): least-loaded live TEP for a new lease, and failover on
 * renewal when the assigned TEP's session is down (protocol brief §1.3, §5.3; the TEP
 * rules).
 *
 * A TEP is *live* while it holds an authenticated TSP session with the server. Load is the
 * number of leases assigned to it. Ties go to the TEP listed first in the configuration.
 *
 * @module
 */

/** A configured TEP as the decision sees it. */
export interface TepCandidate {
  /** TEP name (its TSP user name). */
  readonly name: string;
  /** It has an authenticated session now. */
  readonly live: boolean;
  /**
   * Not live, but expected back: the server started moments ago and this TEP has not had the
   * time to reconnect. Its leases are not moved on renewal.
   */
  readonly awaited?: boolean;
  /** Leases assigned to it. */
  readonly load: number;
}

/** The TEP for a new lease; `fallback` when no TEP is live (log a warning). */
export interface TepChoice {
  /** The TEP to assign. */
  readonly name: string;
  /** No TEP was live: the least-loaded configured TEP was taken instead. */
  readonly fallback: boolean;
}

function leastLoaded(
  cands: readonly TepCandidate[],
  keep: (c: TepCandidate) => boolean,
): TepCandidate | undefined {
  let best: TepCandidate | undefined;
  for (const c of cands) {
    if (!keep(c)) continue;
    if (best === undefined || c.load < best.load) best = c;
  }
  return best;
}

/**
 * The TEP for a new lease: the least-loaded live TEP; if none is live, the least-loaded
 * configured TEP with `fallback: true`. `undefined` only when no TEP is configured.
 */
export function chooseTep(cands: readonly TepCandidate[]): TepChoice | undefined {
  const live = leastLoaded(cands, (c) => c.live);
  if (live) return { name: live.name, fallback: false };
  const any = leastLoaded(cands, () => true);
  return any ? { name: any.name, fallback: true } : undefined;
}

/** What to do with the TEP of a lease being renewed. */
export type RenewalTep =
  /** The assigned TEP stays. */
  | { readonly kind: "keep" }
  /** Reassign the lease (same IPv4) to `to` and push the binding there. */
  | {
    readonly kind: "move";
    readonly to: string;
    /** `tep-down`: its session is down and another TEP is live; `tep-removed`: not configured. */
    readonly reason: "tep-down" | "tep-removed";
    /** No TEP is live: `to` is the least-loaded configured TEP. */
    readonly fallback: boolean;
  };

/**
 * Failover on renewal: keep a live (or the only available, or an awaited) TEP; move a lease whose
 * TEP is down to the least-loaded live TEP; move a lease whose TEP is no longer configured to any
 * TEP.
 */
export function renewalTep(current: string, cands: readonly TepCandidate[]): RenewalTep {
  const cur = cands.find((c) => c.name === current);
  if (cur?.live || cur?.awaited) return { kind: "keep" };
  const live = leastLoaded(cands, (c) => c.live && c.name !== current);
  if (cur) {
    return live ? { kind: "move", to: live.name, reason: "tep-down", fallback: false } : {
      kind: "keep",
    };
  }
  if (live) return { kind: "move", to: live.name, reason: "tep-removed", fallback: false };
  const any = leastLoaded(cands, () => true);
  return any ? { kind: "move", to: any.name, reason: "tep-removed", fallback: true } : {
    kind: "keep",
  };
}
