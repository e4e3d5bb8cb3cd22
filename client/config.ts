/**
 * The client's configuration: a JSON file (`--config`), overridden by flags, checked as a whole so
 * that `--check-config` lists every issue with its path (exit 78). Flags > file > defaults.
 *
 * | Key (file) | Flag | Default | Meaning |
 * |---|---|---|---|
 * | `server` | `--server` | (required) | the DSTM server, `[IPV6]:PORT` (port 3653 if left out) |
 * | `source` | `--source` | kernel's choice | registered IPv6: TSP source and tunnel source |
 * | `interface` | `--interface` | `dstm0` | name of the 4over6 TUN |
 * | `routes` | `--route` | `["default"]` | IPv4 blocks routed into the tunnel |
 * | `credentials` | `--credentials` | none (ANONYMOUS) | `USER:PASS`, or a file of `user:password` |
 * | `mechanism` | — | DIGEST-MD5 with credentials, else ANONYMOUS | SASL mechanism |
 * | `tepPrefixes` | `--tep-prefix` | /64 of each TEP the server names | accepted tunnel sources |
 * | `up`, `down` | `--up`, `--down` | none | hook scripts |
 * | `control` | `--control` | `/run/dstm-client/control.sock` | control socket |
 * | `mtu` | `--mtu` | 1460 | tunnel MTU (path MTU − 40) |
 * | `keepaliveSeconds` | — | 30 | probe interval toward the TEP (0: off); the server's wins |
 * | `keepaliveMisses` | — | 3 | missed probes that declare the TEP failed |
 * | `responseTimeoutSeconds` | — | 15 | time for each TSP server message |
 * | `requestTimeoutSeconds` | — | 60 | time for a whole lease request |
 * | `hookTimeoutSeconds` | — | 10 | a hook still running after this is killed |
 * | `renewOnBindingUnknown` | — | true | a TEP's ICMPv6 1/5 makes the client renew (rate-limited) |
 * | `hopLimit` | — | 64 | hop limit of the tunnel packets |
 * | `logFormat`, `logLevel` | `--log-format`, `--log-level` | `text`, `info` | logs on stderr |
 * | `leaseCapSeconds` | — | none | **testing only**: treat every lease as at most this long |
 * | `retrySeconds` | — | 2 | first backoff delay after a failed request (doubles, to 60) |
 *
 * @module
 */
import fs from "node:fs";
import type { ConfigIssue } from "../lib/config/config_error.ts";
import { ConfigError } from "../lib/config/config_error.ts";
import { parseJsonConfig, type Schema } from "../lib/config/schema.ts";
import { readConfigFile } from "../lib/config/config_file.ts";
import { checkCidr4, checkCidr6, checkIpv6, parseEndpoint } from "../lib/config/addresses.ts";
import {
  type Cidr4,
  type Cidr6,
  formatIpv6,
  makeCidr4,
  parseCidr4,
  parseCidr6,
  parseIpv6,
} from "../lib/addr/mod.ts";
import { parseCredentials, parseUserPass } from "../lib/auth/credentials.ts";
import type { FlagValues } from "../lib/cli/command.ts";
import type { MechanismName } from "../lib/tsp/mod.ts";
import { DEFAULT_TUNNEL_MTU, IPV4_MIN_MTU, MAX_TUNNEL_MTU } from "../lib/client/mod.ts";

/** Default name of the 4over6 interface. */
export const DEFAULT_INTERFACE = "dstm0";
/** Default control socket (the systemd unit's RuntimeDirectory). */
export const DEFAULT_CONTROL = "/run/dstm-client/control.sock";
/** The IANA TSP port (protocol.md §2.1). */
export const TSP_PORT = 3653;

/** The validated client configuration. */
export interface ClientConfig {
  /** The DSTM server as typed (for logs and hooks). */
  serverText: string;
  /** The DSTM server's IPv6 address (canonical text). */
  serverHost: string;
  /** The DSTM server's TSP port. */
  serverPort: number;
  /** The registered IPv6 address (canonical text), or undefined: the kernel's choice. */
  source: string | undefined;
  /** TUN interface name. */
  interfaceName: string;
  /** IPv4 blocks routed into the tunnel. */
  routes: Cidr4[];
  /** TSP credentials, if any. */
  credentials: { user: string; password: string } | undefined;
  /** SASL mechanism. */
  mechanism: MechanismName;
  /** Configured TEP prefixes (empty: the /64 of each TEP the server names). */
  tepPrefixes: Cidr6[];
  /** Up hook script. */
  up: string | undefined;
  /** Down hook script. */
  down: string | undefined;
  /** Control socket path. */
  control: string;
  /** Tunnel MTU. */
  mtu: number;
  /** Keepalive interval when the server names none, seconds (0: no probes). */
  keepaliveSeconds: number;
  /** Consecutive misses that declare the TEP failed. */
  keepaliveMisses: number;
  /** TSP per-message timeout, ms. */
  responseTimeoutMs: number;
  /** Lease request timeout, ms. */
  requestTimeoutMs: number;
  /** Hook timeout, ms. */
  hookTimeoutMs: number;
  /** Renew when a domain TEP says it has no binding (ICMPv6 1/5). */
  renewOnBindingUnknown: boolean;
  /** Hop limit of tunnel packets. */
  hopLimit: number;
  /** Log format. */
  logFormat: "text" | "json";
  /** Log level. */
  logLevel: "debug" | "info" | "warn" | "error";
  /** Testing only: longest lease the client assumes, ms. */
  leaseCapMs: number | undefined;
  /** First backoff delay, ms. */
  retryMs: number;
}

const MECHANISMS = ["ANONYMOUS", "PLAIN", "DIGEST-MD5"] as const;

function checkIfName(s: string): string | undefined {
  return /^[A-Za-z0-9_.-]{1,15}$/.test(s) && s !== "." && s !== ".."
    ? undefined
    : "interface name must be 1-15 characters of [A-Za-z0-9_.-]";
}

function checkRoute(s: string): string | undefined {
  return s === "default" ? undefined : checkCidr4(s);
}

function checkServer(s: string): string | undefined {
  const e = parseEndpoint(s, TSP_PORT);
  if (typeof e === "string") return e;
  return e.family === 6 ? undefined : "DSTM signalling runs over IPv6: give [IPV6]:PORT";
}

const str = (check?: (s: string) => string | undefined): Schema => ({ type: "string", check });

/** JSON schema of the config file. */
export const CLIENT_SCHEMA: Schema = {
  type: "object",
  fields: {
    server: str(checkServer),
    source: str(checkIpv6),
    interface: str(checkIfName),
    routes: { type: "array", items: str(checkRoute), maxItems: 256 },
    credentials: str(),
    mechanism: { type: "string", enum: MECHANISMS },
    tepPrefixes: { type: "array", items: str(checkCidr6), maxItems: 64 },
    up: str(),
    down: str(),
    control: str(),
    mtu: { type: "integer", min: IPV4_MIN_MTU, max: MAX_TUNNEL_MTU },
    keepaliveSeconds: { type: "number", min: 0, max: 3600 },
    keepaliveMisses: { type: "integer", min: 1, max: 100 },
    responseTimeoutSeconds: { type: "number", min: 0.1, max: 600 },
    requestTimeoutSeconds: { type: "number", min: 0.1, max: 3600 },
    hookTimeoutSeconds: { type: "number", min: 0.1, max: 3600 },
    renewOnBindingUnknown: { type: "boolean" },
    hopLimit: { type: "integer", min: 1, max: 255 },
    logFormat: { type: "string", enum: ["text", "json"] },
    logLevel: { type: "string", enum: ["debug", "info", "warn", "error"] },
    leaseCapSeconds: { type: "number", min: 1, max: 31536000 },
    retrySeconds: { type: "number", min: 0.01, max: 60 },
  },
};

/** What {@link loadClientConfig} returns. */
export type ClientConfigResult =
  | { ok: true; config: ClientConfig; warnings: string[] }
  | { ok: false; issues: ConfigIssue[] };

/**
 * Build the configuration from the file named by `--config` (if any) and the flags (which win).
 * Returns the config or every issue found. File reads go through `readFile`, and the test for
 * "`--credentials` names a file" through `isFile` (tests inject both).
 */
export function loadClientConfig(
  flags: FlagValues,
  readFile: (path: string) => string = (p) => fs.readFileSync(p, "utf8"),
  isFile: (path: string) => boolean = (p) => {
    try {
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  },
): ClientConfigResult {
  const issues: ConfigIssue[] = [];
  const file = readConfigFile(
    typeof flags.config === "string" ? flags.config : undefined,
    CLIENT_SCHEMA,
    readFile,
    issues,
  );

  const flagText = (name: string): string | undefined => {
    const v = flags[name];
    return typeof v === "string" ? v : undefined;
  };
  const flagList = (name: string): string[] | undefined => {
    const v = flags[name];
    return Array.isArray(v) && v.length > 0 ? v : undefined;
  };
  /** A flag value checked with `check`, else the file value (already validated). */
  const pick = <T>(
    flag: string,
    key: string,
    check: (s: string) => string | undefined,
  ): string | T | undefined => {
    const f = flagText(flag);
    if (f !== undefined) {
      const e = check(f);
      if (e) issues.push({ path: `--${flag}`, message: e });
      return f;
    }
    return file[key] as T | undefined;
  };

  // server
  const serverText = pick<string>("server", "server", checkServer) as string | undefined;
  let serverHost = "";
  let serverPort = TSP_PORT;
  if (serverText === undefined) {
    issues.push({ path: "server", message: "is required (--server [IPV6]:PORT)" });
  } else {
    const e = parseEndpoint(serverText, TSP_PORT);
    if (typeof e !== "string" && e.family === 6) {
      serverHost = canonical6(e.host);
      serverPort = e.port;
    }
  }

  // source
  const sourceText = pick<string>("source", "source", checkIpv6) as string | undefined;
  let source: string | undefined;
  if (sourceText !== undefined && checkIpv6(sourceText) === undefined) {
    source = canonical6(sourceText);
  }

  const interfaceName = (pick<string>("interface", "interface", checkIfName) as
    | string
    | undefined) ?? DEFAULT_INTERFACE;

  // routes
  const routeFlags = flagList("route");
  const routeTexts = routeFlags ?? (file.routes as string[] | undefined) ?? ["default"];
  const routes: Cidr4[] = [];
  routeTexts.forEach((t, i) => {
    if (t === "default") {
      routes.push(makeCidr4(0, 0));
      return;
    }
    const r = parseCidr4(t);
    if (r.ok) routes.push(r.value);
    else if (routeFlags) {
      issues.push({ path: "--route", message: `${t}: not an IPv4 prefix (${r.reason})` });
    } else if (file.routes === undefined) {
      issues.push({ path: `routes[${i}]`, message: r.reason });
    }
  });

  // credentials
  const credText = flagText("credentials") ?? (file.credentials as string | undefined);
  const credPath = flagText("credentials") !== undefined ? "--credentials" : "credentials";
  let credentials: ClientConfig["credentials"];
  if (credText !== undefined) {
    if (isFile(credText)) {
      try {
        const parsed = parseCredentials(readFile(credText), credText, "client");
        issues.push(...parsed.issues);
        const first = parsed.users.values().next();
        if (first.done) {
          if (parsed.issues.length === 0) {
            issues.push({ path: credText, message: "no user:password line" });
          }
        } else credentials = { user: first.value.user, password: first.value.password };
      } catch (e) {
        issues.push({ path: credText, message: `cannot read: ${(e as Error).message}` });
      }
    } else {
      const up = parseUserPass(credText);
      if (up === undefined) {
        // Never echo the value: it may be a password.
        issues.push({
          path: credPath,
          message: "expected USER:PASS or the path of a readable credentials file",
        });
      } else credentials = up;
    }
  }
  const mechanism = (file.mechanism as MechanismName | undefined) ??
    (credentials ? "DIGEST-MD5" : "ANONYMOUS");
  if (mechanism !== "ANONYMOUS" && credentials === undefined && credText === undefined) {
    issues.push({ path: "mechanism", message: `${mechanism} needs credentials` });
  }

  // TEP prefixes
  const prefixFlags = flagList("tep-prefix");
  const prefixTexts = prefixFlags ?? (file.tepPrefixes as string[] | undefined) ?? [];
  const tepPrefixes: Cidr6[] = [];
  prefixTexts.forEach((t, i) => {
    const r = parseCidr6(t);
    if (r.ok) tepPrefixes.push(r.value);
    else if (prefixFlags) {
      issues.push({ path: "--tep-prefix", message: `${t}: not an IPv6 prefix (${r.reason})` });
    } else if (file.tepPrefixes === undefined) {
      issues.push({ path: `tepPrefixes[${i}]`, message: r.reason });
    }
  });

  const mtuFlag = flagText("mtu");
  let mtu = (file.mtu as number | undefined) ?? DEFAULT_TUNNEL_MTU;
  if (mtuFlag !== undefined) {
    if (!/^\d{1,5}$/.test(mtuFlag) || +mtuFlag < IPV4_MIN_MTU || +mtuFlag > MAX_TUNNEL_MTU) {
      issues.push({
        path: "--mtu",
        message: `expected an integer ${IPV4_MIN_MTU}..${MAX_TUNNEL_MTU}, got ${mtuFlag}`,
      });
    } else mtu = +mtuFlag;
  }

  const logFormat = (pick<string>(
    "log-format",
    "logFormat",
    (s) => s === "text" || s === "json" ? undefined : "expected text or json",
  ) as string | undefined) ?? "text";
  const logLevel = (pick<string>(
    "log-level",
    "logLevel",
    (s) =>
      ["debug", "info", "warn", "error"].includes(s)
        ? undefined
        : "expected debug, info, warn or error",
  ) as string | undefined) ?? "info";

  for (const name of ["up", "down"]) {
    const p = flagText(name) ?? (file[name] as string | undefined);
    if (p !== undefined && !isFile(p)) {
      issues.push({
        path: flagText(name) !== undefined ? `--${name}` : name,
        message: `hook script ${p} is not a file`,
      });
    }
  }

  if (issues.length > 0) return { ok: false, issues };

  const warnings: string[] = [];
  if (mechanism === "PLAIN") {
    warnings.push("PLAIN sends the password in clear text (protocol.md §6 row 10)");
  }
  if (credentials === undefined) {
    warnings.push(
      "no credentials: ANONYMOUS is used and the server is not authenticated (protocol.md §6 row 8)",
    );
  }
  const num = (k: string, d: number): number => (file[k] as number | undefined) ?? d;
  const leaseCap = file.leaseCapSeconds as number | undefined;
  if (leaseCap !== undefined) warnings.push("leaseCapSeconds is for testing only");
  return {
    ok: true,
    warnings,
    config: {
      serverText: serverText!,
      serverHost,
      serverPort,
      source,
      interfaceName,
      routes,
      credentials,
      mechanism,
      tepPrefixes,
      up: flagText("up") ?? (file.up as string | undefined),
      down: flagText("down") ?? (file.down as string | undefined),
      control: flagText("control") ?? (file.control as string | undefined) ?? DEFAULT_CONTROL,
      mtu,
      keepaliveSeconds: num("keepaliveSeconds", 30),
      keepaliveMisses: num("keepaliveMisses", 3),
      responseTimeoutMs: num("responseTimeoutSeconds", 15) * 1000,
      requestTimeoutMs: num("requestTimeoutSeconds", 60) * 1000,
      hookTimeoutMs: num("hookTimeoutSeconds", 10) * 1000,
      renewOnBindingUnknown: (file.renewOnBindingUnknown as boolean | undefined) ?? true,
      hopLimit: num("hopLimit", 64),
      logFormat: logFormat as "text" | "json",
      logLevel: logLevel as ClientConfig["logLevel"],
      leaseCapMs: leaseCap === undefined ? undefined : leaseCap * 1000,
      retryMs: num("retrySeconds", 2) * 1000,
    },
  };
}

function canonical6(text: string): string {
  const r = parseIpv6(text);
  return r.ok ? formatIpv6(r.value) : text;
}

/** The control socket path from flags and the config file, without validating anything else. */
export function controlPath(
  flags: FlagValues,
  readFile: (path: string) => string = (p) => fs.readFileSync(p, "utf8"),
): string {
  if (typeof flags.control === "string") return flags.control;
  const fromFile = fileKey(flags, "control", readFile);
  return fromFile ?? DEFAULT_CONTROL;
}

/** The interface name from flags and the config file, without validating anything else. */
export function interfaceName(
  flags: FlagValues,
  readFile: (path: string) => string = (p) => fs.readFileSync(p, "utf8"),
): string {
  const name = typeof flags.interface === "string"
    ? flags.interface
    : fileKey(flags, "interface", readFile) ?? DEFAULT_INTERFACE;
  const e = checkIfName(name);
  if (e) throw new ConfigError([{ path: "interface", message: e }]);
  return name;
}

function fileKey(
  flags: FlagValues,
  key: string,
  readFile: (path: string) => string,
): string | undefined {
  if (typeof flags.config !== "string") return undefined;
  let text: string;
  try {
    text = readFile(flags.config);
  } catch (e) {
    throw new ConfigError([{
      path: flags.config,
      message: `cannot read: ${(e as Error).message}`,
    }]);
  }
  const parsed = parseJsonConfig(text, flags.config);
  if (!parsed.ok) throw new ConfigError([parsed.issue]);
  const v = (parsed.value as Record<string, unknown> | null)?.[key];
  return typeof v === "string" ? v : undefined;
}
