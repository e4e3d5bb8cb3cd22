/**
 * Server benchmark: `dstm-server` in a namespace of its own, reached over loopback by the TSP load
 * generator (`tsp_load.ts`, many concurrent sessions in one Bun process; over loopback the server
 * takes the client IPv6 address named in each request).
 *
 * - allocations per second on fresh TCP sessions (connect, VERSION, AUTHENTICATE, create, info,
 *   accept, close), ANONYMOUS and DIGEST-MD5, with p50/p99 latency; pool /12, state on disk with
 *   the default group-committed `fdatasync`;
 * - queries per second over one persistent TEP session (DIGEST-MD5 as the TEP), one query in flight
 *   (latency) and pipelined;
 * - RSS of the server holding 100k and 1M leases (state prepared through `lib/lease` by
 *   `lease_fill.ts`, then the server started on it), with its start time;
 * - allocation latency over TSP at pool sizes /24, /16 and /12 (200 sequential allocations each),
 *   and `LeaseAllocator.create` alone at empty, half and nearly full pools.
 *
 * The server runs with `--log-level warn` (at `info` it writes one line per allocation and per
 * query, which the bench would then be measuring).
 *
 * @module
 */
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { NetnsRun } from "../demo/netns.ts";
import { BUN, Daemon, nsRunAsync, ROOT, round, rssBytes, sleep } from "./_util.ts";
import type { Launcher } from "./tep_bench.ts";

/** Options of {@link serverBench}. */
export interface ServerBenchOptions {
  readonly launch: Launcher;
  readonly tspLoad: string[];
  readonly quick: boolean;
  /** Seconds to spawn the server until it listens, filled in (startup section). */
  readonly startup?: (ms: number) => void;
  readonly log: (s: string) => void;
}

/** A load run's result as `tsp_load.ts` prints it. */
export interface LoadRun {
  readonly ok: number;
  readonly failed: number;
  readonly seconds: number;
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly codes: Record<string, number>;
  readonly concurrency?: number;
  readonly window?: number;
}

/** The server section's result. */
export interface ServerResult {
  readonly allocAnonymous: LoadRun;
  readonly allocDigest: LoadRun;
  readonly queryWindow1: LoadRun;
  readonly queryPipelined: LoadRun;
  readonly memory: {
    leases: number;
    rssMiB: number;
    startSeconds: number;
    fillSeconds: number;
  }[];
  readonly poolSizes: { pool: string; p50Ms: number; p99Ms: number; rate: number }[];
  readonly allocatorMicro: unknown;
  /** Server RSS after the allocation runs. */
  readonly rssAfterLoadMiB: number;
}

const SERVER = "::1";
const PORT = 3653;

/** Run the server section. */
export async function serverBench(o: ServerBenchOptions): Promise<ServerResult> {
  const run = new NetnsRun(`db${process.pid % 100000}s`);
  const dir = fs.mkdtempSync(path.join(ROOT, "bench", "out", "server-"));
  const daemons: Daemon[] = [];
  try {
    const ns = run.add("srv");
    const users = ["tep1:tep1-secret:tep"];
    for (let i = 1; i <= 64; i++) users.push(`user${i}:pass${i}:client`);
    fs.writeFileSync(path.join(dir, "users"), users.join("\n") + "\n", { mode: 0o600 });
    fs.writeFileSync(
      path.join(dir, "config.json"),
      JSON.stringify({
        allowAnonymous: true,
        maxLeasesPerIdentity: 16777216,
        maxConnections: 8192,
        tepPushQueue: 16777216,
      }),
    );
    let serial = 0;
    const start = async (pool: string, state: string) => {
      const d = new Daemon(`server${serial++}`, ns, [
        ...o.launch("server"),
        "--config",
        path.join(dir, "config.json"),
        "--listen",
        `[${SERVER}]:${PORT}`,
        "--pool",
        pool,
        "--tep",
        "tep1,2001:db8:ffff::1,192.0.2.1",
        "--credentials",
        path.join(dir, "users"),
        "--state-dir",
        state,
        "--control",
        path.join(dir, `server${serial}.sock`),
        "--log-format",
        "json",
        "--log-level",
        "warn",
      ]);
      daemons.push(d);
      // At warn there is no `server.started` line: wait until it accepts connections.
      await waitListening(ns, 60_000);
      return d;
    };
    const load = async (cfg: Record<string, unknown>): Promise<LoadRun> => {
      const r = await nsRunAsync(ns, [
        ...o.tspLoad,
        JSON.stringify({ server: SERVER, port: PORT, ...cfg }),
      ], 300_000);
      const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
      const j = line ? JSON.parse(line) : undefined;
      if (!j || j.event === "error") throw new Error(`tsp_load: ${r.stdout} ${r.stderr}`);
      return j as LoadRun;
    };
    const secs = o.quick ? 3 : 5;

    // 1. Allocation rate, fresh sessions.
    const t0 = performance.now();
    const main = await start("10.16.0.0/12", path.join(dir, "state-main"));
    o.startup?.(performance.now() - t0);
    const userPairs = Array.from({ length: 64 }, (_, i) => [`user${i + 1}`, `pass${i + 1}`]);
    const allocAnonymous = {
      ...(await load({
        mode: "alloc",
        mechanism: "ANONYMOUS",
        concurrency: 64,
        seconds: secs,
        first: 0,
      })),
      concurrency: 64,
    };
    o.log(`server: ANONYMOUS ${JSON.stringify(allocAnonymous)}`);
    const allocDigest = {
      ...(await load({
        mode: "alloc",
        mechanism: "DIGEST-MD5",
        users: userPairs,
        concurrency: 512,
        seconds: secs,
        first: 1_000_000,
      })),
      concurrency: 512,
    };
    o.log(`server: DIGEST-MD5 ${JSON.stringify(allocDigest)}`);
    const leased = allocAnonymous.ok;
    // 2. Queries over one persistent TEP session (addresses from the pool start: leased first).
    const q = (window: number) =>
      load({
        mode: "query",
        user: "tep1",
        pass: "tep1-secret",
        window,
        seconds: o.quick ? 2 : 3,
        first: "10.16.0.1",
        count: Math.max(1, Math.min(leased, 4096)),
      });
    const queryWindow1 = await q(1);
    o.log(`server: queries, 1 in flight ${JSON.stringify(queryWindow1)}`);
    const queryPipelined = await q(64);
    o.log(`server: queries, 64 in flight ${JSON.stringify(queryPipelined)}`);
    const rssAfterLoadMiB = round(rssBytes(main.pid) / 2 ** 20, 1);
    await main.stop();

    // 3. Memory with 100k and 1M leases.
    const memory: ServerResult["memory"] = [];
    for (const count of o.quick ? [100_000] : [100_000, 1_000_000]) {
      const state = path.join(dir, `state-${count}`);
      const f = await nsRunAsync(ns, [
        BUN,
        path.join(ROOT, "bench", "lease_fill.ts"),
        JSON.stringify({ dir: state, pool: "10.16.0.0/12", count }),
      ], 300_000);
      const fl = f.stdout.split("\n").find((l) => l.startsWith("{"));
      if (!fl) throw new Error(`lease_fill: ${f.stdout} ${f.stderr}`);
      const fill = JSON.parse(fl);
      const s0 = performance.now();
      const d = await start("10.16.0.0/12", state);
      const startSeconds = (performance.now() - s0) / 1000;
      await sleep(1500);
      const rss = rssBytes(d.pid);
      memory.push({
        leases: count,
        rssMiB: round(rss / 2 ** 20, 1),
        startSeconds: round(startSeconds, 2),
        fillSeconds: fill.seconds,
      });
      o.log(`server: ${count} leases: RSS ${(rss / 2 ** 20).toFixed(0)} MiB`);
      await d.stop(10_000);
      fs.rmSync(state, { recursive: true, force: true });
    }

    // 4. Allocation latency by pool size.
    const poolSizes: ServerResult["poolSizes"] = [];
    for (const pool of ["10.16.0.0/24", "10.16.0.0/16", "10.16.0.0/12"]) {
      const d = await start(pool, path.join(dir, `state-${pool.replace("/", "_")}`));
      const r = await load({
        mode: "alloc",
        mechanism: "ANONYMOUS",
        concurrency: 1,
        count: 200,
        first: 2_000_000,
      });
      poolSizes.push({ pool, p50Ms: r.p50Ms, p99Ms: r.p99Ms, rate: r.rate });
      o.log(`server: pool ${pool}: ${JSON.stringify(r)}`);
      await d.stop();
    }
    const m = await nsRunAsync(ns, [
      BUN,
      path.join(ROOT, "bench", "lease_fill.ts"),
      JSON.stringify({ micro: true }),
    ]);
    const ml = m.stdout.split("\n").find((l) => l.startsWith("{"));
    const allocatorMicro = ml ? JSON.parse(ml).pools : { error: m.stderr };
    return {
      allocAnonymous,
      allocDigest,
      queryWindow1,
      queryPipelined,
      memory,
      poolSizes,
      allocatorMicro,
      rssAfterLoadMiB,
    };
  } finally {
    for (const d of daemons.reverse()) await d.stop(5000);
    run.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Wait until something accepts TCP connections on [::1]:PORT inside `ns`. */
async function waitListening(ns: string, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const r = await nsRunAsync(ns, ["ss", "-Hltn", `sport = :${PORT}`], 5000);
    if (r.stdout.includes(`:${PORT}`)) return;
    if (performance.now() > end) throw new Error("the server did not listen in time");
    await sleep(25);
  }
}
