/**
 * Helpers of the benchmark suite (not a library): commands in namespaces, kernel counters,
 * process CPU time, daemons with JSON log lines, and small statistics.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { ipJson, linkMac, nsRunAsync, sh, shTry } from "../demo/netns.ts";

export { ipJson, linkMac, nsRunAsync, sh, shTry };

/** The repository root. */
export const ROOT: string = path.resolve(import.meta.dirname ?? ".", "..");
/** Where the bench writes its outputs (gitignored). */
export const OUT: string = path.join(ROOT, "bench", "out");
/** The Deno and Bun executables of the repository. */
export const DENO: string = path.join(ROOT, "node_modules/.bin/deno");
/** The Bun executable of the repository. */
export const BUN: string = path.join(ROOT, "node_modules/.bin/bun");

/** Run `cmd` inside namespace `ns` (throws on failure). */
export function nsSh(ns: string, cmd: string, args: string[], timeoutMs = 60_000): string {
  return sh("ip", ["netns", "exec", ns, cmd, ...args], timeoutMs);
}

/** Link counters of `dev` in `ns` (64-bit). */
export function linkStats(
  ns: string,
  dev: string,
): { rxPackets: number; rxDropped: number; txPackets: number; txDropped: number } {
  const [l] = ipJson<
    {
      stats64: {
        rx: { packets: number; dropped: number };
        tx: { packets: number; dropped: number };
      };
    }[]
  >(ns, "-s", "link", "show", dev);
  return {
    rxPackets: l.stats64.rx.packets,
    rxDropped: l.stats64.rx.dropped,
    txPackets: l.stats64.tx.packets,
    txDropped: l.stats64.tx.dropped,
  };
}

/** CPU seconds (user + system, all threads) used so far by process `pid`. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in USER_HZ
  } catch {
    return NaN;
  }
}

/** Resident set size of `pid` in bytes (VmRSS), or NaN. */
export function rssBytes(pid: number): number {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /VmRSS:\s+(\d+) kB/.exec(s);
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Busy and total jiffies of every CPU (from /proc/stat). */
export function cpuTimes(): { busy: number; total: number }[] {
  const lines = fs.readFileSync("/proc/stat", "utf8").split("\n").filter((l) => /^cpu\d/.test(l));
  return lines.map((l) => {
    const v = l.split(/\s+/).slice(1).map(Number);
    const idle = v[3] + v[4];
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  });
}

/** Sleep `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The `q` quantile (0..1) of `xs` (nearest rank; NaN when empty). */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/** Median of `xs`. */
export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/** Load averages and the busiest other processes right now (for the noise note). */
export function loadNote(): { loadavg: number[]; top: string[] } {
  const r = shTry("ps", ["-eo", "pcpu,comm", "--sort=-pcpu", "--no-headers"]);
  const top = r.stdout.split("\n").map((l) => l.trim()).filter(Boolean).slice(0, 5);
  return { loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100), top };
}

/** A long-running program in a namespace; its stdout and stderr lines are kept (JSON parsed). */
export class Daemon {
  /** The `ip netns exec` child; it execs the program, so its pid is the program's. */
  readonly child: ChildProcess;
  /** A label for messages. */
  readonly name: string;
  /** Every output line. */
  readonly lines: string[] = [];
  /** Output lines that parsed as JSON objects. */
  readonly logs: Record<string, unknown>[] = [];
  /** When each of {@link logs} arrived (performance.now()). */
  readonly logAt: number[] = [];
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<number | string>;
  /** When it was spawned (performance.now()). */
  readonly startedAt: number;

  constructor(name: string, ns: string, argv: readonly string[], env: Record<string, string> = {}) {
    this.name = name;
    this.startedAt = performance.now();
    this.child = spawn("ip", ["netns", "exec", ns, ...argv], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", ...env },
    });
    for (const s of [this.child.stdout!, this.child.stderr!]) {
      let buf = "";
      s.setEncoding("utf8");
      s.on("data", (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          this.lines.push(line);
          if (line.startsWith("{")) {
            try {
              this.logs.push(JSON.parse(line));
              this.logAt.push(performance.now());
            } catch { /* not JSON */ }
          }
        }
      });
    }
    this.exited = new Promise((resolve) => {
      this.child.on("close", (code, signal) => resolve(code ?? signal ?? -1));
    });
  }

  /** The pid of the program. */
  get pid(): number {
    return this.child.pid!;
  }

  /** The first log line with `event` (and `fields`), waiting up to `timeoutMs`. */
  async waitFor(
    event: string,
    fields: Record<string, unknown> = {},
    timeoutMs = 30_000,
  ): Promise<Record<string, unknown>> {
    const end = performance.now() + timeoutMs;
    for (;;) {
      const hit = this.logs.find((l) =>
        l.event === event && Object.entries(fields).every(([k, v]) => l[k] === v)
      );
      if (hit) return hit;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`${this.name} exited before ${event}:\n${this.tail()}`);
      }
      if (performance.now() > end) {
        throw new Error(`${this.name}: no ${event} within ${timeoutMs} ms:\n${this.tail()}`);
      }
      await sleep(20);
    }
  }

  /** Milliseconds from spawn to the first log line with `event`, or NaN. */
  msUntil(event: string): number {
    const i = this.logs.findIndex((l) => l.event === event);
    return i < 0 ? NaN : this.logAt[i] - this.startedAt;
  }

  /** The last output lines. */
  tail(n = 20): string {
    return this.lines.slice(-n).join("\n");
  }

  /** SIGTERM (SIGKILL after `timeoutMs`) and wait. */
  async stop(timeoutMs = 5000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const kill = (sig: NodeJS.Signals) => {
      try {
        process.kill(this.child.pid!, sig);
      } catch { /* gone */ }
    };
    kill("SIGTERM");
    const t = setTimeout(() => kill("SIGKILL"), timeoutMs);
    await this.exited;
    clearTimeout(t);
  }
}

/** Whether `taskset` can pin processes here. */
export const HAS_TASKSET: boolean = shTry("taskset", ["-V"]).status === 0;

/** `taskset -c <cpu>` prefix (empty without taskset or with BENCH_NO_PIN=1). */
export function pin(cpu: number): string[] {
  return HAS_TASKSET && !process.env.BENCH_NO_PIN ? ["taskset", "-c", String(cpu)] : [];
}

/** Round to `d` decimals. */
export function round(x: number, d = 0): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}
