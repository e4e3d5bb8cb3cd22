/**
 * Test helpers (not a test file): run `dstm-server` as a child process — from source with the
 * runtime running the test (`deno run -A server/main.ts` or `bun server/main.ts`), or a
 * compiled binary — and watch its log.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import dgram from "node:dgram";
import path from "node:path";
import process from "node:process";

/** The repository root. */
export const ROOT = path.resolve(import.meta.dirname ?? ".", "../..");

/** The command that runs `server/main.ts` on the runtime running this test. */
export function serverCommand(): { cmd: string; args: string[] } {
  const main = path.join(ROOT, "server", "main.ts");
  return typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
    ? { cmd: process.execPath, args: ["run", "-A", main] }
    : { cmd: process.execPath, args: [main] };
}

/** A running child server. */
export interface ServerProcess {
  /** The child. */
  readonly child: ChildProcess;
  /** Log lines (stderr) so far. */
  readonly lines: string[];
  /** Standard output so far. */
  stdout(): string;
  /** Wait for a log line matching `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
  /**
   * Send a signal. Uses `process.kill(pid)`: Deno's `ChildProcess.kill(signal)` did not
   * reliably deliver a second signal to a child in our runs.
   */
  signal(sig: NodeJS.Signals): void;
}

/** Spawn `cmd args`; collect stderr lines. */
export function spawnProcess(cmd: string, args: string[]): ServerProcess {
  const child = spawn(cmd, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  const lines: string[] = [];
  let out = "";
  let partial = "";
  child.stdout!.on("data", (d) => out += d);
  child.stderr!.on("data", (d) => {
    partial += d;
    const parts = partial.split("\n");
    partial = parts.pop()!;
    lines.push(...parts);
    if (process.env.DSTM_TEST_LOG) {
      for (const l of parts) process.stderr.write(`[child] ${l}\n`);
    }
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? signal ?? -1))
  );
  return {
    child,
    lines,
    stdout: () => out,
    async waitFor(re, timeoutMs = 15000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const hit = lines.find((l) => re.test(l));
        if (hit) return hit;
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(
            `server exited (${child.exitCode ?? child.signalCode}) before ${re}:\n${
              lines.join("\n")
            }`,
          );
        }
        if (Date.now() > end) throw new Error(`no ${re} in:\n${lines.join("\n")}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    exited,
    signal(sig) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid, sig);
      }
    },
  };
}

/** A port free for both TCP and UDP on `host`. */
export async function freePort(host: string): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once("error", reject);
      s.listen(0, host, () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
      u.once("error", () => resolve(false));
      u.bind(port, host, () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error("no free port");
}
