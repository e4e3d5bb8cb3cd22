/**
 * Structured logging: one event per line with a stable event name (`lease.allocated`,
 * `tep.drop`), as text or JSON. The sink and the clock are injected, so the logger itself does no
 * I/O of its own and tests can read what was logged.
 */

/** Severity of a log event. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Field values a log event may carry. */
export type LogFields = Record<string, string | number | boolean | bigint | null | undefined>;

/** A structured logger. */
export interface Logger {
  /** Log `event` at `level` with `fields`. */
  log(level: LogLevel, event: string, fields?: LogFields): void;
  /** Debug-level event. */
  debug(event: string, fields?: LogFields): void;
  /** Info-level event. */
  info(event: string, fields?: LogFields): void;
  /** Warning. */
  warn(event: string, fields?: LogFields): void;
  /** Error. */
  error(event: string, fields?: LogFields): void;
  /**
   * Whether events at `level` are written: check it before building costly fields for a
   * frequent event (formatting addresses and dates for a line that is then dropped).
   */
  enabled(level: LogLevel): boolean;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Where each finished line (with its newline) goes. */
  write: (line: string) => void;
  /** `text` (default) or `json`. */
  format?: "text" | "json";
  /** Least severe level written (default `info`). */
  level?: LogLevel;
  /** Clock in ms since the epoch (default `Date.now`). */
  now?: () => number;
  /** Fields added to every event, e.g. `{ component: "tep1" }`. */
  base?: LogFields;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function textValue(v: unknown): string {
  const s = String(v);
  return /^[\w.:/@\[\]+-]+$/.test(s) ? s : JSON.stringify(s);
}

/** Create a logger writing to `opts.write`. */
export function createLogger(opts: LoggerOptions): Logger {
  const min = RANK[opts.level ?? "info"];
  const now = opts.now ?? Date.now;
  const base = opts.base ?? {};
  const json = opts.format === "json";
  const log = (level: LogLevel, event: string, fields: LogFields = {}): void => {
    if (RANK[level] < min) return;
    const ts = new Date(now()).toISOString();
    const all: LogFields = { ...base, ...fields };
    if (json) {
      const obj: Record<string, unknown> = { ts, level, event };
      for (const [k, v] of Object.entries(all)) {
        if (v !== undefined) obj[k] = typeof v === "bigint" ? v.toString() : v;
      }
      opts.write(JSON.stringify(obj) + "\n");
      return;
    }
    let line = `${ts} ${level.toUpperCase().padEnd(5)} ${event}`;
    for (const [k, v] of Object.entries(all)) {
      if (v !== undefined) line += ` ${k}=${textValue(v)}`;
    }
    opts.write(line + "\n");
  };
  return {
    log,
    debug: (e, f) => log("debug", e, f),
    info: (e, f) => log("info", e, f),
    warn: (e, f) => log("warn", e, f),
    error: (e, f) => log("error", e, f),
    enabled: (level) => RANK[level] >= min,
  };
}

/** A logger that drops everything. */
export const nullLogger: Logger = createLogger({ write: () => {}, level: "error" });
