/**
 * Helpers for the sys namespace tests: unique namespace names (with the pid), the `ip` tool to
 * build topologies and read results (tests only, never lib code), and probe child processes run
 * inside a namespace on the current runtime, talking JSON lines on stdio.
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runtimeName } from "../../lib/sys/runtime.ts";
import { ipJson, linkMac, sh, shTry } from "../../demo/netns.ts";

export { ipJson, linkMac, sh, shTry };

/** Why a namespace test is skipped, or undefined when it can run. */
export const NEEDS_ROOT: string | undefined =
  typeof process.getuid === "function" && process.getuid() === 0
    ? undefined
    : "needs root (creates network namespaces, TUN devices and raw sockets)";

let counter = 0;

/** A namespace name unique to this process and call: `ds<pid><tag><n>`. */
export function uniqueNs(tag: string): string {
  counter++;
  return `ds${process.pid}${tag}${counter}`;
}

/**
 * Pin IPv6 neighbour entries on both ends of a veth pair: on a fresh veth the first IPv6
 * neighbour solicitation is lost and resolution waits a full second (measured), which would
 * dominate the test time.
 */
export function pinNeighbors(
  a: { ns: string; dev: string; ip: string },
  b: { ns: string; dev: string; ip: string },
): void {
  const macA = linkMac(a.ns, a.dev);
  const macB = linkMac(b.ns, b.dev);
  sh("ip", [
    "-n",
    a.ns,
    "neigh",
    "replace",
    b.ip,
    "lladdr",
    macB,
    "dev",
    a.dev,
    "nud",
    "permanent",
  ]);
  sh("ip", [
    "-n",
    b.ns,
    "neigh",
    "replace",
    a.ip,
    "lladdr",
    macA,
    "dev",
    b.dev,
    "nud",
    "permanent",
  ]);
}

/** Create the namespaces, run `fn`, and always delete them (killing what runs inside). */
export async function withNamespaces<T>(
  names: string[],
  fn: (...ns: string[]) => Promise<T>,
): Promise<T> {
  const made: string[] = [];
  try {
    for (const n of names) {
      sh("ip", ["netns", "add", n]);
      made.push(n);
      sh("ip", ["-n", n, "link", "set", "lo", "up"]);
    }
    return await fn(...names);
  } finally {
    for (const n of made) {
      const pids = shTry("ip", ["netns", "pids", n]).stdout.split(/\s+/).filter(Boolean);
      for (const pid of pids) shTry("kill", ["-9", pid]);
      shTry("ip", ["netns", "del", n]);
    }
  }
}

/** Absolute path of a file beside this helper. */
export function here(file: string): string {
  return fileURLToPath(new URL(file, import.meta.url));
}

/** The command line that runs `script` on the current runtime. */
export function runtimeArgv(script: string, args: string[] = []): string[] {
  if (runtimeName() === "deno") return [process.execPath, "run", "-A", script, ...args];
  return [process.execPath, script, ...args];
}

/** A probe process inside a namespace, with JSON lines on stdout and commands on stdin. */
export class Probe {
  readonly child: ChildProcess;
  #lines: string[] = [];
  #waiters: (() => void)[] = [];
  #stderr = "";
  #exit: Promise<number>;

  /** Start `argv` inside `ns` (`ip netns exec`), with an optional prefix such as `setpriv`. */
  constructor(ns: string, argv: string[]) {
    this.child = spawn("ip", ["netns", "exec", ns, ...argv], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let buf = "";
    this.child.stdout!.setEncoding("utf8");
    this.child.stdout!.on("data", (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        this.#lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      this.#wake();
    });
    this.child.stderr!.setEncoding("utf8");
    this.child.stderr!.on("data", (d: string) => (this.#stderr += d));
    this.#exit = new Promise((resolve) => {
      this.child.on("close", (code) => {
        this.#wake();
        resolve(code ?? -1);
      });
    });
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Everything the probe wrote on stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Wait for the next JSON line whose `event` is `event` (skipping others). */
  async next<T = Record<string, unknown>>(event: string, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#lines.length > 0) {
        const line = this.#lines.shift()!;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        if (msg.event === "error") {
          throw new Error(`probe failed: ${JSON.stringify(msg)}\n${this.#stderr}`);
        }
        if (msg.event === event) return msg as T;
      }
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`probe exited before "${event}":\n${this.#stderr}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`probe: no "${event}" within ${timeoutMs} ms\n${this.#stderr}`);
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

  /** Send one command line to the probe's stdin. */
  send(line: string): void {
    this.child.stdin!.write(line + "\n");
  }

  /** Close stdin and wait for the exit code (killing the probe after `timeoutMs`). */
  async finish(timeoutMs = 5_000): Promise<number> {
    this.child.stdin!.end();
    const t = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    try {
      return await this.#exit;
    } finally {
      clearTimeout(t);
    }
  }
}
