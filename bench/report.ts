/**
 * The bench's tables, as Markdown (printed by `main.ts`, pasted into BENCHMARKS.md), from the
 * JSON result (`bench/out/latest.json`). `deno run -A bench/report.ts [file]` re-renders a saved
 * result.
 *
 * @module
 */
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import type { ClientResult } from "./client_bench.ts";
import type { ServerResult } from "./server_bench.ts";
import type { StartupResult } from "./startup_bench.ts";
import type { TepResult } from "./tep_bench.ts";

/** The parts of a result the tables use. */
export interface ReportInput {
  started: string;
  seconds?: number;
  machine: Record<string, unknown>;
  launch: string;
  loadBefore: unknown;
  loadAfter?: unknown;
  tep?: TepResult;
  tepDeno?: TepResult;
  client?: ClientResult;
  server?: ServerResult;
  startup?: StartupResult;
  errors: Record<string, string>;
}

const k = (n: number) => (Number.isFinite(n) ? Math.round(n / 1000).toLocaleString("en") : "-");
const pct = (r: number) => (Number.isFinite(r) ? `${Math.round(r * 100)} %` : "-");
const num = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : "-");

function table(head: string[], rows: (string | number)[][]): string {
  const lines = [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
  return lines.join("\n");
}

/** Markdown tables of `r`. */
export function renderTables(r: ReportInput): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(
    `Run ${r.started} (${r.seconds ?? "?"} s), programs: ${r.launch}. ` +
      `Machine: ${m.nproc} CPUs (${m.cpu}), ${m.kernel}, ${m.deno?.toString().split(" (")[0]}, ` +
      `bun ${m.bun}. Load before: ${
        JSON.stringify((r.loadBefore as { loadavg: number[] }).loadavg)
      }` +
      (r.loadAfter
        ? `, after: ${JSON.stringify((r.loadAfter as { loadavg: number[] }).loadavg)}`
        : ""),
  );
  for (const t of [r.tep, r.tepDeno]) {
    if (!t) continue;
    const refs = t.cases.some((c) => c.kernelRps.length > 0);
    out.push(
      `\n### TEP forwarding, dstm-tep ${
        t.launch === "dist" ? "binary (Bun)" : `under ${t.launch}`
      } ` +
        "(kpps of inner IPv4 packets; median of the rounds, best round in brackets)\n",
    );
    out.push(table(
      [
        "direction",
        "size",
        "kernel IPv4 fwd",
        "dstm-tep",
        "ratio",
        "dstm-tep Mbit/s",
        "loss-free",
        "TEP CPU µs/pkt",
        "≙ kpps per CPU",
        ...(refs ? ["kernel + RPS", "C ref. read/write · io_uring"] : []),
      ],
      t.cases.map((c) => [
        c.direction === "encap" ? "encap (IPv4 → client)" : "decap (client → IPv4)",
        `${c.size} B`,
        `${k(c.kernelPps)} (${k(c.kernelBestPps)})`,
        `${k(c.tepPps)} (${k(c.tepBestPps)})`,
        `**${pct(c.ratio)}** (${pct(c.ratioBest)})`,
        num(c.tepMbps),
        c.lossFreePps > 0 ? `≥ ${k(c.lossFreePps)}` : "< 100",
        num(c.tepCpuUsPerPacket, 2),
        k(1e6 / c.tepCpuUsPerPacket),
        ...(refs
          ? [
            k(c.kernelRpsPps),
            c.cPlain ? `${k(c.cPlain.delivered)} · ${k(c.cUring?.delivered ?? NaN)}` : "-",
          ]
          : []),
      ]),
    ));
    const steps = t.cases.map((c) =>
      `${c.direction} ${c.size} B: ` +
      c.lossFree.map((s) => `${k(s.target)}→${s.lossPct}%`).join(", ")
    );
    out.push(`\nLoss-free search (offered kpps → loss): ${steps.join("; ")}.`);
  }
  if (r.client) {
    const c = r.client;
    out.push("\n### Client TCP goodput (iperf3, Mbit/s)\n");
    out.push(table(
      [
        "direction",
        "through dstm-client + dstm-tep",
        "plain IPv6",
        "ratio",
        "plain IPv6, offloads off",
        "ratio",
      ],
      [
        [
          "client → IPv4 host",
          num(c.tunnelUp.mbps),
          num(c.plainUp.mbps),
          `**${pct(c.ratioUp)}**`,
          num(c.plainNoOffloadUp?.mbps ?? NaN),
          pct(c.tunnelUp.mbps / (c.plainNoOffloadUp?.mbps ?? NaN)),
        ],
        [
          "IPv4 host → client",
          num(c.tunnelDown.mbps),
          num(c.plainDown.mbps),
          `**${pct(c.ratioDown)}**`,
          num(c.plainNoOffloadDown?.mbps ?? NaN),
          pct(c.tunnelDown.mbps / (c.plainNoOffloadDown?.mbps ?? NaN)),
        ],
      ],
    ));
    out.push(
      `\nCPU per Gbit through the tunnel: client ${num(c.clientCpuSecPerGbit, 2)} s, ` +
        `TEP ${num(c.tepCpuSecPerGbit, 2)} s.`,
    );
  }
  if (r.server) {
    const s = r.server;
    out.push("\n### Server\n");
    out.push(table(
      ["measure", "rate /s", "p50 ms", "p99 ms", "notes"],
      [
        [
          "allocations, fresh TCP session, ANONYMOUS",
          num(s.allocAnonymous.rate),
          num(s.allocAnonymous.p50Ms, 2),
          num(s.allocAnonymous.p99Ms, 2),
          `${s.allocAnonymous.concurrency} concurrent, ${s.allocAnonymous.ok} ok, ${s.allocAnonymous.failed} failed`,
        ],
        [
          "allocations, fresh TCP session, DIGEST-MD5",
          num(s.allocDigest.rate),
          num(s.allocDigest.p50Ms, 2),
          num(s.allocDigest.p99Ms, 2),
          `${s.allocDigest.concurrency} concurrent, ${s.allocDigest.ok} ok, ${s.allocDigest.failed} failed`,
        ],
        [
          "queries, one TEP session, 1 in flight",
          num(s.queryWindow1.rate),
          num(s.queryWindow1.p50Ms, 3),
          num(s.queryWindow1.p99Ms, 3),
          JSON.stringify(s.queryWindow1.codes),
        ],
        [
          "queries, one TEP session, 64 pipelined",
          num(s.queryPipelined.rate),
          num(s.queryPipelined.p50Ms, 3),
          num(s.queryPipelined.p99Ms, 3),
          JSON.stringify(s.queryPipelined.codes),
        ],
      ],
    ));
    out.push("");
    out.push(table(
      ["leases held", "server RSS MiB", "server start s (load the state)"],
      s.memory.map((x) => [x.leases.toLocaleString("en"), num(x.rssMiB), num(x.startSeconds, 2)]),
    ));
    out.push("");
    out.push(table(
      [
        "pool",
        "TSP allocation p50 ms",
        "p99 ms",
        "allocator µs/create empty · half · nearly full (median)",
      ],
      s.poolSizes.map((p) => {
        const micro =
          (s.allocatorMicro as { pool: string; usPerCreate: Record<string, { median: number }> }[])
            ?.find?.((x) => x.pool.endsWith(p.pool.slice(p.pool.indexOf("/"))));
        const u = micro?.usPerCreate;
        return [
          p.pool,
          num(p.p50Ms, 2),
          num(p.p99Ms, 2),
          u ? `${u.empty.median} · ${u.half.median} · ${u.nearlyFull.median}` : "-",
        ];
      }),
    ));
  }
  if (r.startup) {
    out.push("\n### Binaries\n");
    out.push(table(
      ["binary", "size MiB", "`--version` ms", "spawn → ready ms", "ready ="],
      r.startup.rows.map((x) => [
        x.program,
        num(x.sizeMiB, 1),
        num(x.versionMs, 0),
        num(x.readyMs ?? NaN, 0),
        x.readyEvent ?? "-",
      ]),
    ));
  }
  for (const [name, e] of Object.entries(r.errors)) {
    out.push(`\n**${name} failed:** ${e.split("\n")[0]}`);
  }
  return out.join("\n");
}

if (import.meta.main) {
  const file = process.argv[2] ?? path.join(import.meta.dirname ?? ".", "out", "latest.json");
  console.log(renderTables(JSON.parse(fs.readFileSync(file, "utf8"))));
}
