/**
 * End to end, in network namespaces (Figure 1 of the draft, `demo/topology.ts`): the real
 * `dstm-server`, two `dstm-tep`s and `dstm-client`, the IPv4-only host z behind r4 (which returns
 * pool traffic through TEP2), and a host outside the domain.
 *
 * One scenario, run twice per runtime: with the entry points (`deno run -A` / `bun`) and with the
 * compiled binaries in `dist/` (`bash scripts/build.sh`). It checks that the client gets a lease
 * and brings up the interface and routes (`ip -j`), the up hook runs, ping and a TCP transfer to z
 * work, renewals (every 3 s: the testing-only `leaseCapSeconds`) lose no packet, IPv4-in-IPv6 from
 * a non-TEP source is dropped and counted (`ctl status`), a DF packet over the tunnel MTU gets an
 * ICMPv4 3/4 with the tunnel MTU, the client moves to TEP2 with the same
 * IPv4 when TEP1 dies, and SIGTERM releases the lease (`dstm-server ctl leases --json`) and removes
 * the interface and its routes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { buildDomain, type Domain } from "../../demo/topology.ts";
import { callControl } from "../../lib/sys/control_socket.ts";
import { runtimeName } from "../../lib/sys/runtime.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const RUNTIME = runtimeName();
const PROGRAMS = ["server", "tep", "client"] as const;
type Program = (typeof PROGRAMS)[number];

const NEEDS_ROOT = typeof process.getuid === "function" && process.getuid() === 0
  ? undefined
  : "needs root (network namespaces, TUN devices, raw sockets)";
const NO_DIST = PROGRAMS.every((p) => fs.existsSync(path.join(ROOT, "dist", `dstm-${p}`)))
  ? undefined
  : "dist/ has no compiled binaries: run `bash scripts/build.sh` (npm test does)";

/** The command line of a script or program run on this runtime. */
function scriptArgv(file: string): string[] {
  return RUNTIME === "deno" ? [process.execPath, "run", "-A", file] : [process.execPath, file];
}

function programArgv(mode: "entry" | "compiled", p: Program): string[] {
  return mode === "compiled"
    ? [path.join(ROOT, "dist", `dstm-${p}`)]
    : scriptArgv(path.join(ROOT, p, "main.ts"));
}

/** A process inside a namespace; stderr kept for diagnosis, stdout as JSON lines. */
class Proc {
  readonly child: ChildProcess;
  readonly name: string;
  stderr = "";
  readonly lines: Record<string, unknown>[] = [];
  readonly exited: Promise<{ code: number | null; signal: string | null }>;

  constructor(ns: string, name: string, argv: string[]) {
    this.name = name;
    this.child = spawn("ip", ["netns", "exec", ns, ...argv], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    this.child.stderr!.setEncoding("utf8");
    this.child.stderr!.on("data", (d: string) => (this.stderr += d));
    let buf = "";
    this.child.stdout!.setEncoding("utf8");
    this.child.stdout!.on("data", (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        try {
          this.lines.push(JSON.parse(buf.slice(0, i)));
        } catch { /* not JSON */ }
        buf = buf.slice(i + 1);
      }
    });
    this.exited = new Promise((resolve) =>
      this.child.on("exit", (code, signal) => resolve({ code, signal }))
    );
  }

  /** Signal the process by pid (Deno's `ChildProcess.kill` misreports the exit status). */
  signal(sig: NodeJS.Signals): void {
    try {
      if (this.child.pid !== undefined) process.kill(this.child.pid, sig);
    } catch { /* gone */ }
  }

  /** Wait for a stdout JSON line with this `event`. */
  async event(event: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const found = await until(() => this.lines.find((l) => l.event === event), timeoutMs);
    if (!found) throw new Error(`${this.name}: no ${event} within ${timeoutMs} ms\n${this.stderr}`);
    return found;
  }

  tail(n = 30): string {
    return `--- ${this.name} ---\n${this.stderr.split("\n").slice(-n).join("\n")}`;
  }
}

/** Poll `f` every 100 ms until it returns a truthy value or the time is up. */
async function until<T>(f: () => T | Promise<T>, timeoutMs: number): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch { /* not yet */ }
    if (Date.now() >= end) return undefined;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function nsRun(ns: string, argv: string[], timeoutMs = 30_000) {
  const r = spawnSync("ip", ["netns", "exec", ns, ...argv], {
    encoding: "utf8",
    timeout: timeoutMs,
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

function ipJson<T>(ns: string, ...args: string[]): T {
  const r = spawnSync("ip", ["-j", "-n", ns, ...args], { encoding: "utf8" });
  return JSON.parse(r.stdout || "[]") as T;
}

interface ClientStatus {
  phase: string;
  lease?: { ipv4: string; tep: string };
  leaseStats: { renewals: number; tepChanges: number };
  tep: { failures: number };
  counters: {
    traffic: Record<string, number>;
    drops: Record<string, number>;
  };
}

function ping(ns: string, target: string, count: number, interval: string) {
  const r = nsRun(ns, ["ping", "-n", "-q", "-c", String(count), "-i", interval, "-W", "1", target]);
  const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  return { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0), out: r.stdout + r.stderr };
}

async function scenario(mode: "entry" | "compiled"): Promise<void> {
  const tag = `dc${process.pid % 100000}${mode[0]}`;
  const d: Domain = buildDomain({ prefix: tag, outsider: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dstm-client-e2e-"));
  const procs: Proc[] = [];
  const start = (ns: string, name: string, argv: string[]) => {
    const p = new Proc(ns, name, argv);
    procs.push(p);
    return p;
  };
  const diag = () => procs.map((p) => p.tail()).join("\n");
  try {
    fs.writeFileSync(
      path.join(dir, "users"),
      "alice:secret:client\ntep1:t1pass:tep\ntep2:t2pass:tep\n",
    );
    const srvSock = path.join(dir, "server.sock");
    const cliSock = path.join(dir, "client.sock");
    // Hooks that record their environment.
    for (const h of ["up", "down"]) {
      fs.writeFileSync(
        path.join(dir, `${h}.sh`),
        `#!/bin/sh\nenv | grep '^DSTM_' | sort > "${dir}/${h}.$DSTM_EVENT.env"\necho hook ${h} ran\n`,
        { mode: 0o755 },
      );
    }
    fs.writeFileSync(
      path.join(dir, "client.json"),
      JSON.stringify({
        keepaliveSeconds: 1,
        keepaliveMisses: 3,
        leaseCapSeconds: 6,
        retrySeconds: 0.5,
        up: path.join(dir, "up.sh"),
        down: path.join(dir, "down.sh"),
      }),
    );

    // The DSTM server, then both TEPs (their sessions make them live at the server).
    const server = start(d.server.ns, "server", [
      ...programArgv(mode, "server"),
      "--listen",
      `[${d.server.ipv6}]:${d.server.port}`,
      "--pool",
      d.pool,
      ...d.teps.flatMap((t) => ["--tep", `${t.name},${t.ipv6},${t.ipv4}`]),
      "--credentials",
      path.join(dir, "users"),
      "--state-dir",
      path.join(dir, "state"),
      "--control",
      srvSock,
      "--lifetime",
      "1",
    ]);
    const serverUp = await until(() => callControl(srvSock, { command: "status" }, 1000), 15_000);
    assert.ok(serverUp, `server did not start\n${diag()}`);
    const teps = d.teps.map((t, i) =>
      start(t.ns, t.name, [
        ...programArgv(mode, "tep"),
        "--server",
        `[${d.server.ipv6}]:${d.server.port}`,
        "--name",
        t.name,
        "--credentials",
        `${t.name}:t${i + 1}pass`,
        "--address",
        t.ipv6,
        "--ipv4",
        t.ipv4,
        "--pool",
        d.pool,
        "--client-prefix",
        d.clientPrefix,
        "--control",
        path.join(dir, `${t.name}.sock`),
      ])
    );
    const live = await until(async () => {
      const r = await callControl(srvSock, { command: "teps" }, 1000);
      const list = (r.arguments as { teps: { state: string }[] }).teps;
      return list.filter((t) => t.state === "up").length === 2;
    }, 15_000);
    assert.ok(live, `TEPs did not come up\n${diag()}`);

    const z = start(d.z.ns, "z", [
      ...scriptArgv(path.join(ROOT, "tests/support/tcp_echo.ts")),
      "serve",
      d.z.ipv4,
      "7007",
    ]);
    await z.event("ready");

    // The client.
    const cli = d.clients[0];
    const client = start(cli.ns, "client", [
      ...programArgv(mode, "client"),
      "--server",
      `[${d.server.ipv6}]:${d.server.port}`,
      "--credentials",
      "alice:secret",
      "--control",
      cliSock,
      "--config",
      path.join(dir, "client.json"),
    ]);
    const status = async () =>
      (await callControl(cliSock, { command: "status" }, 2000)).arguments as ClientStatus;
    const bound = await until(async () => {
      const s = await status();
      return s.phase === "bound" && fs.existsSync(path.join(dir, "up.up.env")) ? s : undefined;
    }, 15_000);
    assert.ok(bound?.lease, `no lease\n${diag()}`);
    const ipv4 = bound.lease.ipv4;
    assert.equal(bound.lease.tep, d.teps[0].ipv6);

    // The interface, its address and routes, as the kernel shows them.
    const link = ipJson<{ ifname: string; mtu: number; flags: string[] }[]>(
      cli.ns,
      "link",
      "show",
      "dstm0",
    );
    assert.equal(link[0]?.mtu, 1460);
    assert.ok(link[0].flags.includes("UP"));
    const addrs = ipJson<{ addr_info: { family: string; local: string; prefixlen: number }[] }[]>(
      cli.ns,
      "addr",
      "show",
      "dev",
      "dstm0",
    );
    assert.deepEqual(
      addrs[0].addr_info.map((a) => `${a.family} ${a.local}/${a.prefixlen}`),
      [`inet ${ipv4}/32`],
      "the lease as /32 and no IPv6 at all (disable_ipv6)",
    );
    const routes = ipJson<{ dst: string; dev: string; prefsrc?: string }[]>(
      cli.ns,
      "-4",
      "route",
      "show",
    );
    assert.deepEqual(
      routes.map((r) => `${r.dst} ${r.dev} ${r.prefsrc ?? ""}`),
      [`default dstm0 ${ipv4}`],
    );
    const upEnv = fs.readFileSync(path.join(dir, "up.up.env"), "utf8");
    assert.match(upEnv, new RegExp(`^DSTM_IPV4=${ipv4.replaceAll(".", "\\.")}$`, "m"));
    assert.match(upEnv, /^DSTM_LOCAL_IPV6=2001:db8:100::10$/m);
    assert.match(upEnv, /^DSTM_REMOTE_IPV6=2001:db8:ffff::1$/m);

    // Ping and TCP to z (out through TEP1, back through TEP2: r4 routes the pool there).
    const p1 = ping(cli.ns, d.z.ipv4, 3, "0.2");
    assert.equal(p1.received, 3, `ping to z\n${p1.out}\n${diag()}`);
    const tcp = nsRun(cli.ns, [
      ...scriptArgv(path.join(ROOT, "tests/support/tcp_echo.ts")),
      "send",
      d.z.ipv4,
      "7007",
      String(256 * 1024),
    ]);
    assert.match(tcp.stdout, /"ok":true/, `TCP transfer\n${tcp.stdout}${tcp.stderr}\n${diag()}`);

    // Renewals every 3 s (lease capped at 6 s) while pinging: nothing lost.
    const before = (await status()).leaseStats.renewals;
    const p2 = ping(cli.ns, d.z.ipv4, 45, "0.1");
    const after = await status();
    assert.ok(
      after.leaseStats.renewals >= before + 1,
      `renewals ${before} -> ${after.leaseStats.renewals}`,
    );
    assert.equal(after.lease?.ipv4, ipv4, "renewal keeps the address");
    assert.equal(p2.received, p2.sent, `packets lost across renewals\n${p2.out}`);

    // IPv4-in-IPv6 from outside the domain's TEPs: dropped and counted.
    const dropsBefore = after.counters.drops["source-not-tep"];
    const rxBefore = after.counters.traffic["tunnel-rx-packets"];
    const out = nsRun(d.outsider!.ns, [
      ...scriptArgv(path.join(ROOT, "tests/support/send_ipip.ts")),
      JSON.stringify({
        local: d.outsider!.ipv6,
        to: cli.ipv6,
        innerSrc: d.z.ipv4,
        innerDst: ipv4,
        count: 5,
      }),
    ]);
    assert.match(out.stdout, /"sent":5/, out.stdout + out.stderr);
    const counted = await until(async () => {
      const s = await status();
      return s.counters.drops["source-not-tep"] >= dropsBefore + 5 ? s : undefined;
    }, 5000);
    assert.ok(counted, "outsider packets counted as source-not-tep");
    // The CLI shows the same, with the explanation.
    const ctlText = nsRun(cli.ns, [
      ...programArgv(mode, "client"),
      "ctl",
      "status",
      "--control",
      cliSock,
    ]);
    assert.equal(ctlText.status, 0, ctlText.stderr);
    assert.match(
      ctlText.stdout,
      /source-not-tep +\d+ +tunnel packet whose IPv6 source is not a domain TEP/,
    );
    const ctlJson = nsRun(cli.ns, [
      ...programArgv(mode, "client"),
      "ctl",
      "status",
      "--json",
      "--control",
      cliSock,
    ]);
    const j = JSON.parse(ctlJson.stdout) as ClientStatus;
    assert.ok(j.counters.drops["source-not-tep"] >= dropsBefore + 5);
    assert.ok(j.counters.traffic["tunnel-rx-packets"] >= rxBefore, "rx counter readable");

    // A DF packet larger than the tunnel MTU (the TUN MTU raised behind the client's back): the
    // data plane drops it and tells the local stack with ICMPv4 3/4 carrying the tunnel MTU.
    nsRun(cli.ns, ["ip", "link", "set", "dstm0", "mtu", "1500"]);
    const big = nsRun(cli.ns, [
      "ping",
      "-n",
      "-c",
      "1",
      "-W",
      "1",
      "-M",
      "do",
      "-s",
      "1472",
      d.z.ipv4,
    ]);
    assert.match(
      big.stdout + big.stderr,
      /mtu = 1460/,
      `no 3/4 with the tunnel MTU\n${big.stdout}`,
    );
    const tooBig = await status();
    assert.ok(tooBig.counters.drops["too-big-df"] >= 1);
    assert.ok(tooBig.counters.traffic["icmpv4-errors-sent"] >= 1);
    nsRun(cli.ns, ["ip", "link", "set", "dstm0", "mtu", "1460"]);

    // TEP1 dies just after a renewal: the keepalive (probe unanswered or ICMPv6 error) notices it
    // well before the next renewal is due, the client asks again, and the server names TEP2.
    const r0 = (await status()).leaseStats.renewals;
    assert.ok(await until(async () => (await status()).leaseStats.renewals > r0, 5000));
    teps[0].signal("SIGKILL");
    const moved = await until(async () => {
      const s = await status();
      return s.lease?.tep === d.teps[1].ipv6 ? s : undefined;
    }, 20_000);
    assert.ok(moved, `no move to TEP2\n${diag()}`);
    assert.equal(moved.lease?.ipv4, ipv4, "the IPv4 address is kept");
    assert.ok(moved.tep.failures >= 1, `the TEP monitor declared TEP1 failed\n${client.tail()}`);
    assert.equal(moved.leaseStats.tepChanges, 1);
    const p3 = await until(() => {
      const r = ping(cli.ns, d.z.ipv4, 2, "0.2");
      return r.received === 2 ? r : undefined;
    }, 10_000);
    assert.ok(p3, `ping through TEP2\n${diag()}`);
    assert.ok(fs.existsSync(path.join(dir, "up.tep-change.env")), "tep-change hook ran");

    // SIGTERM: release, then nothing left behind.
    client.signal("SIGTERM");
    const exit = await Promise.race([
      client.exited,
      new Promise<{ code: number }>((r) => setTimeout(() => r({ code: -1 }), 15_000)),
    ]);
    assert.equal(exit.code, 0, `client exit\n${client.tail()}`);
    const leases = nsRun(d.server.ns, [
      ...programArgv(mode, "server"),
      "ctl",
      "leases",
      "--json",
      "--control",
      srvSock,
    ]);
    assert.equal(leases.status, 0, leases.stderr);
    const list = JSON.parse(leases.stdout) as { leases: { ipv4: string }[] };
    assert.ok(
      !list.leases.some((l) => l.ipv4 === ipv4),
      `lease still at the server: ${leases.stdout}`,
    );
    const links = ipJson<{ ifname: string }[]>(cli.ns, "link", "show");
    assert.ok(!links.some((l) => l.ifname === "dstm0"), "dstm0 removed");
    assert.deepEqual(ipJson<unknown[]>(cli.ns, "-4", "route", "show"), [], "no IPv4 route left");
    const downEnv = fs.readFileSync(path.join(dir, "down.down.env"), "utf8");
    assert.match(downEnv, /^DSTM_REASON=stopped$/m);
    const clean = nsRun(cli.ns, [...programArgv(mode, "client"), "cleanup"]);
    assert.equal(clean.status, 0, clean.stderr);
    assert.match(clean.stdout, /nothing to clean/);
    void server;
    if (process.env.DSTM_TEST_VERBOSE) console.log(diag());
  } finally {
    for (const p of procs) p.signal("SIGKILL");
    d.run.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test(
  "client netns: lease, interface, ping and TCP to z, renewals, drops, TEP failover, release (entry points)",
  { skip: NEEDS_ROOT },
  () => scenario("entry"),
);

test(
  "client netns: the same with the compiled binaries in dist/",
  { skip: NEEDS_ROOT ?? NO_DIST },
  () => scenario("compiled"),
);
