/**
 * Helpers of the end-to-end tests (not a test file): a {@link Lab} is the draft's Figure 1 built
 * in network namespaces (`demo/topology.ts`) with the real `dstm-server`, both `dstm-tep`s and
 * `dstm-client`s started in it (`demo/domain_run.ts`), plus what the tests need around it: the
 * control channels (`ctl ... --json` of the program under test), pings and TCP exchanges from a
 * namespace, raw IPv4-in-IPv6 senders, kernel counters, log tails for failure messages, and a
 * teardown that always runs.
 *
 * Launch modes: every e2e test runs once with the compiled binaries (`dist/`) and once with the
 * entry points under the runtime running the test (`deno run -A` under `deno test`, `bun` under
 * `bun test`), so a suite run (`npm test`: Deno, then Bun) exercises `dist`, `deno run` and `bun`.
 * `DSTM_E2E_ENTRY=deno|bun` picks the entry-point mode explicitly.
 *
 * Namespaces are named `e2e<pid><tag><mode>-<host>`, so runs never collide with each other or
 * with the demo (`dstm-*`). `DSTM_E2E_KEEP_LOGS=1` keeps each run's directory (logs, state,
 * sockets) under the temporary directory; `DSTM_E2E_VERBOSE=1` prints timings.
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { buildDomain, type Domain, type DomainOptions } from "../../demo/topology.ts";
import { DomainRun, type LaunchMode, type Proc, ROOT, waitFor } from "../../demo/domain_run.ts";
import { runtimeName } from "../../lib/sys/runtime.ts";

export { waitFor };

/** Why a namespace test is skipped, or undefined when it can run. */
export const NEEDS_ROOT: string | undefined =
  typeof process.getuid === "function" && process.getuid() === 0
    ? undefined
    : "needs root (network namespaces, TUN devices, raw sockets)";

const DIST_BINS = ["server", "tep", "client"].map((p) => path.join(ROOT, "dist", `dstm-${p}`));

/** Why the compiled binaries cannot be tested (not built), if so. */
export function distMissing(): string | undefined {
  const missing = DIST_BINS.find((b) => !fs.existsSync(b));
  return missing && `${missing} is missing: run bash scripts/build.sh (npm test does)`;
}

/**
 * A warning when a compiled binary is older than a source file of the programs (a failure in
 * `dist` mode only may then be the old code). The suite (`npm test`) builds first, so this only
 * happens when the tests are run by hand, or while the sources are being edited.
 */
export function distStale(): string | undefined {
  if (distMissing()) return undefined;
  const bins = DIST_BINS;
  let newest = 0;
  let newestFile = "";
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const f = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== "testdata" && e.name !== "hooks") walk(f);
      } else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) {
        const m = fs.statSync(f).mtimeMs;
        if (m > newest) [newest, newestFile] = [m, f];
      }
    }
  };
  for (const d of ["lib", "server", "tep", "client"]) walk(path.join(ROOT, d));
  const oldest = bins.reduce((a, b) => fs.statSync(b).mtimeMs < fs.statSync(a).mtimeMs ? b : a);
  if (fs.statSync(oldest).mtimeMs < newest) {
    return `${path.relative(ROOT, oldest)} is older than ${path.relative(ROOT, newestFile)}: ` +
      "testing it anyway (bash scripts/build.sh rebuilds it; npm test does)";
  }
  return undefined;
}

/** One launch mode of an e2e test. */
export interface ModeCase {
  /** How the programs are started. */
  mode: LaunchMode;
  /** For test names: `dist` or `deno run` or `bun`. */
  label: string;
  /** Skip reason, if the test cannot run in this mode here. */
  skip?: string;
}

let staleWarned = false;

function entryMode(): LaunchMode {
  const forced = process.env.DSTM_E2E_ENTRY;
  if (forced === "deno" || forced === "bun") return forced;
  return runtimeName() === "bun" ? "bun" : "deno";
}

/**
 * The two launch modes every e2e test file runs: the compiled binaries, and the entry points
 * under the runtime running the test.
 */
export function modes(): ModeCase[] {
  const entry = entryMode();
  const stale = NEEDS_ROOT || staleWarned ? undefined : distStale();
  if (stale) {
    staleWarned = true;
    console.warn(`e2e: ${stale}`);
  }
  return [
    { mode: "dist", label: "dist binaries", skip: NEEDS_ROOT ?? distMissing() },
    { mode: entry, label: entry === "deno" ? "deno run" : "bun entry points", skip: NEEDS_ROOT },
  ];
}

/** The argv that runs a helper script of the tests on the runtime running the test. */
export function scriptArgv(file: string): string[] {
  const abs = path.join(ROOT, file);
  return runtimeName() === "deno"
    ? [process.execPath, "run", "-A", "--no-prompt", abs]
    : [process.execPath, abs];
}

/**
 * Environment of helper programs run in the namespaces. No Deno update check: its DNS lookup
 * would be IPv4 traffic through the tunnel that no test asked for.
 */
const HELPER_ENV = { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };

/** Output of a program run to completion. */
export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run `argv` inside namespace `ns` without blocking the event loop. */
export function nsRun(ns: string, argv: string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn("ip", ["netns", "exec", ns, ...argv], {
      stdio: ["ignore", "pipe", "pipe"],
      env: HELPER_ENV,
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const t = setTimeout(() => {
      try {
        process.kill(child.pid!, "SIGKILL");
      } catch { /* gone */ }
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(t);
      resolve({ status: code ?? (signal ? 128 : -1), stdout, stderr });
    });
    child.on("error", (e) => {
      clearTimeout(t);
      resolve({ status: -1, stdout, stderr: stderr + e.message });
    });
  });
}

/** Result of {@linkcode ping}. */
export interface PingResult {
  sent: number;
  received: number;
  /** The whole output, for messages. */
  out: string;
}

/** `ping -c count` from namespace `ns` (IPv4 unless `dst` is IPv6). */
export async function ping(
  ns: string,
  dst: string,
  count = 3,
  interval = "0.2",
  waitSeconds = 2,
): Promise<PingResult> {
  const r = await nsRun(ns, [
    "ping",
    "-n",
    "-q",
    "-c",
    String(count),
    "-i",
    interval,
    "-W",
    String(waitSeconds),
    dst,
  ]);
  const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  return {
    sent: Number(m?.[1] ?? 0),
    received: Number(m?.[2] ?? 0),
    out: `ping ${dst} from ${ns}: ${
      (r.stdout + r.stderr).trim().split("\n").slice(-2).join(" / ")
    }`,
  };
}

/** A counter of the kernel's `/proc/net/snmp` in `ns`, e.g. `("Icmp", "InEchos")`. */
export function snmp(ns: string, group: string, field: string): number {
  const r = spawnSync("ip", ["netns", "exec", ns, "cat", "/proc/net/snmp"], { encoding: "utf8" });
  const lines = (r.stdout ?? "").split("\n").filter((l) => l.startsWith(`${group}:`));
  if (lines.length < 2) return -1;
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/);
  return Number(values[names.indexOf(field)]);
}

/** `ip -j ...` output, parsed (an empty list when the command fails). */
export function ipJson<T = Record<string, unknown>>(...args: string[]): T[] {
  const r = spawnSync("ip", ["-j", ...args], { encoding: "utf8" });
  if (r.status !== 0) return [];
  try {
    return JSON.parse(r.stdout || "[]") as T[];
  } catch {
    return [];
  }
}

/** What the root namespace holds that a run could leave behind. */
export interface RootSnapshot {
  /** Every link (name and kind). */
  links: string[];
  /** Every IPv4 and IPv6 route, as `ip -j route` objects re-serialised. */
  routes: string[];
}

/** Snapshot of the root namespace's links and routes. */
export function rootSnapshot(): RootSnapshot {
  const links = ipJson<{ ifname: string; linkinfo?: { info_kind?: string } }>(
    "-d",
    "link",
    "show",
  ).map((l) => `${l.ifname} (${l.linkinfo?.info_kind ?? "device"})`);
  const routes = [
    ...ipJson("-4", "route", "show", "table", "all"),
    ...ipJson("-6", "route", "show", "table", "all"),
  ].map((r) => JSON.stringify(r));
  return { links: links.sort(), routes: routes.sort() };
}

/** Names of the network namespaces whose name starts with `prefix`. */
export function namespacesWith(prefix: string): string[] {
  const r = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
  return (r.stdout ?? "").split("\n").map((l) => l.split(" ")[0]).filter((n) =>
    n.startsWith(prefix)
  );
}

/** `dstm-client ctl status --json`. */
export interface ClientStatus {
  phase: string;
  lease?: { ipv4: string; tep: string; tepIpv4: string; expiresAt: string };
  leaseStats: {
    grants: number;
    renewals: number;
    tepChanges: number;
    losses: number;
  };
  tsp: { link: string; connections: number };
  tep: { failures: number; probesSent: number };
  interface?: { name: string; ipv4: string; routes: string[] };
  counters: {
    traffic: Record<string, number>;
    drops: Record<string, number>;
  };
}

/** `dstm-tep ctl stats --json`. */
export interface TepStats {
  drops: { name: string; count: number }[];
  forward: Record<string, number>;
  session: Record<string, number | string>;
  bindings: Record<string, number>;
}

/** One row of `dstm-tep ctl bindings --json`. */
export interface TepBinding {
  ipv4: string;
  ipv6: string;
  source: string;
  expiresInMs: number;
}

/** One row of `dstm-server ctl leases --json`. */
export interface ServerLease {
  ipv4: string;
  clientIpv6: string;
  identity: string;
  tep: string;
  expiresAt: string;
  tepsThatQueried: string[];
}

/** One row of `dstm-server ctl teps --json`. */
export interface ServerTep {
  name: string;
  state: string;
  leases: number;
  pushes: number;
}

/** Count of the named drop reason in TEP stats. */
export function drop(stats: TepStats, name: string): number {
  const d = stats.drops.find((x) => x.name === name);
  if (!d) throw new Error(`no drop counter ${name} in ${stats.drops.map((x) => x.name)}`);
  return d.count;
}

/** Sum of a Prometheus-style labelled counter family of `dstm-server ctl stats --json`. */
export function serverCounter(
  stats: Record<string, Record<string, number>>,
  family: string,
  label: string,
): number {
  return stats[family]?.[label] ?? 0;
}

/** Options of {@linkcode Lab.open}. */
export interface LabOptions extends Omit<DomainOptions, "prefix"> {
  /** Keys of the server's JSON config file (e.g. the testing-only `lifetimeSeconds`). */
  server?: Record<string, unknown>;
  /** Keys of the clients' JSON config file (keepalive, `leaseCapSeconds`, ...). */
  client?: Record<string, unknown>;
  /** How many of the domain's clients to start, and wait for their leases (default all). */
  startClients?: number;
}

/** `exited with 1` (or the signal) once `p` has ended, else an empty string. */
function exited(p: Proc | undefined): string {
  if (!p) return "";
  const c = p.child;
  if (c.exitCode !== null) return `exited with ${c.exitCode}`;
  return c.signalCode !== null ? `killed by ${c.signalCode}` : "";
}

/** Default client settings: fast TEP failure detection. */
const CLIENT_DEFAULTS = { keepaliveSeconds: 1, keepaliveMisses: 3, retrySeconds: 0.5 };

/** A running Figure 1 domain. Always {@linkcode close} it (in `finally`). */
export class Lab {
  /** Launch mode of the programs. */
  readonly mode: LaunchMode;
  /** The namespaces and addresses. */
  readonly domain: Domain;
  /** The programs. */
  readonly run: DomainRun;
  /** Directory of logs, sockets, state and configs. */
  readonly dir: string;
  /** Namespace prefix of this lab. */
  readonly prefix: string;
  /** The server (a new one after each {@linkcode startServer}). */
  server!: Proc;
  /** TEP1 and TEP2. */
  teps: Proc[] = [];
  /** Client `i` of the domain, once started. */
  clients: Proc[] = [];
  /** Path of the clients' config file. */
  readonly clientConfig: string;
  /** Path of the server's config file. */
  readonly serverConfig: string;
  #aux: ChildProcess[] = [];
  #closed = false;

  private constructor(mode: LaunchMode, domain: Domain, dir: string, prefix: string) {
    this.mode = mode;
    this.domain = domain;
    this.dir = dir;
    this.prefix = prefix;
    this.run = new DomainRun(domain, { mode, dir });
    this.clientConfig = path.join(dir, "client.json");
    this.serverConfig = path.join(dir, "server.json");
  }

  /**
   * Build the domain (namespaces named `e2e<pid><tag>...`), start the server and both TEPs and
   * wait until both TEPs are up at the server, then start the clients and wait for their leases.
   * On failure everything is torn down and the error (with the daemons' log tails) rethrown.
   */
  static async open(tag: string, mode: LaunchMode, opts: LabOptions = {}): Promise<Lab> {
    const code = mode === "dist" ? "c" : mode === "deno" ? "d" : "b";
    const prefix = `e2e${process.pid % 100000}${tag}${code}-`;
    const domain = buildDomain({ ...opts, prefix });
    let dir: string;
    try {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `dstm-e2e-${tag}-`));
    } catch (e) {
      domain.run.teardown();
      throw e;
    }
    const lab = new Lab(mode, domain, dir, prefix);
    try {
      fs.writeFileSync(lab.serverConfig, JSON.stringify(opts.server ?? {}));
      fs.writeFileSync(lab.clientConfig, JSON.stringify({ ...CLIENT_DEFAULTS, ...opts.client }));
      await lab.startServer();
      lab.teps = [lab.run.startTep(0), lab.run.startTep(1)];
      await lab.waitTepsUp();
      const n = opts.startClients ?? domain.clients.length;
      for (let i = 0; i < n; i++) lab.startClient(i);
      for (let i = 0; i < n; i++) await lab.waitLease(i, 60_000);
      return lab;
    } catch (e) {
      await lab.close();
      throw e;
    }
  }

  /** Start the server (config file plus the domain's flags) and wait for its control channel. */
  async startServer(): Promise<Proc> {
    const p = this.run.startServer(["--config", this.serverConfig]);
    this.server = p;
    const up = await waitFor(
      () => exited(p) || this.run.tryCtl("server", p, "status"),
      30_000,
      200,
    );
    if (!up || exited(p)) {
      throw new Error(`the server did not come up (${exited(p)})\n${this.tails(["server"])}`);
    }
    return p;
  }

  /** Wait until the server lists both TEPs with their session up. */
  async waitTepsUp(timeoutMs = 30_000): Promise<void> {
    const ok = await waitFor(
      () =>
        this.teps.some(exited) || this.serverTeps()?.filter((t) => t.state === "up").length === 2,
      timeoutMs,
      200,
    );
    if (!ok || this.teps.some(exited)) {
      throw new Error(
        `the TEPs are not both up at the server: ${JSON.stringify(this.serverTeps())}\n` +
          this.tails(["server", "tep1", "tep2"]),
      );
    }
  }

  /** Start the client on host `i` (0-based) with the lab's client config. */
  startClient(i: number): Proc {
    const p = this.run.startClient(i, ["--config", this.clientConfig]);
    this.clients[i] = p;
    return p;
  }

  /** Wait until client `i` is bound; returns its status. */
  async waitLease(i: number, timeoutMs = 30_000): Promise<ClientStatus> {
    const p = this.clients[i];
    const s = await waitFor(
      () => {
        if (exited(p)) return "exited";
        const st = this.tryClientStatus(i);
        return st?.phase === "bound" && st.lease ? st : undefined;
      },
      timeoutMs,
      200,
    );
    if (!s || s === "exited") {
      throw new Error(
        `client${i + 1} got no lease within ${timeoutMs} ms (${exited(p) || "running"})\n` +
          this.tails([`client${i + 1}`, "server"]),
      );
    }
    return s;
  }

  /** `dstm-client ctl status --json` of client `i`. */
  clientStatus(i: number): ClientStatus {
    return this.run.ctl("client", this.clients[i], "status") as ClientStatus;
  }

  /** Like {@linkcode clientStatus}, undefined while the client cannot answer. */
  tryClientStatus(i: number): ClientStatus | undefined {
    const p = this.clients[i];
    return p ? this.run.tryCtl("client", p, "status") as ClientStatus | undefined : undefined;
  }

  /** `dstm-tep ctl stats --json` of TEP `i` (0 or 1). */
  tepStats(i: number): TepStats {
    return this.run.ctl("tep", this.teps[i], "stats") as TepStats;
  }

  /** `dstm-tep ctl bindings --json` of TEP `i`. */
  tepBindings(i: number): TepBinding[] {
    return (this.run.ctl("tep", this.teps[i], "bindings") as { bindings: TepBinding[] }).bindings;
  }

  /** `dstm-server ctl leases --json`. */
  serverLeases(): { leases: ServerLease[]; quarantine: { ipv4: string }[] } {
    return this.run.ctl("server", this.server, "leases") as {
      leases: ServerLease[];
      quarantine: { ipv4: string }[];
    };
  }

  /** `dstm-server ctl teps --json` (undefined while the server cannot answer). */
  serverTeps(): ServerTep[] | undefined {
    return (this.run.tryCtl("server", this.server, "teps") as { teps?: ServerTep[] } | undefined)
      ?.teps;
  }

  /** `dstm-server ctl stats --json`: counter families by label set. */
  serverStats(): Record<string, Record<string, number>> {
    return this.run.ctl("server", this.server, "stats") as Record<string, Record<string, number>>;
  }

  /** Index (0 or 1) of the TEP whose tunnel address is `ipv6`. */
  tepIndex(ipv6: string): number {
    const i = this.domain.teps.findIndex((t) => t.ipv6 === ipv6);
    if (i < 0) throw new Error(`${ipv6} is not a TEP of the domain`);
    return i;
  }

  /** Make r4 send pool traffic to TEP `i` (the return path). */
  returnVia(i: number): void {
    const r = spawnSync("ip", [
      "-n",
      this.domain.r4,
      "route",
      "replace",
      this.domain.pool,
      "via",
      this.domain.teps[i].ipv4,
    ], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`ip route replace on r4: ${r.stderr}`);
  }

  /** Start a TCP echo server on z at `port`; resolves when it listens. */
  async startEcho(port: number): Promise<void> {
    const child = spawn(
      "ip",
      [
        "netns",
        "exec",
        this.domain.z.ns,
        ...scriptArgv("tests/support/tcp_echo.ts"),
        "serve",
        "0.0.0.0",
        String(port),
      ],
      { stdio: ["ignore", "pipe", "pipe"], env: HELPER_ENV },
    );
    this.#aux.push(child);
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
    const ready = await waitFor(() => out.includes(`"ready"`), 15_000, 50);
    if (!ready) throw new Error(`the TCP echo server on z did not start: ${out}`);
  }

  /** Send `bytes` over TCP from client host `i` to z's echo server and check the echo. */
  async tcpExchange(i: number, port: number, bytes: number): Promise<{ ok: boolean; out: string }> {
    const r = await nsRun(this.domain.clients[i].ns, [
      ...scriptArgv("tests/support/tcp_echo.ts"),
      "send",
      this.domain.z.ipv4,
      String(port),
      String(bytes),
    ]);
    return { ok: r.status === 0 && /"ok":true/.test(r.stdout), out: r.stdout + r.stderr };
  }

  /**
   * Send `count` IPv4-in-IPv6 packets (ICMPv4 echo requests `innerSrc` -> `innerDst`) from
   * namespace `ns` with IPv6 source `local` to `to`, on a raw IPIP socket. Returns how many the
   * kernel took.
   */
  async sendIpip(
    ns: string,
    o: { local: string; to: string; innerSrc: string; innerDst: string; count: number },
  ): Promise<number> {
    const r = await nsRun(ns, [...scriptArgv("tests/support/send_ipip.ts"), JSON.stringify(o)]);
    const m = /"sent":(\d+)/.exec(r.stdout);
    if (r.status !== 0 || !m) throw new Error(`send_ipip in ${ns}: ${r.stdout}${r.stderr}`);
    return Number(m[1]);
  }

  /** The last `lines` log lines of the named programs (all by default), for failure messages. */
  tails(names?: string[], lines = 25): string {
    const seen = new Set<string>();
    const out: string[] = [];
    // Newest process of each name (a restarted server logs to the same file).
    for (const p of [...this.run.procs].reverse()) {
      if (seen.has(p.name) || (names && !names.includes(p.name))) continue;
      seen.add(p.name);
      out.unshift(`--- ${p.name} (${this.mode}) ---\n${this.run.tail(p, lines)}`);
    }
    return out.join("\n");
  }

  /** Kill every program and helper (SIGKILL), delete the namespaces and the directory. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const kill = (pid: number | undefined) => {
      try {
        if (pid !== undefined) process.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    };
    for (const c of this.#aux) kill(c.pid);
    const running = this.run.procs.filter((p) =>
      p.child.exitCode === null && p.child.signalCode === null
    );
    for (const p of running) kill(p.child.pid);
    await Promise.race([
      Promise.all(running.map((p) => p.exited)),
      new Promise((r) => setTimeout(r, 5000)),
    ]);
    this.domain.run.teardown();
    if (!process.env.DSTM_E2E_KEEP_LOGS) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Open a lab, run `body`, and always close it. When `body` throws, the tails of every daemon's
 * log are written to stderr before the lab goes away (assertions name the relevant ones too).
 */
export async function withLab(
  tag: string,
  mode: LaunchMode,
  opts: LabOptions,
  body: (lab: Lab) => Promise<void>,
): Promise<void> {
  const lab = await Lab.open(tag, mode, opts);
  try {
    await body(lab);
  } catch (e) {
    console.error(`e2e ${tag} (${mode}) failed; the daemons' last log lines:\n${lab.tails()}`);
    throw e;
  } finally {
    await lab.close();
  }
}
