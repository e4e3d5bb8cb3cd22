/**
 * Who must hear that a lease ended (protocol brief §5.3, PUSH.md), pure: the assigned TEP and
 * every TEP that may hold a binding for it (it queried the lease, was pushed it, or was assigned
 * it before a failover). Each name once, the assigned TEP first.
 *
 * @module
 */

/** The part of a lease the fan-out needs. */
export interface LeaseTeps {
  /** The assigned TEP. */
  readonly tep: string;
  /** Other TEPs that may hold a binding. */
  readonly tepsThatQueried: ReadonlySet<string> | readonly string[];
}

/** The TEPs that get a binding-remove push for an ended lease. */
export function removalTargets(lease: LeaseTeps): string[] {
  const out = [lease.tep];
  for (const t of lease.tepsThatQueried) if (!out.includes(t)) out.push(t);
  return out;
}
