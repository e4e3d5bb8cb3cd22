/**
 * Building network-namespace topologies for the demo and the end-to-end tests, with the `ip`
 * tool (the dstm binaries themselves never use it). Every namespace name carries a run prefix so
 * concurrent runs cannot collide, and `teardown` removes everything the run made.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import process from "node:process";
import { clearTimeout, setTimeout } from "node:timers";

/** Run a command; throws with its stderr when it fails. Returns stdout. */
export function sh(cmd: string, args: string[], timeoutMs = 60_000): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs });
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim()}`,
    );
  }
  return r.stdout;
}

/** Run a command; status and output, never throws. */
export function shTry(
  cmd: string,
  args: string[],
  timeoutMs = 60_000,
): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs });
  return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** `ip -j -n <ns> ...` parsed as JSON. */
export function ipJson<T = unknown>(ns: string, ...args: string[]): T {
  return JSON.parse(sh("ip", ["-j", "-n", ns, ...args]) || "[]") as T;
}

/** MAC address of `dev` in `ns`. */
export function linkMac(ns: string, dev: string): string {
  return ipJson<{ address: string }[]>(ns, "link", "show", dev)[0].address;
}

/** Run a program inside `ns` without blocking the event loop; resolves with its output. */
export function nsRunAsync(
  ns: string,
  argv: readonly string[],
  timeoutMs = 120_000,
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("ip", ["netns", "exec", ns, ...argv], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(t);
      resolve({ status: code ?? -1, stdout, stderr });
    });
  });
}

/** Run `ip` with `args`, throwing with stderr on failure. */
export function ip(...args: string[]): string {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) {
    throw new Error(`ip ${args.join(" ")}: ${(r.stderr || r.stdout || "").trim()}`);
  }
  return r.stdout;
}

/** Run a command inside namespace `ns` and return its stdout (throws on failure). */
export function nsExec(ns: string, cmd: string, args: string[], timeoutMs = 30_000): string {
  return execFileSync("ip", ["netns", "exec", ns, cmd, ...args], {
    encoding: "utf8",
    timeout: timeoutMs,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Like {@linkcode nsExec} but returns status and output instead of throwing. */
export function nsTry(
  ns: string,
  cmd: string,
  args: string[],
  timeoutMs = 30_000,
): { status: number; stdout: string; stderr: string } {
  const r = spawnSync("ip", ["netns", "exec", ns, cmd, ...args], {
    encoding: "utf8",
    timeout: timeoutMs,
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** Write a sysctl inside a namespace. */
export function sysctl(ns: string, key: string, value: string): void {
  nsExec(ns, "sysctl", ["-q", "-w", `${key}=${value}`]);
}

/**
 * Sequence of the temporary veth names made in the root namespace: shared by every run of this
 * process, so two runs alive at once in one process never pick the same name.
 */
let vethSeq = 0;

/** A set of namespaces created for one run. */
export class NetnsRun {
  /** Prefix of every namespace of this run. */
  readonly prefix: string;
  #made: string[] = [];
  /** Temporary veth names made in the root namespace (left there if a move failed). */
  #tmpLinks: string[] = [];

  /** Create a run whose namespaces are named `<prefix><name>`. */
  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** Full namespace name for a short name. */
  ns(name: string): string {
    return `${this.prefix}${name}`;
  }

  /** Create namespace `name` with loopback up. Returns its full name. */
  add(name: string): string {
    const full = this.ns(name);
    ip("netns", "add", full);
    this.#made.push(full);
    ip("-n", full, "link", "set", "lo", "up");
    // Keep IPv6 addresses usable at once (no DAD delay) in the test networks.
    sysctl(full, "net.ipv6.conf.all.accept_dad", "0");
    sysctl(full, "net.ipv6.conf.default.accept_dad", "0");
    return full;
  }

  /**
   * Join namespaces `a` and `b` with a veth pair named `ifA` / `ifB` (each at most 15 bytes),
   * both brought up.
   */
  link(a: string, ifA: string, b: string, ifB: string): void {
    const seq = vethSeq++;
    const tmpA = `v${process.pid % 100000}a${seq}`;
    const tmpB = `v${process.pid % 100000}b${seq}`;
    ip("link", "add", tmpA, "type", "veth", "peer", "name", tmpB);
    this.#tmpLinks.push(tmpA);
    ip("link", "set", tmpA, "netns", this.ns(a));
    ip("link", "set", tmpB, "netns", this.ns(b));
    ip("-n", this.ns(a), "link", "set", tmpA, "name", ifA);
    ip("-n", this.ns(b), "link", "set", tmpB, "name", ifB);
    ip("-n", this.ns(a), "link", "set", ifA, "up");
    ip("-n", this.ns(b), "link", "set", ifB, "up");
  }

  /** Create bridge `br` in namespace `name`, up. */
  bridge(name: string, br: string): void {
    ip("-n", this.ns(name), "link", "add", br, "type", "bridge");
    ip("-n", this.ns(name), "link", "set", br, "up");
  }

  /** Attach `dev` to bridge `br` in namespace `name`. */
  enslave(name: string, dev: string, br: string): void {
    ip("-n", this.ns(name), "link", "set", dev, "master", br);
  }

  /** Add an address (CIDR) to `dev` in namespace `name`. */
  addr(name: string, dev: string, cidr: string): void {
    const fam = cidr.includes(":") ? "-6" : "-4";
    ip(
      "-n",
      this.ns(name),
      fam,
      "addr",
      "add",
      cidr,
      "dev",
      dev,
      ...(fam === "-6" ? ["nodad"] : []),
    );
  }

  /** Add a route in namespace `name`: `route("r4", "198.51.100.0/24", "via", "192.0.2.2")`. */
  route(name: string, dst: string, ...rest: string[]): void {
    const fam = dst.includes(":") || rest.some((r) => r.includes(":")) ? "-6" : "-4";
    ip("-n", this.ns(name), fam, "route", "add", dst, ...rest);
  }

  /** Turn on IPv4 and IPv6 forwarding in namespace `name`. */
  forwarding(name: string): void {
    sysctl(this.ns(name), "net.ipv4.ip_forward", "1");
    sysctl(this.ns(name), "net.ipv6.conf.all.forwarding", "1");
  }

  /** Names of the namespaces this run made that still exist. */
  alive(): string[] {
    const list = ip("netns", "list");
    return this.#made.filter((n) => new RegExp(`^${n}( |$)`, "m").test(list));
  }

  /**
   * Kill every process in this run's namespaces and delete them, and remove any temporary veth
   * this run left in the root namespace (a link whose move failed). Never throws.
   */
  teardown(): void {
    for (const full of [...this.#made].reverse()) {
      const pids = spawnSync("ip", ["netns", "pids", full], { encoding: "utf8" }).stdout ?? "";
      for (const pid of pids.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch { /* gone */ }
      }
      spawnSync("ip", ["netns", "del", full]);
    }
    this.#made = [];
    for (const tmp of this.#tmpLinks) {
      // Deleting one end of a veth pair deletes both; a moved link is simply not found here.
      spawnSync("ip", ["link", "del", tmp], { stdio: "ignore" });
    }
    this.#tmpLinks = [];
  }
}

/** Remove every namespace whose name starts with `prefix` (stale runs). */
export function removeStale(prefix: string): string[] {
  const list = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  const names = list.split("\n").map((l) => l.split(" ")[0]).filter((n) => n.startsWith(prefix));
  for (const n of names) {
    const pids = spawnSync("ip", ["netns", "pids", n], { encoding: "utf8" }).stdout ?? "";
    for (const pid of pids.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch { /* gone */ }
    }
    spawnSync("ip", ["netns", "del", n]);
  }
  return names;
}
