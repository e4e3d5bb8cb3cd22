/**
 * Startup benchmark: size of each compiled binary, and the wall time of `--version` (process
 * start, runtime and module initialisation, exit), median of 7 runs. The time until each daemon
 * is ready in a real start (server listening, TEP session up, client interface up) is measured by
 * the other sections and merged into this one by `main.ts`.
 *
 * @module
 */
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { median, round } from "./_util.ts";
import type { Launcher } from "./tep_bench.ts";

/** Options of {@link startupBench}. */
export interface StartupBenchOptions {
  readonly launch: Launcher;
  readonly binDir: string;
  readonly log: (s: string) => void;
}

/** One program. */
export interface StartupRow {
  readonly program: string;
  /** Size of the compiled binary, MiB. */
  readonly sizeMiB: number;
  /** Median wall time of `--version`, ms. */
  readonly versionMs: number;
  /** Spawn until ready (set by the other sections), ms. */
  readyMs?: number;
  /** What "ready" means for this program. */
  readyEvent?: string;
}

/** The startup section's result. */
export interface StartupResult {
  readonly rows: StartupRow[];
}

/** Run the startup section. */
export function startupBench(o: StartupBenchOptions): Promise<StartupResult> {
  const rows: StartupRow[] = [];
  for (const p of ["server", "tep", "client"] as const) {
    const bin = path.join(o.binDir, `dstm-${p}`);
    const sizeMiB = fs.existsSync(bin) ? round(fs.statSync(bin).size / 2 ** 20, 1) : NaN;
    const argv = o.launch(p);
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      const r = spawnSync(argv[0], [...argv.slice(1), "--version"], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`${p} --version: ${r.stderr}`);
      times.push(performance.now() - t0);
    }
    rows.push({ program: `dstm-${p}`, sizeMiB, versionMs: round(median(times), 1) });
    o.log(`startup: dstm-${p} ${sizeMiB} MiB, --version ${median(times).toFixed(1)} ms`);
  }
  return Promise.resolve({ rows });
}
