#!/usr/bin/env -S deno run -A
/**
 * The multi-TEP DSTM demo: Figure 1 of draft-jaehwoon-dstm-multitep-02 on one machine, in network
 * namespaces, with the compiled binaries, real TUN devices and real kernel routing.
 *
 *   npm run demo            build if needed, run every step, tear down
 *   npm run demo -- --keep  leave the namespaces and programs up for exploring
 *
 * Needs root (network namespaces, TUN devices). Ctrl-C tears everything down.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { buildDomain, type Domain } from "./topology.ts";
import { nsTry, removeStale } from "./netns.ts";
import { DomainRun, type LaunchMode, type Proc, ROOT, waitFor } from "./domain_run.ts";

const { values: flags } = parseArgs({
  options: {
    keep: { type: "boolean" },
    clean: { type: "boolean" },
    mode: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
  strict: true,
});
if (flags.help) {
  console.log(
    "Usage: npm run demo [-- --keep] [-- --mode dist|deno|bun]\n" +
      "Builds the draft's Figure 1 in network namespaces and shows DSTM with two TEPs working:\n" +
      "a lease, IPv4 traffic out through TEP1 and back through TEP2 (after TEP2 asks the server),\n" +
      "then TEP1 stopped and traffic continuing through TEP2. --keep leaves everything up;\n" +
      "--clean removes what a kept run left. --mode runs the entry points under deno or bun\n" +
      "instead of the compiled binaries.",
  );
  process.exit(0);
}
const mode = (flags.mode ?? "dist") as LaunchMode;
if (flags.mode !== undefined && !["dist", "deno", "bun"].includes(flags.mode)) {
  console.error(`demo: --mode must be dist, deno or bun, not ${flags.mode}`);
  process.exit(2);
}
const tty = process.stdout.isTTY;
const c = (code: string, s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = (s: string) => c("1", s);
const dim = (s: string) => c("2", s);
const green = (s: string) => c("32", s);
const red = (s: string) => c("31", s);
const OK = green("✔");
const FAIL = red("✘");

if (typeof process.getuid === "function" && process.getuid() !== 0) {
  console.error("demo: needs root (network namespaces and TUN devices): run it with sudo");
  process.exit(77);
}

const PREFIX = "dstm-";
if (flags.clean) {
  const gone = removeStale(PREFIX);
  console.log(gone.length ? `removed ${gone.join(", ")}` : "nothing to remove");
  process.exit(0);
}
const results: { step: string; ok: boolean; detail: string }[] = [];
let domain: Domain | undefined;
let run: DomainRun | undefined;
let tearingDown = false;
let leasedIpv4 = "";

async function teardown(): Promise<void> {
  if (tearingDown) return;
  tearingDown = true;
  await run?.stopAll();
  domain?.run.teardown();
}

process.on("SIGINT", async () => {
  console.log("\ninterrupted: tearing down");
  await teardown();
  process.exit(130);
});

let stepNo = 0;
const TOTAL = 9;
async function step<T>(title: string, fn: () => Promise<[T, string]> | [T, string]): Promise<T> {
  stepNo++;
  const label = `[${stepNo}/${TOTAL}] ${title}`;
  process.stdout.write(`${label} ${dim(".".repeat(Math.max(2, 44 - label.length)))} `);
  const t0 = performance.now();
  try {
    const [value, detail] = await fn();
    const ms = performance.now() - t0;
    console.log(
      `${OK} ${detail} ${
        dim(`(${ms < 1000 ? ms.toFixed(0) + " ms" : (ms / 1000).toFixed(1) + " s"})`)
      }`,
    );
    results.push({ step: title, ok: true, detail });
    return value;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    console.log(`${FAIL} ${msg}`);
    results.push({ step: title, ok: false, detail: msg });
    throw e;
  }
}

function ensureBuilt(): void {
  if (mode !== "dist") return;
  const missing = ["server", "tep", "client"].filter((p) =>
    !fs.existsSync(path.join(ROOT, "dist", `dstm-${p}`))
  );
  if (missing.length === 0) return;
  console.log(dim("building the binaries (bun build --compile) ..."));
  const r = spawnSync("bash", [path.join(ROOT, "scripts/build.sh")], { stdio: "inherit" });
  if (r.status !== 0) throw new Error("build failed");
}

function topologyText(): string {
  return [
    bold("dstm demo") + ": DSTM with multiple TEPs (draft-jaehwoon-dstm-multitep-02), Figure 1",
    "",
    "        IPv6-only DSTM domain                               |          IPv4 world",
    "                                                            |",
    "   client 2001:db8:100::10 ──┐          ┌── TEP1 2001:db8:ffff::1 ── 192.0.2.1 ──┐",
    "                             ├── r6 ────┤                                         ├── r4 ── z 203.0.113.5",
    "   server 2001:db8:1::1 ─────┘          └── TEP2 2001:db8:ffff::2 ── 192.0.2.2 ──┘",
    "                                                            |",
    "   pool 198.51.100.0/24 shared by both TEPs; r4 routes the pool to TEP2,",
    "   so replies come back through a different TEP from the one the client uses.",
    "",
  ].join("\n");
}

interface Counters {
  decap: number;
  encap: number;
  queries: number;
}

function tepCounters(p: Proc): Counters {
  const s = run!.ctl("tep", p, "stats") as Record<string, unknown>;
  const n = (k: string) => findNumber(s, k) ?? 0;
  return { decap: n("decapPackets"), encap: n("encapPackets"), queries: n("queriesSent") };
}

/** Find a numeric field by name anywhere in a JSON object. */
function findNumber(o: unknown, key: string): number | undefined {
  if (o && typeof o === "object") {
    for (const [k, v] of Object.entries(o)) {
      if (k === key && typeof v === "number") return v;
      const inner = findNumber(v, key);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}

async function main(): Promise<void> {
  console.log(topologyText());
  ensureBuilt();
  removeStale(PREFIX);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dstm-demo-"));

  domain = await step("Building the topology", () => {
    const d = buildDomain({ prefix: PREFIX, clients: 1 });
    return [d, `${d.run.alive().length} namespaces, veth links, IPv6 router r6, IPv4 router r4`];
  });
  run = new DomainRun(domain, { mode, dir });
  const d = domain;

  const server = await step("Starting dstm-server", async () => {
    const p = run!.startServer(["--lifetime", "60"]);
    const up = await waitFor(() => run!.tryCtl("server", p, "status"), 15_000);
    if (!up) throw new Error(`server did not come up:\n${run!.tail(p)}`);
    return [p, `TSP on [${d.server.ipv6}]:3653, pool ${d.pool}`];
  });

  const [tep1, tep2] = await step("Starting TEP1 and TEP2", async () => {
    const t1 = run!.startTep(0);
    const t2 = run!.startTep(1);
    const both = await waitFor(() => {
      const teps = run!.tryCtl("server", server, "teps") as {
        teps?: { name: string; state: string }[];
      };
      const list = teps?.teps ?? [];
      return list.filter((t) => t.state === "up").length === 2;
    }, 20_000);
    if (!both) throw new Error(`TEPs did not connect:\n${run!.tail(t1)}\n${run!.tail(t2)}`);
    return [[t1, t2], "both authenticated to the server (DIGEST-MD5), TUNs and routes up"];
  });

  const clientConfig = path.join(dir, "client.json");
  fs.writeFileSync(clientConfig, JSON.stringify({ keepaliveSeconds: 1, keepaliveMisses: 3 }));
  const client = await step("Starting dstm-client", async () => {
    const p = run!.startClient(0, ["--config", clientConfig]);
    const lease = await waitFor(() => {
      const s = run!.tryCtl("client", p, "status") as Record<string, unknown> | undefined;
      const l = s?.lease as { ipv4?: string } | undefined;
      return l?.ipv4 ? s : undefined;
    }, 20_000);
    if (!lease) throw new Error(`no lease:\n${run!.tail(p)}`);
    const l = lease.lease as {
      ipv4: string;
      lifetimeMinutes: number;
      tep: string;
      tepIpv4: string;
    };
    if (l.tep !== d.teps[0].ipv6) throw new Error(`the server named ${l.tep}, expected TEP1`);
    leasedIpv4 = l.ipv4;
    return [
      p,
      `lease ${
        bold(l.ipv4)
      } for ${l.lifetimeMinutes} min via TEP1 ${l.tep} (${l.tepIpv4}), interface dstm0`,
    ];
  });

  await step("ping 203.0.113.5 from the client", () => {
    const r = nsTry(d.clients[0].ns, "ping", ["-c", "3", "-i", "0.2", "-W", "2", d.z.ipv4]);
    const m = /(\d+) received/.exec(r.stdout);
    if (r.status !== 0) {
      throw new Error(`ping failed: ${r.stdout.trim().split("\n").slice(-2).join(" ")}`);
    }
    const rtt = /= [\d.]+\/([\d.]+)\//.exec(r.stdout)?.[1];
    return [undefined, `${m?.[1] ?? "?"}/3 replies, avg rtt ${rtt} ms`];
  });

  await step("TCP exchange with 203.0.113.5", async () => {
    const echo = path.join(ROOT, "demo/tcp_echo.mjs");
    const srv = spawn(
      "ip",
      ["netns", "exec", d.z.ns, "node", echo, "serve", "7777", "1"],
      {
        stdio: "ignore",
      },
    );
    try {
      const listening = await waitFor(
        () => /:7777 /.test(nsTry(d.z.ns, "ss", ["-Htln"]).stdout),
        5000,
        50,
      );
      if (!listening) throw new Error("the echo server on z did not start");
      const r = nsTry(d.clients[0].ns, "node", [
        echo,
        "exchange",
        d.z.ipv4,
        "7777",
        "65536",
      ], 20_000);
      if (r.status !== 0) {
        throw new Error(`TCP exchange failed: ${r.stderr.trim() || r.stdout.trim()}`);
      }
      return [undefined, r.stdout.trim()];
    } finally {
      srv.kill();
    }
  });

  await step("Checking the path through the TEPs", () => {
    const c1 = tepCounters(tep1);
    const c2 = tepCounters(tep2);
    if (c1.decap === 0) throw new Error("TEP1 decapsulated nothing");
    if (c2.encap === 0) throw new Error("TEP2 encapsulated nothing");
    if (c2.queries === 0) throw new Error("TEP2 never asked the server");
    console.log("");
    console.log(
      dim("      TEP    decapsulated (client→IPv4)  encapsulated (IPv4→client)  queries sent"),
    );
    console.log(
      `      TEP1   ${String(c1.decap).padStart(26)}  ${String(c1.encap).padStart(26)}  ${
        String(c1.queries).padStart(12)
      }`,
    );
    console.log(
      `      TEP2   ${String(c2.decap).padStart(26)}  ${String(c2.encap).padStart(26)}  ${
        String(c2.queries).padStart(12)
      }`,
    );
    process.stdout.write("      ");
    return [undefined, `out via TEP1, back via TEP2 after ${c2.queries} query to the server`];
  });

  await step("Failover: stopping TEP1", async () => {
    const t0 = Date.now();
    await run!.stop(tep1, "SIGTERM");
    const ok = await waitFor(
      () => {
        const r = nsTry(d.clients[0].ns, "ping", ["-c", "1", "-W", "1", d.z.ipv4], 3000);
        return r.status === 0;
      },
      60_000,
      200,
    );
    if (!ok) throw new Error(`no IPv4 connectivity after TEP1 stopped:\n${run!.tail(client)}`);
    const s = run!.ctl("client", client, "status") as { lease?: { ipv4: string; tep: string } };
    if (s.lease?.tep !== d.teps[1].ipv6) throw new Error(`client's TEP is ${s.lease?.tep}`);
    if (s.lease?.ipv4 !== leasedIpv4) throw new Error(`address changed to ${s.lease?.ipv4}`);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    return [
      undefined,
      `traffic flows through TEP2 ${s.lease?.tep} after ${secs} s, same address ${s.lease?.ipv4}`,
    ];
  });

  if (flags.keep) {
    console.log(
      dim(`[${TOTAL}/${TOTAL}] --keep: the client keeps its lease; the programs stay up`),
    );
    return;
  }
  await step("Releasing the lease", async () => {
    await run!.stop(client, "SIGTERM");
    const leases = run!.ctl("server", server, "leases") as { leases?: unknown[] };
    const n = leases.leases?.length ?? -1;
    if (n !== 0) throw new Error(`server still lists ${n} lease(s)`);
    const link = nsTry(d.clients[0].ns, "ip", ["link", "show", "dstm0"]);
    if (link.status === 0) throw new Error("dstm0 is still there");
    const routes = nsTry(d.clients[0].ns, "ip", ["-4", "route", "show"]).stdout.trim();
    if (routes !== "") throw new Error(`IPv4 routes left: ${routes}`);
    return [undefined, "client sent delete; server has no leases; dstm0 and its routes are gone"];
  });
}

let failed = false;
try {
  await main();
} catch {
  failed = true;
}
console.log("");
console.log(bold("Summary"));
for (const r of results) console.log(`  ${r.ok ? OK : FAIL} ${r.step}`);
if (flags.keep && domain) {
  console.log("");
  console.log(bold("Left running (--keep). Explore with:"));
  for (const ns of domain.run.alive()) console.log(`  sudo ip netns exec ${ns} bash`);
  console.log(`  logs and sockets: ${run?.opts.dir}`);
  console.log(
    `  remove everything: npm run demo -- --clean  (running the demo again also does it)`,
  );
} else {
  await teardown();
  const left = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout
    .split("\n").filter((l) => l.startsWith(PREFIX));
  console.log(
    left.length
      ? `  ${FAIL} namespaces left behind: ${left.join(", ")}`
      : `  ${OK} torn down: no namespace left`,
  );
}
console.log(failed ? red("demo failed") : green("demo passed: every step worked"));
process.exit(failed ? 1 : 0);
