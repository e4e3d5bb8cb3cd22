/** JSON-lines output and stdin commands shared by the sys probes (test helpers). */
import process from "node:process";
import { SysError } from "../../lib/sys/sys_error.ts";

/** Print one event line. */
export function emit(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
}

/** The event line describing an exception (SysError fields kept). */
export function errorFields(e: unknown): Record<string, unknown> {
  if (e instanceof SysError) {
    return {
      name: e.name,
      code: e.code,
      errno: e.errno,
      op: e.op,
      message: e.message,
      permissionDenied: e.permissionDenied,
    };
  }
  return { name: (e as Error)?.name, message: String((e as Error)?.message ?? e) };
}

/** Resolve when stdin says `stop` or closes. */
export function untilStop(): Promise<void> {
  return new Promise((resolve) => {
    let buf = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (d: string) => {
      buf += d;
      if (buf.includes("stop")) resolve();
    });
    process.stdin.on("end", () => resolve());
    process.stdin.on("close", () => resolve());
  });
}
