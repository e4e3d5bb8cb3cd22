/**
 * `dstm-tep ctl status|bindings|stats`: the answers of the control channel (Kea style: `result`,
 * `text`, `arguments`) and their text rendering. The daemon builds the `arguments` objects; this
 * file turns them into the tables an operator reads (`--json` prints `arguments` instead).
 *
 * @module
 */
import { formatTable } from "../lib/ctl/protocol.ts";
import type { BindingDumpEntry } from "./dataplane.ts";
import type { StatsSnapshot } from "./stats_layout.ts";
import type { TspLinkCounters } from "./tsp_link.ts";

/** `ctl status` arguments. */
export interface StatusInfo {
  readonly name: string;
  readonly server: string;
  readonly session: string;
  readonly sessionSince: string;
  readonly tspVersion: string;
  readonly lastDownReason: string;
  readonly interface: string;
  readonly address: string;
  readonly ipv4: string;
  readonly pool: string;
  readonly clientPrefixes: readonly string[];
  readonly bindings: number;
  readonly pendingQueries: number;
  readonly queuedPackets: number;
  readonly dropsTotal: number;
  readonly dataPlane: string;
  readonly uptimeSeconds: number;
  readonly runtime: string;
  readonly version: string;
}

/** `ctl stats` arguments. */
export interface StatsInfo extends StatsSnapshot {
  /** The TSP session's counters. */
  readonly session: TspLinkCounters & { readonly state: string };
}

function age(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** The text of `ctl status`. */
export function formatStatus(s: StatusInfo): string {
  const rows: [string, string | number][] = [
    ["TEP", `${s.name} (${s.address}, ${s.ipv4})`],
    [
      "server",
      `${s.server}: session ${s.session} since ${s.sessionSince}` +
      (s.tspVersion ? ` (TSP ${s.tspVersion})` : "") +
      (s.session !== "up" && s.lastDownReason ? `, last error: ${s.lastDownReason}` : ""),
    ],
    ["interface", s.interface],
    ["pool", s.pool],
    ["client prefixes", s.clientPrefixes.join(", ")],
    ["bindings", s.bindings],
    ["queries pending", `${s.pendingQueries} (${s.queuedPackets} packets waiting)`],
    ["drops", s.dropsTotal],
    ["data plane", s.dataPlane],
    ["uptime", age(s.uptimeSeconds * 1000)],
    ["version", `${s.version} (${s.runtime})`],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n") + "\n";
}

/** The text of `ctl bindings`. */
export function formatBindings(entries: readonly BindingDumpEntry[]): string {
  if (entries.length === 0) return "no bindings\n";
  return formatTable(
    ["IPV4", "CLIENT IPV6", "SOURCE", "EXPIRES IN", "AGE"],
    entries.map((e) => [e.ipv4, e.ipv6, e.source, age(e.expiresInMs), age(e.ageMs)]),
  ) + `${entries.length} binding${entries.length === 1 ? "" : "s"}\n`;
}

/** The text of `ctl stats`: every drop reason with its count and explanation, then the rest. */
export function formatStats(s: StatsInfo): string {
  const kv = (o: Record<string, number | string>) =>
    formatTable(["COUNTER", "VALUE"], Object.entries(o).map(([k, v]) => [k, v]));
  const total = s.drops.reduce((a, d) => a + d.count, 0);
  return [
    `Drops (${total} in all):`,
    formatTable(["REASON", "COUNT", "EXPLANATION"], s.drops.map((d) => [d.name, d.count, d.help])),
    "Forwarding:",
    kv(s.forward),
    "Server session:",
    kv(s.session as unknown as Record<string, number | string>),
    "Queries:",
    kv(s.scheduler),
    "Bindings:",
    kv(s.bindings),
    "Data-plane worker:",
    kv(s.worker),
  ].join("\n");
}
