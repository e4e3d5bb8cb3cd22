/**
 * Helpers for the TEP namespace tests (not a test file): how to start the programs (entry points
 * on the current runtime, or the compiled binaries), daemons inside a namespace with their JSON
 * log lines collected, probe runs, and `ip` queries.
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runtimeName } from "../../lib/sys/runtime.ts";
import { ip, nsRunAsync, shTry } from "../../demo/netns.ts";

export { ip, nsRunAsync };

/** Why a namespace test is skipped, or undefined when it can run. */
export const NEEDS_ROOT: string | undefined =
  typeof process.getuid === "function" && process.getuid() === 0
    ? undefined
    : "needs root (creates network namespaces and TUN devices)";

/** Absolute path of a repository file. */
export function repo(rel: string): string {
  return fileURLToPath(new URL(`../../${rel}`, import.meta.url));
}

/** How to start each program: an argv prefix. */
export interface Programs {
  /** What is being tested, for messages. */
  readonly label: string;
  readonly server: readonly string[];
  readonly tep: readonly string[];
  /** The client probe always runs on the current runtime. */
  readonly probe: readonly string[];
}

function onRuntime(script: string): string[] {
  if (runtimeName() === "deno") return [process.execPath, "run", "-A", "--no-prompt", script];
  return [process.execPath, script];
}

/** The entry points run by the current runtime (`deno run -A` or `bun`). */
export function entryPrograms(): Programs {
  return {
    label: `${runtimeName()} entry points`,
    server: onRuntime(repo("server/main.ts")),
    tep: onRuntime(repo("tep/main.ts")),
    probe: onRuntime(repo("tests/tep/client_probe.ts")),
  };
}

/** The compiled binaries of `scripts/build.sh`, or why they cannot be used. */
export function compiledPrograms(): Programs | string {
  const server = repo("dist/dstm-server");
  const tep = repo("dist/dstm-tep");
  for (const f of [server, tep]) {
    if (!fs.existsSync(f)) return `${f} is missing: run bash scripts/build.sh first`;
  }
  // Stale binaries would test old code: compare with the newest source of the TEP.
  const newest = Math.max(
    ...["tep", "server", "lib/tep", "lib/sys", "lib/tsp"].flatMap((d) =>
      fs.readdirSync(repo(d)).filter((f) => f.endsWith(".ts")).map((f) =>
        fs.statSync(repo(`${d}/${f}`)).mtimeMs
      )
    ),
  );
  if (fs.statSync(tep).mtimeMs < newest) {
    return `${tep} is older than the sources: run bash scripts/build.sh first`;
  }
  return {
    label: "compiled binaries",
    server: [server],
    tep: [tep],
    probe: onRuntime(repo("tests/tep/client_probe.ts")),
  };
}

/** `ip` returning status and output. */
export function ipTry(...args: string[]): { status: number; stdout: string; stderr: string } {
  return shTry("ip", args);
}

/** Run a program inside `ns` to completion. */
export function nsRun(
  ns: string,
  argv: readonly string[],
  timeoutMs = 60_000,
): { status: number; stdout: string; stderr: string } {
  const r = spawnSync("ip", ["netns", "exec", ns, ...argv], {
    encoding: "utf8",
    timeout: timeoutMs,
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** JSON event lines of a probe's stdout. */
export function events(stdout: string): Record<string, unknown>[] {
  return stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

/** A long-running program in a namespace whose stderr carries JSON log lines. */
export class Daemon {
  readonly child: ChildProcess;
  readonly name: string;
  /** The command line (to start it again). */
  readonly argv: readonly string[];
  /** Parsed JSON log lines. */
  readonly logs: Record<string, unknown>[] = [];
  /** Every stderr line (also the non-JSON ones). */
  readonly lines: string[] = [];
  readonly exited: Promise<number | string>;
  #waiters: (() => void)[] = [];

  constructor(name: string, ns: string, argv: readonly string[]) {
    this.name = name;
    this.argv = argv;
    this.child = spawn("ip", ["netns", "exec", ns, ...argv], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let buf = "";
    this.child.stderr!.setEncoding("utf8");
    this.child.stderr!.on("data", (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.lines.push(line);
        if (line.startsWith("{")) {
          try {
            this.logs.push(JSON.parse(line));
          } catch { /* not JSON */ }
        }
      }
      this.#wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.on("close", (code, signal) => {
        this.#wake();
        resolve(code ?? signal ?? -1);
      });
    });
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Log lines with `event` (and matching `fields`, if given). */
  events(event: string, fields: Record<string, unknown> = {}): Record<string, unknown>[] {
    return this.logs.filter((l) =>
      l.event === event && Object.entries(fields).every(([k, v]) => l[k] === v)
    );
  }

  /** Wait for a log line with `event` (and `fields`). */
  async waitFor(
    event: string,
    fields: Record<string, unknown> = {},
    timeoutMs = 20_000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events(event, fields)[0];
      if (hit) return hit;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`${this.name} exited before ${event}:\n${this.tail()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`${this.name}: no ${event} within ${timeoutMs} ms:\n${this.tail()}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The last stderr lines, for failure messages. */
  tail(n = 30): string {
    return this.lines.slice(-n).join("\n");
  }

  /** Send a signal and wait for the exit (SIGKILL after `timeoutMs`). */
  async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000): Promise<number | string> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return await this.exited;
    // `ip netns exec` execs the program, so the child pid is the daemon itself. Signal it with
    // process.kill: Deno's ChildProcess.kill() makes the exit report the signal sent even when
    // the program handled it and exited with a code.
    const kill = (sig: NodeJS.Signals) => {
      try {
        process.kill(this.child.pid!, sig);
      } catch { /* already gone */ }
    };
    kill(signal);
    const t = setTimeout(() => kill("SIGKILL"), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(t);
    }
  }
}
