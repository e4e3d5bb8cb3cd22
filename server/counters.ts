/**
 * The server's counters: one table of named families with an explanation each (every drop and
 * refusal has a named reason), read by `ctl stats` and by the Prometheus endpoint.
 *
 * @module
 */

/** A counter family: what it counts and the labels it is split by. */
export interface CounterFamily {
  /** Explanation (Prometheus HELP, `ctl stats`). */
  readonly help: string;
  /** Label names, in order. */
  readonly labels: readonly string[];
}

/** Every counter of the server; names are stable (`dstm_server_<name>` in Prometheus). */
export const COUNTER_FAMILIES = {
  connections_total: {
    help: "TSP connections (TCP) and UDP peer sessions opened",
    labels: ["transport"],
  },
  connections_refused_total: {
    help: "Connections refused with 530 Server too busy because maxConnections was reached",
    labels: ["transport"],
  },
  auth_total: {
    help:
      'Authentications by mechanism and result (ok, failed; a failure is counted under mechanism "unknown", or "not-offered")',
    labels: ["mechanism", "result"],
  },
  requests_total: {
    help: "Commands answered, by action and status code",
    labels: ["action", "code"],
  },
  lease_events_total: {
    help: "Lease table changes: allocate, renew, release, expire, reassign, binding",
    labels: ["kind"],
  },
  lease_refusals_total: {
    help: "create/delete refused, by reason (pool-exhausted, limit-ipv6, address-mismatch, ...)",
    labels: ["reason"],
  },
  queries_total: {
    help: "TEP queries by result: hit, miss (308), outside (501), refused (not a TEP, 300)",
    labels: ["result"],
  },
  pushes_total: {
    help: "Pushes sent: binding add/remove to TEPs, lease delete to clients",
    labels: ["kind"],
  },
  push_overflows_total: {
    help: "TEP sessions closed because their pushes could not be queued (they resync on reconnect)",
    labels: [],
  },
  tep_sessions_total: {
    help: "TEP session changes: up, down, replaced",
    labels: ["event"],
  },
  timeouts_total: {
    help: "Connections closed by a timer: auth, idle, frame (slow read), write (peer not reading)",
    labels: ["kind"],
  },
  protocol_errors_total: {
    help:
      "Peer mistakes reported by the TSP session (malformed framing or XML, unexpected messages)",
    labels: ["reason"],
  },
  udp_drops_total: {
    help: "UDP datagrams not delivered to a session: truncated, not-signal, in-progress, stale",
    labels: ["reason"],
  },
  udp_resends_total: {
    help: "UDP retransmissions answered from the reply cache (no work redone)",
    labels: [],
  },
  internal_errors_total: {
    help: "Exceptions caught in a connection handler (each one is a defect: report it)",
    labels: [],
  },
} as const satisfies Record<string, CounterFamily>;

/** A counter family name. */
export type CounterName = keyof typeof COUNTER_FAMILIES;

/** The map key of a label set (NUL-joined; no join for the common 0 and 1 labels). */
function labelKey(labels: readonly string[]): string {
  return labels.length === 0 ? "" : labels.length === 1 ? labels[0] : labels.join("\u0000");
}

/** Counter values keyed by family and label values. */
export class Counters {
  readonly #values = new Map<CounterName, Map<string, number>>();

  /** Add `by` (default 1) to a counter; `labels` in the family's label order. */
  inc(name: CounterName, labels: readonly string[] = [], by = 1): void {
    let m = this.#values.get(name);
    if (!m) {
      m = new Map();
      this.#values.set(name, m);
    }
    const key = labelKey(labels);
    m.set(key, (m.get(key) ?? 0) + by);
  }

  /** A counter's value (0 when never counted). */
  get(name: CounterName, labels: readonly string[] = []): number {
    return this.#values.get(name)?.get(labelKey(labels)) ?? 0;
  }

  /** Samples of one family: label set → value. */
  *samples(name: CounterName): IterableIterator<[Record<string, string>, number]> {
    const names = COUNTER_FAMILIES[name].labels;
    const m = this.#values.get(name);
    if (!m) {
      if (names.length === 0) yield [{}, 0];
      return;
    }
    for (const [key, v] of m) {
      const parts = key === "" && names.length === 0 ? [] : key.split("\u0000");
      const labels: Record<string, string> = {};
      names.forEach((n, i) => labels[n] = parts[i] ?? "");
      yield [labels, v];
    }
  }

  /** Every counted value as `{ family: { "label=value,...": n } }` (for `ctl stats --json`). */
  toJSON(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const name of Object.keys(COUNTER_FAMILIES) as CounterName[]) {
      const fam: Record<string, number> = {};
      for (const [labels, v] of this.samples(name)) {
        fam[Object.entries(labels).map(([k, x]) => `${k}=${x}`).join(",")] = v;
      }
      out[name] = fam;
    }
    return out;
  }
}

/** A session's free-text protocol-error reason as a bounded label (`command: xml 12` → ...). */
export function reasonLabel(reason: string): string {
  return reason.replace(/\d+/g, "N").replace(/[^\w:.\- ]/g, "").slice(0, 48);
}
