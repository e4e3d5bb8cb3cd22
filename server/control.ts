/**
 * The control channel of `dstm-server` (Kea style, `lib/ctl/protocol.ts`): what `ctl status`,
 * `ctl leases`, `ctl teps`, `ctl stats` and `ctl reload` answer, as text tables (`text`) and
 * JSON (`arguments`). Rendering is pure; the daemon supplies the data.
 *
 * @module
 */
import { type CtlResponse, formatTable } from "../lib/ctl/protocol.ts";
import type { LeaseView, TepView } from "./dstm_service.ts";

/** What `ctl status` shows. */
export interface StatusView {
  /** `dstm-server 0.1.0`. */
  readonly version: string;
  /** `deno 2.9.6` / `bun 1.4.5`. */
  readonly runtime: string;
  /** Process id. */
  readonly pid: number;
  /** Start time, ISO 8601. */
  readonly startedAt: string;
  /** Seconds since start. */
  readonly uptimeSeconds: number;
  /** Bound listeners, e.g. `tcp [::]:3653`. */
  readonly listening: readonly string[];
  /** The pool and its use. */
  readonly pool: {
    readonly cidr: string;
    readonly size: number;
    readonly leased: number;
    readonly quarantined: number;
    readonly available: number;
  };
  /** TEPs configured and up. */
  readonly teps: { readonly configured: number; readonly up: number };
  /** Open sessions. */
  readonly connections: { readonly tcp: number; readonly udp: number; readonly max: number };
  /** The lease journal. */
  readonly store: {
    readonly dir: string;
    readonly generation: number;
    readonly journalBytes: number;
    readonly records: number;
  };
  /** Mechanisms offered. */
  readonly mechanisms: readonly string[];
}

/** `ctl status`. */
export function renderStatus(s: StatusView): CtlResponse {
  const text = [
    `${s.version} (${s.runtime}), pid ${s.pid}, up ${s.uptimeSeconds} s since ${s.startedAt}`,
    `listening:   ${s.listening.join(", ")}`,
    `pool:        ${s.pool.cidr}: ${s.pool.size} addresses, ${s.pool.leased} leased, ` +
    `${s.pool.quarantined} quarantined, ${s.pool.available} available`,
    `teps:        ${s.teps.up} of ${s.teps.configured} up`,
    `sessions:    ${s.connections.tcp} tcp, ${s.connections.udp} udp (max ${s.connections.max})`,
    `auth:        ${s.mechanisms.join(" ")}`,
    `journal:     ${s.store.dir} generation ${s.store.generation}, ${s.store.journalBytes} bytes`,
  ].join("\n") + "\n";
  return { result: 0, text, arguments: s };
}

/** `ctl leases`. */
export function renderLeases(
  v: { leases: readonly LeaseView[]; quarantine: readonly { ipv4: string; until: string }[] },
): CtlResponse {
  const rows = v.leases.map((l) => [
    l.ipv4,
    l.clientIpv6,
    l.identity || "(anonymous)",
    l.tep,
    l.expiresAt,
    `${l.remainingSeconds}s`,
    l.tepsThatQueried.join(",") || "-",
  ]);
  const text =
    (rows.length
      ? formatTable(["IPV4", "CLIENT IPV6", "IDENTITY", "TEP", "EXPIRES", "LEFT", "ALSO AT"], rows)
      : "") +
    `${v.leases.length} lease${v.leases.length === 1 ? "" : "s"}, ` +
    `${v.quarantine.length} address${v.quarantine.length === 1 ? "" : "es"} in quarantine\n`;
  return { result: 0, text, arguments: v };
}

/** `ctl teps`. */
export function renderTeps(teps: readonly TepView[]): CtlResponse {
  const rows = teps.map((t) => [
    t.name + (t.configured ? "" : " (removed)"),
    t.state,
    t.since,
    t.state === "up" ? `${t.transport} ${t.peer}` : "-",
    t.ipv6,
    t.ipv4,
    t.leases,
    t.pushes,
    t.queued,
  ]);
  const text = formatTable(
    ["TEP", "STATE", "SINCE", "SESSION", "IPV6", "IPV4", "LEASES", "PUSHES", "QUEUED"],
    rows,
  );
  return { result: 0, text, arguments: { teps } };
}

/** `ctl stats`: the non-zero counters, one per line, Prometheus style. */
export function renderStats(counters: Record<string, Record<string, number>>): CtlResponse {
  const lines: string[] = [];
  for (const [name, fam] of Object.entries(counters)) {
    for (const [labels, v] of Object.entries(fam)) {
      if (v !== 0) lines.push(`${name}${labels ? `{${labels}}` : ""} ${v}`);
    }
  }
  return { result: 0, text: lines.join("\n") + (lines.length ? "\n" : ""), arguments: counters };
}
