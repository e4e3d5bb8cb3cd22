/**
 * `dstm-client ctl status`: the agent's state plus the data-plane counters, as JSON (`--json`,
 * the control channel's `arguments`) and as text for people, each counter with its explanation
 * (the named drop reasons of lib/client, in the manner of Jool's `stats`).
 *
 * @module
 */
import {
  CLIENT_DROP_REASONS,
  CLIENT_TRAFFIC_COUNTERS,
  type ClientDropReason,
  type ClientTrafficCounter,
} from "../lib/client/mod.ts";
import type { AgentStatus } from "./agent.ts";
import { type CounterBlock, IO_COUNTERS, type IoCounter, ioSnapshot } from "./io_counters.ts";

/** The `status` answer: the agent's view plus every counter. */
export interface StatusReport extends AgentStatus {
  /** Counters by name. */
  counters: {
    traffic: Record<ClientTrafficCounter, number>;
    drops: Record<ClientDropReason, number>;
    io: Record<IoCounter, number>;
  };
}

/** Combine the agent's status and the counter block. */
export function statusReport(status: AgentStatus, counters: CounterBlock): StatusReport {
  const snap = counters.dataplane.snapshot();
  return { ...status, counters: { ...snap, io: ioSnapshot(counters.io) } };
}

function row(name: string, value: string | number, help?: string): string {
  const left = `  ${name.padEnd(24)} ${String(value).padStart(10)}`;
  return help ? `${left}  ${help}` : left;
}

/** The text form of a {@link StatusReport}. */
export function formatStatus(r: StatusReport): string {
  const out: string[] = [];
  out.push(`lease: ${r.phase}`);
  if (r.lease) {
    const l = r.lease;
    out.push(`  ipv4          ${l.ipv4}/32`);
    out.push(`  tep           ${l.tep} (IPv4 ${l.tepIpv4})`);
    out.push(`  lifetime      ${l.lifetimeMinutes} min, granted ${l.grantedAt}`);
    out.push(`  renew at      ${l.renewAt} (T1 = half the lifetime)`);
    out.push(`  rebind until  ${l.rebindAt} (T2: last renewal attempt)`);
    out.push(`  expires       ${l.expiresAt}`);
  }
  const s = r.leaseStats;
  out.push(
    `  grants ${s.grants}, renewals ${s.renewals}, TEP changes ${s.tepChanges}, ` +
      `losses ${s.losses}, protocol errors ${s.protocolErrors}, stale events ${s.staleEvents}`,
  );
  const t = r.tsp;
  out.push(
    `tsp: server ${t.server}, source ${t.source ?? "(not yet known)"}, connection ${t.link}` +
      (t.phase ? `, session ${t.phase}` : "") + (t.version ? `, version ${t.version}` : ""),
  );
  out.push(
    `  connections ${t.connections}, answers ${t.answers}, failures ${t.failures}, ` +
      `pushes ${t.pushes}, protocol errors ${t.protocolErrors}`,
  );
  const m = r.tep;
  if (!m.enabled) out.push("tep liveness: keepalive off");
  else {
    out.push(
      `tep liveness: ${m.active ? (m.failed ? "FAILED" : "answering") : "idle"}, every ` +
        `${Math.round(m.intervalMs / 100) / 10} s, misses ${m.misses}, failures ${m.failures}` +
        (m.srttMs !== undefined ? `, srtt ${Math.round(m.srttMs * 10) / 10} ms` : ""),
    );
    out.push(
      `  probes ${m.probesSent}, replies ${m.repliesReceived}, unmatched ${m.unmatchedReplies}, ` +
        `ICMPv6 errors ${m.icmpErrors}`,
    );
  }
  const src = r.tepSources;
  const accepted = [...src.configured, ...src.learnedBlocks];
  out.push(
    `accepted tunnel sources: ${accepted.join(" ") || "(none)"}` +
      (src.configured.length === 0 ? " (the /64 of each TEP the server named)" : "") +
      (src.namedTeps.length ? `; TEPs named: ${src.namedTeps.join(" ")}` : ""),
  );
  const i = r.interface;
  out.push(
    `interface: ${i.name}, mtu ${i.mtu}, ${i.ipv4 ? `ipv4 ${i.ipv4}/32` : "no address"}` +
      (i.routes.length ? `, routes ${i.routes.join(" ")}` : "") +
      (i.foreignRoutes.length ? ` (left alone: ${i.foreignRoutes.join(" ")})` : ""),
  );
  out.push("traffic:");
  for (const c of CLIENT_TRAFFIC_COUNTERS) {
    out.push(row(c.name, r.counters.traffic[c.name], c.help));
  }
  out.push("drops:");
  for (const c of CLIENT_DROP_REASONS) out.push(row(c.name, r.counters.drops[c.name], c.help));
  out.push("data-plane I/O:");
  for (const c of IO_COUNTERS) out.push(row(c.name, r.counters.io[c.name], c.help));
  return out.join("\n") + "\n";
}
