/**
 * The server's configuration: JSON file (`--config`), overridden by flags, checked as a whole so
 * `--check-config` can list every issue with its path.
 */
import fs from "node:fs";
import { ConfigError, type ConfigIssue } from "../lib/config/config_error.ts";
import type { Schema } from "../lib/config/schema.ts";
import { readConfigFile } from "../lib/config/config_file.ts";
import {
  checkCidr4,
  checkEndpoint,
  checkIpv4,
  checkIpv6,
  type Endpoint,
  parseEndpoint,
} from "../lib/config/addresses.ts";
import { type Credential, parseCredentials } from "../lib/auth/credentials.ts";
import type { FlagValues } from "../lib/cli/command.ts";
import { contains4, formatIpv6, parseCidr4, parseIpv4, parseIpv6 } from "../lib/addr/mod.ts";

/** A TEP of the domain as the server knows it. */
export interface TepConfig {
  /** Name; also its TSP user name (role `tep`). */
  name: string;
  /** TEPV6ADDR. */
  ipv6: string;
  /** TEPV4ADDR. */
  ipv4: string;
}

/** The validated server configuration. */
export interface ServerConfig {
  /** Addresses served over TCP and UDP. */
  listen: Endpoint[];
  /** The shared IPv4 pool (CIDR text). */
  pool: string;
  /** Pool addresses never leased (besides network, broadcast and TEP addresses). */
  exclude: string[];
  /** The TEPs of the domain. */
  teps: TepConfig[];
  /** Lease lifetime handed to clients, minutes (what `lifetime=` says, rounded up). */
  lifetimeMinutes: number;
  /** Lease lifetime in ms (`lifetimeSeconds`, testing only, overrides the minutes). */
  lifetimeMs: number;
  /** Longest binding lifetime handed to a TEP in a query reply or push, minutes. */
  tepBindingMaxMinutes: number;
  /** Minimum quarantine of a released or expired address, ms (restart to change). */
  quarantineMs: number;
  /** Journal directory. */
  stateDir: string;
  /** Credentials file path, if any. */
  credentialsFile?: string;
  /** Users from the credentials file. */
  users: Map<string, Credential>;
  /** Offer ANONYMOUS to clients. */
  allowAnonymous: boolean;
  /** Offer PLAIN. */
  allowPlain: boolean;
  /** SASL DIGEST-MD5 realm. */
  realm: string;
  /** DNS server sent to clients. */
  dnsServer?: string;
  /** Control socket path. */
  control: string;
  /** Prometheus endpoint. */
  metrics?: Endpoint;
  /** Log format. */
  logFormat: "text" | "json";
  /** Log level. */
  logLevel: "debug" | "info" | "warn" | "error";
  /** Live leases per client IPv6 address. */
  maxLeasesPerIpv6: number;
  /** Live leases per authenticated identity (ANONYMOUS counts per IPv6 only). */
  maxLeasesPerIdentity: number;
  /** Concurrent TSP connections (TCP) and UDP sessions. */
  maxConnections: number;
  /** Idle timeout of an authenticated client session (not TEP sessions) and of a UDP peer, ms. */
  idleTimeoutMs: number;
  /** Time allowed from connection to the end of authentication, ms. */
  authTimeoutMs: number;
  /** A line or frame once started must be complete within this time (slow-read bound), ms. */
  frameTimeoutMs: number;
  /** Pushes waiting for one TEP session beyond which that session is closed (it resyncs). */
  tepPushQueue: number;
  /**
   * Take the client IPv6 address from the request even when it differs from the source address
   * of an IPv6 session (behind a NAT66 or a relay). Default false: it must match.
   */
  trustRequestAddress: boolean;
  /** Longest line accepted. */
  maxLineLength: number;
  /** Largest Content-length accepted. */
  maxContentLength: number;
  /** Keepalive interval sent to clients, seconds (0 = none). */
  keepaliveSeconds: number;
}

const str = (check?: (s: string) => string | undefined): Schema => ({ type: "string", check });

/** JSON schema of the config file. */
export const SERVER_SCHEMA: Schema = {
  type: "object",
  fields: {
    listen: { type: "array", items: str(checkEndpoint), minItems: 1 },
    pool: str(checkCidr4),
    exclude: { type: "array", items: str(checkIpv4) },
    teps: {
      type: "array",
      items: {
        type: "object",
        fields: {
          name: { type: "string", required: true, check: checkName },
          ipv6: { type: "string", required: true, check: checkIpv6 },
          ipv4: { type: "string", required: true, check: checkIpv4 },
        },
      },
    },
    lifetimeMinutes: { type: "integer", min: 1, max: 525600 },
    /** Testing only: lease lifetime in seconds, overrides lifetimeMinutes. */
    lifetimeSeconds: { type: "integer", min: 1, max: 31536000 },
    tepBindingMaxMinutes: { type: "integer", min: 1, max: 525600 },
    quarantineMinutes: { type: "integer", min: 0, max: 525600 },
    /** Testing only: quarantine in seconds, overrides quarantineMinutes. */
    quarantineSeconds: { type: "integer", min: 0, max: 31536000 },
    stateDir: str(),
    credentials: str(),
    allowAnonymous: { type: "boolean" },
    allowPlain: { type: "boolean" },
    realm: str((s) => /^[\w.-]{1,64}$/.test(s) ? undefined : "realm must be [A-Za-z0-9._-]{1,64}"),
    dnsServer: str(checkIpv6),
    control: str(),
    metrics: str(checkEndpoint),
    logFormat: { type: "string", enum: ["text", "json"] },
    logLevel: { type: "string", enum: ["debug", "info", "warn", "error"] },
    maxLeasesPerIpv6: { type: "integer", min: 1, max: 65536 },
    maxLeasesPerIdentity: { type: "integer", min: 1, max: 16777216 },
    maxConnections: { type: "integer", min: 1, max: 1000000 },
    idleTimeoutSeconds: { type: "integer", min: 1, max: 86400 },
    authTimeoutSeconds: { type: "integer", min: 1, max: 3600 },
    frameTimeoutSeconds: { type: "integer", min: 1, max: 3600 },
    tepPushQueue: { type: "integer", min: 16, max: 16777216 },
    trustRequestAddress: { type: "boolean" },
    maxLineLength: { type: "integer", min: 128, max: 65536 },
    maxContentLength: { type: "integer", min: 512, max: 1048576 },
    keepaliveSeconds: { type: "integer", min: 0, max: 3600 },
  },
};

function checkName(s: string): string | undefined {
  return /^[A-Za-z0-9._@-]{1,64}$/.test(s) ? undefined : "name must be [A-Za-z0-9._@-]{1,64}";
}

/** Parse a `--tep NAME,IPV6,IPV4` flag value. */
export function parseTepFlag(s: string): TepConfig | string {
  const parts = s.split(",").map((p) => p.trim());
  if (parts.length !== 3) return `expected NAME,IPV6,IPV4, got ${JSON.stringify(s)}`;
  const [name, ipv6, ipv4] = parts;
  const e = checkName(name) ?? checkIpv6(ipv6) ?? checkIpv4(ipv4);
  return e ? `${JSON.stringify(s)}: ${e}` : { name, ipv6, ipv4 };
}

/**
 * Build the configuration from the file named by `--config` (if any) and the flags (which win).
 * Returns the config or every issue found. File reads go through `readFile` (tests inject it).
 */
export function loadServerConfig(
  flags: FlagValues,
  readFile: (path: string) => string = (p) => fs.readFileSync(p, "utf8"),
):
  | { ok: true; config: ServerConfig; warnings: string[] }
  | { ok: false; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const file = readConfigFile(
    typeof flags.config === "string" ? flags.config : undefined,
    SERVER_SCHEMA,
    readFile,
    issues,
  );

  const flagList = (name: string): string[] | undefined => {
    const v = flags[name];
    return Array.isArray(v) && v.length ? v : undefined;
  };
  const flagInt = (name: string, min: number, max: number): number | undefined => {
    const v = flags[name];
    if (typeof v !== "string") return undefined;
    if (!/^\d+$/.test(v) || +v < min || +v > max) {
      issues.push({ path: `--${name}`, message: `expected an integer ${min}..${max}, got ${v}` });
      return undefined;
    }
    return +v;
  };

  // listen
  const listenText = flagList("listen") ?? (file.listen as string[] | undefined) ?? ["[::]:3653"];
  const listen: Endpoint[] = [];
  for (const [i, t] of listenText.entries()) {
    const e = parseEndpoint(t, 3653);
    if (typeof e === "string") {
      if (flagList("listen")) issues.push({ path: `--listen`, message: e });
      else if (!file.listen) issues.push({ path: `listen[${i}]`, message: e });
    } else listen.push(e);
  }

  // pool
  const pool = (flags.pool as string | undefined) ?? (file.pool as string | undefined);
  if (pool === undefined) issues.push({ path: "pool", message: "is required (--pool CIDR)" });
  else if (typeof flags.pool === "string") {
    const e = checkCidr4(flags.pool);
    if (e) issues.push({ path: "--pool", message: e });
  }

  // teps
  let teps: TepConfig[] = [];
  const tepFlags = flagList("tep");
  if (tepFlags) {
    for (const t of tepFlags) {
      const r = parseTepFlag(t);
      if (typeof r === "string") issues.push({ path: "--tep", message: r });
      else teps.push(r);
    }
  } else if (Array.isArray(file.teps)) teps = file.teps as TepConfig[];
  if (teps.length === 0) {
    issues.push({ path: "teps", message: "at least one TEP is required (--tep NAME,IPV6,IPV4)" });
  }
  const seen = new Set<string>();
  teps.forEach((t, i) => {
    if (seen.has(t.name)) issues.push({ path: `teps[${i}].name`, message: `duplicate ${t.name}` });
    seen.add(t.name);
  });

  const exclude = flagList("exclude") ?? (file.exclude as string[] | undefined) ?? [];
  if (flagList("exclude")) {
    for (const x of exclude) {
      const e = checkIpv4(x);
      if (e) issues.push({ path: "--exclude", message: `${x}: ${e}` });
    }
  }
  if (pool) {
    const c = parseCidr4(pool);
    if (c.ok) {
      for (const x of exclude) {
        const a = parseIpv4(x);
        if (a.ok && !contains4(c.value, a.value)) {
          issues.push({ path: "exclude", message: `${x} is not in the pool ${pool}` });
        }
      }
    }
  }

  const lifetimeMinutes = flagInt("lifetime", 1, 525600) ??
    (file.lifetimeMinutes as number | undefined) ?? 1440;

  // credentials
  const credentialsFile = (flags.credentials as string | undefined) ??
    (file.credentials as string | undefined);
  let users = new Map<string, Credential>();
  if (credentialsFile) {
    try {
      const parsed = parseCredentials(readFile(credentialsFile), credentialsFile);
      users = parsed.users;
      issues.push(...parsed.issues);
    } catch (e) {
      issues.push({ path: credentialsFile, message: `cannot read: ${(e as Error).message}` });
    }
  }
  const allowAnonymous = flags["allow-anonymous"] === true || file.allowAnonymous === true;
  const allowPlain = flags["allow-plain"] === true || file.allowPlain === true;
  for (const t of teps) {
    const u = users.get(t.name);
    if (u && u.role !== "tep") {
      issues.push({ path: "teps", message: `user ${t.name} must have role tep` });
    }
  }
  if (users.size === 0 && !allowAnonymous) {
    issues.push({
      path: "credentials",
      message: "no credentials file and anonymous access is off: nobody could authenticate",
    });
  }

  let metrics: Endpoint | undefined;
  const metricsText = (flags.metrics as string | undefined) ?? (file.metrics as string | undefined);
  if (metricsText) {
    const e = parseEndpoint(metricsText);
    if (typeof e === "string") issues.push({ path: "metrics", message: e });
    else metrics = e;
  }
  const dnsServer = (flags["dns-server"] as string | undefined) ??
    (file.dnsServer as string | undefined);
  if (typeof flags["dns-server"] === "string") {
    const e = checkIpv6(flags["dns-server"]);
    if (e) issues.push({ path: "--dns-server", message: e });
  }
  const logFormat = (flags["log-format"] as string | undefined) ??
    (file.logFormat as string | undefined) ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    issues.push({ path: "--log-format", message: "expected text or json" });
  }

  // TEP addresses: unique, and each TEP has credentials it can use (role tep, DIGEST-MD5)
  const warnings: string[] = [];
  const seen6 = new Set<string>();
  const seen4 = new Set<string>();
  teps.forEach((t, i) => {
    if (typeof t.ipv6 === "string") {
      const k = normalise6(t.ipv6);
      if (seen6.has(k)) issues.push({ path: `teps[${i}].ipv6`, message: `duplicate ${t.ipv6}` });
      seen6.add(k);
    }
    if (typeof t.ipv4 === "string") {
      if (seen4.has(t.ipv4)) {
        issues.push({ path: `teps[${i}].ipv4`, message: `duplicate ${t.ipv4}` });
      }
      seen4.add(t.ipv4);
    }
    if (!users.has(t.name)) {
      warnings.push(
        `TEP ${t.name} has no entry in the credentials file: it cannot authenticate, so it ` +
          `gets no pushes and cannot query (add "${t.name}:PASSWORD:tep")`,
      );
    }
  });
  for (const u of users.values()) {
    if (u.role === "tep" && !teps.some((t) => t.name === u.user)) {
      warnings.push(`user ${u.user} has role tep but no TEP of that name is configured`);
    }
  }

  const logLevel = (flags["log-level"] as string | undefined) ??
    (file.logLevel as string | undefined) ?? "info";
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    issues.push({ path: "--log-level", message: "expected debug, info, warn or error" });
  }

  if (issues.length) return { ok: false, issues };
  const num = (k: string, d: number) => (file[k] as number | undefined) ?? d;
  const lifetimeSeconds = file.lifetimeSeconds as number | undefined;
  const quarantineSeconds = file.quarantineSeconds as number | undefined;
  if (!dnsServer) {
    warnings.push(
      "no dnsServer: replies carry no <dns_server>, which some deployed TSP clients need",
    );
  }
  if (lifetimeSeconds !== undefined || quarantineSeconds !== undefined) {
    warnings.push("lifetimeSeconds/quarantineSeconds are for testing only");
  }
  return {
    ok: true,
    warnings,
    config: {
      listen,
      pool: pool!,
      exclude,
      teps,
      lifetimeMinutes: lifetimeSeconds !== undefined
        ? Math.ceil(lifetimeSeconds / 60)
        : lifetimeMinutes,
      lifetimeMs: lifetimeSeconds !== undefined ? lifetimeSeconds * 1000 : lifetimeMinutes * 60000,
      tepBindingMaxMinutes: num("tepBindingMaxMinutes", 15),
      quarantineMs: quarantineSeconds !== undefined
        ? quarantineSeconds * 1000
        : num("quarantineMinutes", 1) * 60000,
      stateDir: (flags["state-dir"] as string | undefined) ??
        (file.stateDir as string | undefined) ?? "/var/lib/dstm-server",
      credentialsFile,
      users,
      allowAnonymous,
      allowPlain,
      realm: (file.realm as string | undefined) ?? "dstm",
      dnsServer,
      control: (flags.control as string | undefined) ?? (file.control as string | undefined) ??
        DEFAULT_CONTROL,
      metrics,
      logFormat: logFormat as "text" | "json",
      logLevel: logLevel as ServerConfig["logLevel"],
      maxLeasesPerIpv6: num("maxLeasesPerIpv6", 1),
      maxLeasesPerIdentity: num("maxLeasesPerIdentity", 16),
      maxConnections: num("maxConnections", 4096),
      idleTimeoutMs: num("idleTimeoutSeconds", 60) * 1000,
      authTimeoutMs: num("authTimeoutSeconds", 15) * 1000,
      frameTimeoutMs: num("frameTimeoutSeconds", 10) * 1000,
      maxLineLength: num("maxLineLength", 2048),
      maxContentLength: num("maxContentLength", 16384),
      keepaliveSeconds: num("keepaliveSeconds", 0),
      tepPushQueue: num("tepPushQueue", 65536),
      trustRequestAddress: file.trustRequestAddress === true,
    },
  };
}

/** Default control socket path (the systemd unit's RuntimeDirectory). */
export const DEFAULT_CONTROL = "/run/dstm-server/control.sock";

function normalise6(s: string): string {
  const r = parseIpv6(s);
  return r.ok ? formatIpv6(r.value) : s;
}

/** Like {@linkcode loadServerConfig} but throws {@linkcode ConfigError}. */
export function requireServerConfig(flags: FlagValues): ServerConfig {
  const r = loadServerConfig(flags);
  if (!r.ok) throw new ConfigError(r.issues);
  return r.config;
}
