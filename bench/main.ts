/**
 * The dstm benchmark suite (run as root through `bash bench/run.sh`, which installs iperf3 and
 * nftables if missing, builds the binaries and the packet generator first):
 *
 *   deno run -A bench/main.ts [--only tep,tep-deno,client,server,startup]
 *                             [--launch dist|deno|bun] [--bin-dir DIR] [--rounds N] [--quick]
 *                             [--out FILE]
 *
 * Prints a table and writes everything as JSON to `bench/out/latest.json`. Sections:
 * - `tep`: TEP forwarding, both directions, 64 and 1400-byte inner packets, against the kernel's
 *   own IPv4 forwarding in the same run and namespaces (`tep_bench.ts`);
 * - `client`: TCP goodput through the client and TEP against the plain IPv6 path (`client_bench.ts`);
 * - `server`: TSP allocations and queries per second, latency, RSS with many leases, allocation
 *   time by pool size (`server_bench.ts`);
 * - `startup`: startup time and size of each compiled binary (`startup_bench.ts`).
 *
 * @module
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { BUN, DENO, loadNote, OUT, ROOT, shTry } from "./_util.ts";
import { type Launcher, tepBench } from "./tep_bench.ts";
import { clientBench } from "./client_bench.ts";
import { serverBench } from "./server_bench.ts";
import { startupBench } from "./startup_bench.ts";
import { renderTables, type ReportInput } from "./report.ts";

const args = process.argv.slice(2);
function flag(name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}
const quick = args.includes("--quick");
const only = new Set((flag("only") ?? "tep,tep-deno,client,server,startup").split(","));
const launchMode = (flag("launch") ?? "dist") as "dist" | "deno" | "bun";
const rounds = Number(flag("rounds") ?? (quick ? 1 : 3));
const binDir = flag("bin-dir") ?? path.join(OUT, "bin");
const outFile = flag("out") ?? path.join(OUT, "latest.json");
// Other work on a shared machine competes with the user-space programs but not with the kernel's
// softirq forwarding: run the bench's own processes at a higher priority (BENCH_NICE=0: off).
const niceLevel = Number(process.env.BENCH_NICE ?? -10);
const nice = niceLevel !== 0 ? ["nice", "-n", String(niceLevel)] : [];

if (typeof process.getuid === "function" && process.getuid() !== 0) {
  console.error("bench: run as root (namespaces, TUN devices, raw sockets)");
  process.exit(2);
}

const launch: Launcher = (p) => {
  switch (launchMode) {
    case "dist":
      return [path.join(binDir, `dstm-${p}`)];
    case "deno":
      return [DENO, "run", "-A", path.join(ROOT, p, "main.ts")];
    case "bun":
      return [BUN, path.join(ROOT, p, "main.ts")];
  }
};
const tspLoad = [BUN, path.join(ROOT, "bench", "tsp_load.ts")];
const t0 = performance.now();
const log = (s: string) =>
  console.error(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${s}`);

function machine(): Record<string, unknown> {
  const cpu = fs.readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1];
  const ver = (cmd: string, a: string[]) => shTry(cmd, a).stdout.split("\n")[0].trim();
  return {
    nproc: os.cpus().length,
    cpu,
    kernel: ver("uname", ["-sr"]),
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    deno: ver(DENO, ["--version"]),
    bun: ver(BUN, ["--version"]),
    gcc: ver("gcc", ["--version"]),
    iperf3: ver("iperf3", ["--version"]),
  };
}

const started = new Date().toISOString();
const result: ReportInput = {
  started,
  machine: machine(),
  launch: launchMode,
  loadBefore: loadNote(),
  errors: {},
};
log(`machine ${JSON.stringify(result.machine)}`);
log(`load before ${JSON.stringify(result.loadBefore)}`);

async function section<T>(name: string, f: () => Promise<T>): Promise<T | undefined> {
  if (!only.has(name)) return undefined;
  const s = performance.now();
  try {
    const r = await f();
    log(`${name} done in ${((performance.now() - s) / 1000).toFixed(0)} s`);
    return r;
  } catch (e) {
    result.errors[name] = (e as Error).stack ?? String(e);
    log(`${name} FAILED: ${(e as Error).message}`);
    return undefined;
  }
}

result.startup = await section("startup", () => startupBench({ launch, binDir, log }));
const tepOptions = {
  tspLoad,
  rounds,
  seconds: quick ? 2 : 3,
  stepSeconds: 2,
  steps: [100_000, 200_000, 350_000, 500_000, 650_000, 800_000],
  sizes: [64, 1400],
  nice,
  log,
};
result.tep = await section(
  "tep",
  () => tepBench({ ...tepOptions, launch, label: launchMode, references: true }),
);
// The same TEP under Deno (the binaries are Bun): operators may run either.
if (launchMode === "dist") {
  result.tepDeno = await section("tep-deno", () =>
    tepBench({
      ...tepOptions,
      launch: (p) => [DENO, "run", "-A", path.join(ROOT, p, "main.ts")],
      label: "deno",
      references: false,
    }));
}
result.client = await section(
  "client",
  () => clientBench({ launch, tspLoad, seconds: quick ? 3 : 5, rounds: quick ? 1 : 2, nice, log }),
);
let serverReadyMs = NaN;
result.server = await section(
  "server",
  () => serverBench({ launch, tspLoad, quick, startup: (ms) => (serverReadyMs = ms), log }),
);
if (result.startup) {
  const ready: Record<string, [number, string]> = {
    "dstm-server": [serverReadyMs, "listening (empty state)"],
    "dstm-tep": [result.tep?.tepReadyMs ?? NaN, "TSP session up (TUN, routes, Worker, DIGEST-MD5)"],
    "dstm-client": [
      result.client?.clientReadyMs ?? NaN,
      "interface up (lease over TSP, TUN, routes)",
    ],
  };
  for (const row of result.startup.rows) {
    const [ms, what] = ready[row.program] ?? [NaN, ""];
    row.readyMs = Math.round(ms);
    row.readyEvent = what;
  }
}
result.loadAfter = loadNote();
result.seconds = Math.round((performance.now() - t0) / 1000);

fs.mkdirSync(OUT, { recursive: true });
fs.writeFileSync(outFile, JSON.stringify(result, null, 2) + "\n");
console.log(renderTables(result));
log(`wrote ${outFile} (${result.seconds} s)`);
process.exit(Object.keys(result.errors).length > 0 ? 1 : 0);
