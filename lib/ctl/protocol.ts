/**
 * The control channel's messages, in the style of ISC Kea's: a request
 * `{ "command": "leases", "arguments": {...} }` answered by
 * `{ "result": 0, "text": "...", "arguments": {...} }` (result 0 = success, 1 = error,
 * 2 = unknown command). One JSON object per line over a Unix socket.
 */

/** A control request. */
export interface CtlRequest {
  /** Command name, e.g. `status`, `leases`, `teps`, `stats`, `bindings`. */
  command: string;
  /** Optional arguments. */
  arguments?: Record<string, unknown>;
}

/** A control response. */
export interface CtlResponse {
  /** 0 success, 1 error, 2 unknown command. */
  result: 0 | 1 | 2;
  /** Human-readable text (the `ctl` text output). */
  text: string;
  /** Structured answer (the `ctl --json` output). */
  arguments?: unknown;
}

/** Largest request line the control server accepts. */
export const CTL_MAX_LINE = 64 * 1024;

/** Parse one request line; never throws. */
export function parseCtlRequest(line: string): { ok: true; request: CtlRequest } | {
  ok: false;
  reason: string;
} {
  if (line.length > CTL_MAX_LINE) return { ok: false, reason: "request too long" };
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { ok: false, reason: "not JSON" };
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    return { ok: false, reason: "not an object" };
  }
  const o = v as Record<string, unknown>;
  if (typeof o.command !== "string" || o.command === "") {
    return { ok: false, reason: "missing command" };
  }
  if (
    o.arguments !== undefined &&
    (typeof o.arguments !== "object" || o.arguments === null || Array.isArray(o.arguments))
  ) return { ok: false, reason: "arguments must be an object" };
  return {
    ok: true,
    request: {
      command: o.command,
      arguments: o.arguments as Record<string, unknown> | undefined,
    },
  };
}

/** Render a table of rows for `ctl` text output. */
export function formatTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n") +
    "\n";
}
