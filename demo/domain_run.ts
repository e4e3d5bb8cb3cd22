/**
 * Running the three dstm programs inside a built {@link Domain}: start the server, the TEPs and
 * clients in their namespaces (compiled binaries or entry points under Deno or Bun), talk to them
 * over their control sockets, stop them, and tear everything down. Shared by the demo and the
 * end-to-end tests.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import type { Domain } from "./topology.ts";

/** The repository root. */
export const ROOT: string = path.resolve(import.meta.dirname ?? ".", "..");

/** How the programs are started: the compiled binaries, or the entry points under a runtime. */
export type LaunchMode = "dist" | "deno" | "bun";

/** The three programs. */
export type Program = "server" | "tep" | "client";

/** The argv prefix that starts `program` in `mode`. */
export function commandFor(mode: LaunchMode, program: Program): string[] {
  switch (mode) {
    case "dist":
      return [path.join(ROOT, "dist", `dstm-${program}`)];
    case "deno":
      return [
        path.join(ROOT, "node_modules/.bin/deno"),
        "run",
        "-A",
        path.join(ROOT, program, "main.ts"),
      ];
    case "bun":
      return [path.join(ROOT, "node_modules/.bin/bun"), path.join(ROOT, program, "main.ts")];
  }
}

/** A started program. */
export interface Proc {
  /** A label such as `tep1`. */
  name: string;
  /** Namespace it runs in. */
  ns: string;
  /** The child (the `ip netns exec` wrapper execs the program, so the pid is the program's). */
  child: ChildProcess;
  /** Its log file (stdout and stderr). */
  log: string;
  /** Control socket path. */
  control: string;
  /** Resolves with the exit code (or signal name) when it ends. */
  exited: Promise<number | string>;
}

/** Options of {@linkcode DomainRun}. */
export interface DomainRunOptions {
  /** Binaries or entry points. */
  mode: LaunchMode;
  /** Directory for logs, state and sockets (created). */
  dir: string;
  /** Extra environment for every program. */
  env?: Record<string, string>;
}

/** Credentials used by the demo and the tests. */
export const PASSWORDS = {
  tep1: "tep1-secret",
  tep2: "tep2-secret",
  alice: "alice-secret",
} as const;

/** The programs of one domain. */
export class DomainRun {
  /** The topology. */
  readonly domain: Domain;
  /** Options. */
  readonly opts: DomainRunOptions;
  /** Every program started, in order. */
  readonly procs: Proc[] = [];
  /** Path of the server's credentials file. */
  readonly credentials: string;

  /** Prepare a run in `domain`; writes the credentials file into `opts.dir`. */
  constructor(domain: Domain, opts: DomainRunOptions) {
    this.domain = domain;
    this.opts = opts;
    fs.mkdirSync(opts.dir, { recursive: true });
    this.credentials = path.join(opts.dir, "users");
    const lines = [
      `tep1:${PASSWORDS.tep1}:tep`,
      `tep2:${PASSWORDS.tep2}:tep`,
      `alice:${PASSWORDS.alice}:client`,
    ];
    for (let i = 1; i <= 64; i++) lines.push(`user${i}:pass${i}:client`);
    fs.writeFileSync(this.credentials, lines.join("\n") + "\n", { mode: 0o600 });
  }

  /** Start `program` in namespace `ns` with `args`; its output goes to `<dir>/<name>.log`. */
  start(name: string, program: Program, ns: string, args: string[]): Proc {
    const log = path.join(this.opts.dir, `${name}.log`);
    const control = path.join(this.opts.dir, `${name}.sock`);
    const fd = fs.openSync(log, "a");
    const argv = [...commandFor(this.opts.mode, program), ...args, "--control", control];
    const child = spawn("ip", ["netns", "exec", ns, ...argv], {
      stdio: ["ignore", fd, fd],
      // No Deno update check: from a client host it would go out through the tunnel (its DNS
      // lookup of dl.deno.land is IPv4 traffic the tests and the demo did not ask for).
      env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...this.opts.env },
    });
    fs.closeSync(fd);
    const exited = new Promise<number | string>((resolve) => {
      child.on("exit", (code, signal) => resolve(code ?? signal ?? -1));
      child.on("error", () => resolve(-1));
    });
    const p: Proc = { name, ns, child, log, control, exited };
    this.procs.push(p);
    return p;
  }

  /** Start the DSTM server with the domain's pool and TEPs. */
  startServer(extra: string[] = []): Proc {
    const d = this.domain;
    return this.start("server", "server", d.server.ns, [
      "--listen",
      `[${d.server.ipv6}]:${d.server.port}`,
      "--pool",
      d.pool,
      ...d.teps.flatMap((t) => ["--tep", `${t.name},${t.ipv6},${t.ipv4}`]),
      "--credentials",
      this.credentials,
      "--state-dir",
      path.join(this.opts.dir, "server-state"),
      ...extra,
    ]);
  }

  /** Start TEP `i` (0 or 1). */
  startTep(i: number, extra: string[] = []): Proc {
    const d = this.domain;
    const t = d.teps[i];
    return this.start(t.name, "tep", t.ns, [
      "--server",
      `[${d.server.ipv6}]:${d.server.port}`,
      "--name",
      t.name,
      "--credentials",
      `${t.name}:${PASSWORDS[t.name as "tep1" | "tep2"]}`,
      "--address",
      t.ipv6,
      "--ipv4",
      t.ipv4,
      "--pool",
      d.pool,
      "--client-prefix",
      d.clientPrefix,
      ...extra,
    ]);
  }

  /** Start the client of host `i` (0-based) with user `user` (default alice for host 0). */
  startClient(i: number, extra: string[] = [], user?: string): Proc {
    const d = this.domain;
    const u = user ?? (i === 0 ? "alice" : `user${i}`);
    const pass = u === "alice" ? PASSWORDS.alice : `pass${u.slice(4)}`;
    return this.start(`client${i + 1}`, "client", d.clients[i].ns, [
      "--server",
      `[${d.server.ipv6}]:${d.server.port}`,
      "--source",
      d.clients[i].ipv6,
      "--credentials",
      `${u}:${pass}`,
      "--tep-prefix",
      d.tepPrefix,
      ...extra,
    ]);
  }

  /** Run `<program> ctl <words...> --json` against `proc`'s control socket. */
  ctl(program: Program, proc: Proc, ...words: string[]): unknown {
    const argv = [
      ...commandFor(this.opts.mode, program),
      "ctl",
      ...words,
      "--json",
      "--control",
      proc.control,
    ];
    const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: 20_000 });
    if (r.status !== 0) {
      throw new Error(
        `${program} ctl ${words.join(" ")}: exit ${r.status}: ${r.stderr || r.stdout}`,
      );
    }
    return JSON.parse(r.stdout);
  }

  /** Like {@linkcode ctl} but returns undefined instead of throwing (daemon not ready yet). */
  tryCtl(program: Program, proc: Proc, ...words: string[]): unknown {
    try {
      return this.ctl(program, proc, ...words);
    } catch {
      return undefined;
    }
  }

  /** Send `signal` to `proc` and wait (up to `timeoutMs`) for it to end; SIGKILL after that. */
  async stop(
    proc: Proc,
    signal: NodeJS.Signals = "SIGTERM",
    timeoutMs = 10_000,
  ): Promise<number | string> {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return proc.exited;
    // `ip netns exec` execs the program, so the child's pid is the program's. Signal it with
    // process.kill: Deno's ChildProcess.kill() makes `exit` report the signal sent even when the
    // program handled it and exited with a code.
    const kill = (sig: NodeJS.Signals) => {
      try {
        if (proc.child.pid !== undefined) process.kill(proc.child.pid, sig);
      } catch { /* already gone */ }
    };
    kill(signal);
    const t = setTimeout(() => kill("SIGKILL"), timeoutMs);
    try {
      return await proc.exited;
    } finally {
      clearTimeout(t);
    }
  }

  /** Stop every program still running (SIGTERM, then SIGKILL), newest first. */
  async stopAll(): Promise<void> {
    for (const p of [...this.procs].reverse()) await this.stop(p, "SIGTERM", 8000);
  }

  /** The last `lines` lines of `proc`'s log. */
  tail(proc: Proc, lines = 20): string {
    try {
      return fs.readFileSync(proc.log, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }
}

/** Poll `probe` every `intervalMs` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  probe: () => T | undefined | false | null | Promise<T | undefined | false | null>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() >= end) return undefined;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
