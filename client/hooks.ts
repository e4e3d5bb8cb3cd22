/**
 * Running the operator's up/down hook scripts (`--up`, `--down`) with the `DSTM_*` environment of
 * `hooksEnv` (lib/client/hooks_env.ts) merged into the client's own environment. A hook's output
 * is logged line by line (`hook.output`), a hook still running after the timeout is killed, and a
 * failing hook is logged but never stops the client: the tunnel works without it.
 *
 * Which script runs: `up` after the interface is configured (`DSTM_EVENT=up`) and after a move
 * to another TEP (`DSTM_EVENT=tep-change`); `down` before the interface is taken down
 * (`DSTM_EVENT=down`, with `DSTM_REASON`).
 *
 * @module
 */
import { spawn } from "node:child_process";
import process from "node:process";
import type { Logger } from "../lib/log/logger.ts";

/** How a hook ended. */
export interface HookResult {
  /** Exit code, or null when killed by a signal. */
  readonly code: number | null;
  /** The signal that ended it, if any. */
  readonly signal: string | null;
  /** True when it was killed for running past the timeout. */
  readonly timedOut: boolean;
  /** Set when the script could not be started. */
  readonly error?: string;
}

/** Runs one hook script; resolves when it ended (never rejects). */
export type HookRunner = (script: string, env: Record<string, string>) => Promise<HookResult>;

/** A {@link HookRunner} over `child_process.spawn`, killing scripts after `timeoutMs`. */
export function processHookRunner(log: Logger, timeoutMs: number): HookRunner {
  return (script, env) =>
    new Promise<HookResult>((resolve) => {
      let child;
      try {
        child = spawn(script, [], {
          env: { ...process.env, ...env },
          stdio: ["ignore", "pipe", "pipe"],
        });
      } catch (e) {
        resolve({ code: null, signal: null, timedOut: false, error: (e as Error).message });
        return;
      }
      let timedOut = false;
      let settled = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, timeoutMs);
      const lines = (stream: "stdout" | "stderr") => {
        let buf = "";
        child[stream]?.setEncoding("utf8");
        child[stream]?.on("data", (d: string) => {
          buf += d;
          let i;
          while ((i = buf.indexOf("\n")) >= 0) {
            log.info("hook.output", { script, stream, line: buf.slice(0, i) });
            buf = buf.slice(i + 1);
          }
          if (buf.length > 4096) {
            log.info("hook.output", { script, stream, line: buf });
            buf = "";
          }
        });
        child[stream]?.on("end", () => {
          if (buf) log.info("hook.output", { script, stream, line: buf });
        });
      };
      lines("stdout");
      lines("stderr");
      const done = (r: HookResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      child.on("error", (e: Error) =>
        done({ code: null, signal: null, timedOut: false, error: e.message }));
      child.on("close", (code: number | null, signal: string | null) =>
        done({ code, signal, timedOut }));
    });
}
