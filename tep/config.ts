/**
 * The TEP's configuration: a JSON file (`--config`, unknown keys rejected) overridden by flags,
 * checked as a whole so `--check-config` lists every issue with its path (flags > file >
 * defaults, like `server/config.ts`).
 *
 * @module
 */
import fs from "node:fs";
import type { ConfigIssue } from "../lib/config/config_error.ts";
import { ConfigError } from "../lib/config/config_error.ts";
import type { Schema } from "../lib/config/schema.ts";
import { readConfigFile } from "../lib/config/config_file.ts";
import {
  checkCidr4,
  checkCidr6,
  checkEndpoint,
  checkIpv4,
  checkIpv6,
  type Endpoint,
  parseEndpoint,
} from "../lib/config/addresses.ts";
import { parseCredentials, parseUserPass } from "../lib/auth/credentials.ts";
import type { FlagValues } from "../lib/cli/command.ts";
import { type ForwardConfigInput, resolveForwardConfig } from "../lib/tep/forward_config.ts";
import { QUERY_SCHEDULER_DEFAULTS } from "../lib/tep/query_scheduler.ts";
import type { BackoffOptions } from "./backoff.ts";
import type { DataPlaneSettings, SchedulerSettings } from "./dataplane.ts";

/** Where `dstm-tep` listens for `ctl` by default. */
export const DEFAULT_CONTROL = "/run/dstm-tep.sock";
/** Default TUN name. */
export const DEFAULT_INTERFACE = "dstm-tep0";

/** The validated TEP configuration. */
export interface TepConfig {
  /** The DSTM server's TSP address. */
  readonly server: Endpoint;
  /** This TEP's name: its TSP user name (role `tep` on the server). */
  readonly name: string;
  /** Its TSP password (never logged). */
  readonly password: string;
  /** TEPV6ADDR, the tunnel end point address (routed to the TUN, not assigned). */
  readonly address: string;
  /** TEPV4ADDR. */
  readonly ipv4: string;
  /** The domain's shared IPv4 pool. */
  readonly pool: string;
  /** The domain's client prefixes. */
  readonly clientPrefixes: readonly string[];
  /** TUN device name. */
  readonly interface: string;
  /** IPv6 path MTU toward clients (and the TUN's MTU). */
  readonly mtu: number;
  /** Control socket path. */
  readonly control: string;
  /** Prometheus endpoint, if any. */
  readonly metrics?: Endpoint;
  /** Log format. */
  readonly logFormat: "text" | "json";
  /** Log level. */
  readonly logLevel: "debug" | "info" | "warn" | "error";
  /** Reconnection backoff of the TSP session. */
  readonly backoff: BackoffOptions;
  /** What the data-plane Worker gets. */
  readonly dataPlane: DataPlaneSettings;
}

const str = (check?: (s: string) => string | undefined): Schema => ({ type: "string", check });
const int = (min: number, max: number): Schema => ({ type: "integer", min, max });
const num = (min: number, max: number): Schema => ({ type: "number", min, max });
const bool: Schema = { type: "boolean" };

function checkName(s: string): string | undefined {
  return /^[A-Za-z0-9._@-]{1,64}$/.test(s) ? undefined : "name must be [A-Za-z0-9._@-]{1,64}";
}

/** Interface names usable in a sysctl path too (no dots). */
export function checkInterfaceName(s: string): string | undefined {
  return /^[A-Za-z0-9_-]{1,15}$/.test(s)
    ? undefined
    : "interface name must be 1-15 characters of [A-Za-z0-9_-]";
}

/** JSON schema of the config file. */
export const TEP_SCHEMA: Schema = {
  type: "object",
  fields: {
    server: str(checkEndpoint),
    name: str(checkName),
    credentials: str(),
    address: str(checkIpv6),
    ipv4: str(checkIpv4),
    pool: str(checkCidr4),
    clientPrefixes: { type: "array", items: str(checkCidr6), minItems: 1 },
    interface: str(checkInterfaceName),
    mtu: int(1280, 65535),
    control: str(),
    metrics: str(checkEndpoint),
    logFormat: { type: "string", enum: ["text", "json"] },
    logLevel: { type: "string", enum: ["debug", "info", "warn", "error"] },
    bindingTtlMaxSeconds: int(1, 86400),
    bindingCapacity: int(1, 1 << 24),
    refreshAheadSeconds: int(0, 3600),
    dropSampleSeconds: num(0, 3600),
    query: {
      type: "object",
      fields: {
        ratePerSec: num(0.001, 1e6),
        burst: num(1, 1e6),
        sourceRatePerSec: num(0.001, 1e6),
        sourceBurst: num(1, 1e6),
        sourcePrefixLength: int(0, 32),
        maxPending: int(1, 1 << 20),
        queuePerAddress: int(0, 64),
        queueMemoryBytes: int(0, 1 << 28),
        queueTimeoutMs: int(1, 600_000),
        queryTimeoutMs: int(1, 600_000),
        negativeTtlSeconds: num(0.001, 86400),
        unreachableTtlSeconds: num(0.001, 3600),
      },
    },
    forwarding: {
      type: "object",
      fields: {
        hopLimit: int(1, 255),
        trafficClass: int(0, 255),
        copyTos: bool,
        flowLabel: int(0, 0xfffff),
        encapLimit: int(0, 255),
        hairpin: bool,
        maxMtuPeers: int(1, 1 << 20),
        mtuAgeSeconds: int(1, 86400),
        icmp: {
          type: "object",
          fields: {
            timeExceeded: bool,
            fragmentationNeeded: bool,
            relayTunnelErrors: bool,
            bindingFailure: bool,
            unreachableOnQueryFailure: bool,
            ratePerSec: num(0.001, 1e6),
            burst: num(1, 1e6),
          },
        },
        reassembly: {
          type: "object",
          fields: {
            timeoutMs: int(1, 120_000),
            maxDatagrams: int(1, 1 << 20),
            maxBytes: int(1500, 1 << 30),
            maxPacketBytes: int(1500, 65575),
            blockSize: int(8, 65536),
            maxFragmentsPerDatagram: int(2, 1 << 16),
          },
        },
      },
    },
    reconnect: {
      type: "object",
      fields: { initialMs: int(10, 600_000), maxMs: int(10, 3_600_000) },
    },
  },
};

/** Result of {@link loadTepConfig}. */
export type TepConfigResult =
  | { ok: true; config: TepConfig; warnings: string[] }
  | { ok: false; issues: ConfigIssue[] };

type Obj = Record<string, unknown>;

function sub(o: Obj, k: string): Obj {
  const v = o[k];
  return typeof v === "object" && v !== null && !Array.isArray(v) ? v as Obj : {};
}

/** How to read files (tests inject these). */
export interface ConfigFs {
  /** Read a text file; throws when it cannot. */
  readFile(path: string): string;
  /** True if `path` names an existing file. */
  isFile(path: string): boolean;
}

const NODE_FS: ConfigFs = {
  readFile: (p) => fs.readFileSync(p, "utf8"),
  isFile: (p) => {
    try {
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  },
};

/** The parts of the configuration `ctl` and `cleanup` need (no server or credentials required). */
export interface TepLocalConfig {
  /** TUN name. */
  readonly interface: string;
  /** Control socket. */
  readonly control: string;
  /** Pool and tunnel address, when configured (for `cleanup`). */
  readonly pool?: string;
  readonly address?: string;
}

/** Read only what `ctl` and `cleanup` need; throws `ConfigError` for a bad file or flag. */
export function loadLocalConfig(flags: FlagValues, cfs: ConfigFs = NODE_FS): TepLocalConfig {
  const issues: ConfigIssue[] = [];
  const file = readFileConfig(flags, cfs, issues);
  const iface = (flags.interface as string | undefined) ?? (file.interface as string | undefined) ??
    DEFAULT_INTERFACE;
  const e = checkInterfaceName(iface);
  if (e) issues.push({ path: "--interface", message: e });
  if (issues.length) throw new ConfigError(issues);
  return {
    interface: iface,
    control: (flags.control as string | undefined) ?? (file.control as string | undefined) ??
      DEFAULT_CONTROL,
    pool: (flags.pool as string | undefined) ?? (file.pool as string | undefined),
    address: (flags.address as string | undefined) ?? (file.address as string | undefined),
  };
}

function readFileConfig(flags: FlagValues, cfs: ConfigFs, issues: ConfigIssue[]): Obj {
  const path = typeof flags.config === "string" ? flags.config : undefined;
  return readConfigFile(path, TEP_SCHEMA, (p) => cfs.readFile(p), issues) as Obj;
}

/** Map an issue path of `resolveForwardConfig` to this file's names. */
function forwardPath(p: string): string {
  if (p === "tunnelIpv6") return "address";
  if (p === "tepIpv4") return "ipv4";
  if (p === "ipv6Mtu") return "mtu";
  if (p === "pool" || p.startsWith("clientPrefixes")) return p;
  return `forwarding.${p}`;
}

/**
 * Build the configuration from the file named by `--config` (if any) and the flags (which win).
 * Returns the config or every issue found.
 */
export function loadTepConfig(flags: FlagValues, cfs: ConfigFs = NODE_FS): TepConfigResult {
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  const file = readFileConfig(flags, cfs, issues);
  const flagStr = (k: string) => (typeof flags[k] === "string" ? flags[k] as string : undefined);
  const pick = (flag: string, key: string) => flagStr(flag) ?? (file[key] as string | undefined);
  const flagNum = (name: string, min: number, max: number, integer: boolean) => {
    const v = flagStr(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (
      v.trim() === "" || !Number.isFinite(n) || n < min || n > max ||
      (integer && !Number.isInteger(n))
    ) {
      issues.push({
        path: `--${name}`,
        message: `expected ${integer ? "an integer" : "a number"} ${min}..${max}, got ${v}`,
      });
      return undefined;
    }
    return n;
  };
  const required = (flag: string, key: string, check: (s: string) => string | undefined) => {
    const v = pick(flag, key);
    if (v === undefined) {
      issues.push({ path: key, message: `is required (--${flag})` });
      return "";
    }
    if (flagStr(flag) !== undefined) {
      const e = check(v);
      if (e) issues.push({ path: `--${flag}`, message: e });
    }
    return v;
  };

  // The server.
  let server: Endpoint = { host: "::", family: 6, port: 3653 };
  const serverText = pick("server", "server");
  if (serverText === undefined) {
    issues.push({ path: "server", message: "is required (--server [IPV6]:PORT)" });
  } else {
    const e = parseEndpoint(serverText, 3653);
    if (typeof e === "string") {
      issues.push({ path: flagStr("server") ? "--server" : "server", message: e });
    } else server = e;
  }

  // Identity.
  let name = pick("name", "name");
  if (flagStr("name") !== undefined) {
    const e = checkName(flagStr("name")!);
    if (e) issues.push({ path: "--name", message: e });
  }
  let password = "";
  const credText = pick("credentials", "credentials");
  const credPath = flagStr("credentials") !== undefined ? "--credentials" : "credentials";
  if (credText === undefined) {
    issues.push({
      path: "credentials",
      message: "is required (--credentials USER:PASS or a file holding user:password)",
    });
  } else if (cfs.isFile(credText)) {
    let text: string | undefined;
    try {
      text = cfs.readFile(credText);
    } catch (e) {
      issues.push({ path: credText, message: `cannot read: ${(e as Error).message}` });
    }
    if (text !== undefined) {
      const parsed = parseCredentials(text, credText, "tep");
      issues.push(...parsed.issues);
      const users = [...parsed.users.values()];
      const mine = name !== undefined
        ? parsed.users.get(name)
        : users.length === 1
        ? users[0]
        : undefined;
      if (mine) {
        name ??= mine.user;
        password = mine.password;
      } else if (parsed.issues.length === 0) {
        issues.push({
          path: credText,
          message: name !== undefined
            ? `no entry for the TEP name ${name}`
            : "holds several users: say which one with --name",
        });
      }
    }
  } else {
    const up = parseUserPass(credText);
    if (!up) {
      issues.push({ path: credPath, message: "neither a readable file nor USER:PASS" });
    } else {
      if (checkName(up.user)) issues.push({ path: credPath, message: checkName(up.user)! });
      if (name !== undefined && name !== up.user) {
        issues.push({
          path: credPath,
          message:
            `user ${up.user} is not the TEP name ${name} (the server knows a TEP by its user name)`,
        });
      }
      name ??= up.user;
      password = up.password;
    }
  }
  if (name === undefined && credText !== undefined) {
    issues.push({ path: "name", message: "is required (--name NAME)" });
  }

  const address = required("address", "address", checkIpv6);
  const ipv4 = required("ipv4", "ipv4", checkIpv4);
  const pool = required("pool", "pool", checkCidr4);
  const prefixFlags = Array.isArray(flags["client-prefix"]) && flags["client-prefix"].length
    ? flags["client-prefix"] as string[]
    : undefined;
  const clientPrefixes = prefixFlags ?? (file.clientPrefixes as string[] | undefined) ?? [];
  if (prefixFlags) {
    for (const p of prefixFlags) {
      const e = checkCidr6(p);
      if (e) issues.push({ path: "--client-prefix", message: `${p}: ${e}` });
    }
  }
  if (clientPrefixes.length === 0) {
    issues.push({
      path: "clientPrefixes",
      message: "at least one is required (--client-prefix CIDR)",
    });
  }

  const iface = pick("interface", "interface") ?? DEFAULT_INTERFACE;
  if (flagStr("interface") !== undefined) {
    const e = checkInterfaceName(iface);
    if (e) issues.push({ path: "--interface", message: e });
  }
  const mtu = flagNum("mtu", 1280, 65535, true) ?? (file.mtu as number | undefined) ?? 1500;
  const control = pick("control", "control") ?? DEFAULT_CONTROL;
  let metrics: Endpoint | undefined;
  const metricsText = pick("metrics", "metrics");
  if (metricsText !== undefined) {
    const e = parseEndpoint(metricsText);
    if (typeof e === "string") {
      issues.push({ path: flagStr("metrics") ? "--metrics" : "metrics", message: e });
    } else metrics = e;
  }
  const logFormat = pick("log-format", "logFormat") ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    issues.push({ path: "--log-format", message: "expected text or json" });
  }
  const logLevel = pick("log-level", "logLevel") ?? "info";
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    issues.push({ path: "--log-level", message: "expected debug, info, warn or error" });
  }

  const ttlMaxSeconds = flagNum("binding-ttl-max", 1, 86400, true) ??
    (file.bindingTtlMaxSeconds as number | undefined) ?? 600;
  const q = sub(file, "query");
  const d = QUERY_SCHEDULER_DEFAULTS;
  const rate = flagNum("query-rate", 0.001, 1e6, false) ?? (q.ratePerSec as number | undefined) ??
    d.globalRate.ratePerSec;
  const burst = flagNum("query-burst", 1, 1e6, false) ?? (q.burst as number | undefined) ??
    Math.max(1, Math.min(d.globalRate.burst, rate * 2));
  const srcRate = flagNum("query-source-rate", 0.001, 1e6, false) ??
    (q.sourceRatePerSec as number | undefined) ?? d.sourceRate.ratePerSec;
  const srcBurst = (q.sourceBurst as number | undefined) ??
    Math.max(1, Math.min(d.sourceRate.burst, srcRate * 2));
  const scheduler: SchedulerSettings = {
    maxPending: (q.maxPending as number | undefined) ?? d.maxPending,
    queuePerAddress: (q.queuePerAddress as number | undefined) ?? d.queuePerAddress,
    queueMemoryBytes: (q.queueMemoryBytes as number | undefined) ?? d.queueMemoryBytes,
    queueTimeoutMs: (q.queueTimeoutMs as number | undefined) ?? d.queueTimeoutMs,
    queryTimeoutMs: (q.queryTimeoutMs as number | undefined) ?? d.queryTimeoutMs,
    sourceRate: {
      ratePerSec: srcRate,
      burst: srcBurst,
      maxKeys: d.sourceRate.maxKeys,
      prefixLength: (q.sourcePrefixLength as number | undefined) ?? d.sourceRate.prefixLength,
    },
    globalRate: { ratePerSec: rate, burst },
    negativeTtlMs: ((q.negativeTtlSeconds as number | undefined) ?? 30) * 1000,
    unreachableTtlMs: ((q.unreachableTtlSeconds as number | undefined) ?? 3) * 1000,
  };

  const fw = sub(file, "forwarding");
  const forward: ForwardConfigInput = {
    tunnelIpv6: address,
    tepIpv4: ipv4,
    pool,
    clientPrefixes: [...clientPrefixes],
    ipv6Mtu: mtu,
    ...(fw.hopLimit === undefined ? {} : { hopLimit: fw.hopLimit as number }),
    ...(fw.trafficClass === undefined ? {} : { trafficClass: fw.trafficClass as number }),
    ...(fw.copyTos === undefined ? {} : { copyTos: fw.copyTos as boolean }),
    ...(fw.flowLabel === undefined ? {} : { flowLabel: fw.flowLabel as number }),
    ...(fw.encapLimit === undefined ? {} : { encapLimit: fw.encapLimit as number }),
    ...(fw.hairpin === undefined ? {} : { hairpin: fw.hairpin as boolean }),
    ...(fw.maxMtuPeers === undefined ? {} : { maxMtuPeers: fw.maxMtuPeers as number }),
    ...(fw.mtuAgeSeconds === undefined ? {} : { mtuAgeMs: (fw.mtuAgeSeconds as number) * 1000 }),
    ...(fw.icmp === undefined ? {} : { icmp: { ...sub(fw, "icmp") } }),
    ...(fw.reassembly === undefined ? {} : { reassembly: { ...sub(fw, "reassembly") } }),
  };
  if (issues.length === 0) {
    try {
      resolveForwardConfig(forward);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      for (const i of e.issues) issues.push({ path: forwardPath(i.path), message: i.message });
    }
  }
  const rc = sub(file, "reconnect");
  const backoff: BackoffOptions = {
    initialMs: (rc.initialMs as number | undefined) ?? 1000,
    maxMs: (rc.maxMs as number | undefined) ?? 30_000,
  };
  if (backoff.maxMs < backoff.initialMs) {
    issues.push({ path: "reconnect.maxMs", message: "must be >= reconnect.initialMs" });
  }
  if (issues.length) return { ok: false, issues };

  if (ttlMaxSeconds > 900) {
    warnings.push(
      `bindingTtlMaxSeconds ${ttlMaxSeconds} is above 15 min: a TEP that misses a delete keeps ` +
        "a stale binding that long (brief §5.4)",
    );
  }
  if (server.family === 4) {
    warnings.push("the server is reached over IPv4; DSTM signalling normally runs over IPv6");
  }
  const refreshAheadSeconds = (file.refreshAheadSeconds as number | undefined) ??
    Math.min(60, Math.floor(ttlMaxSeconds / 4));
  return {
    ok: true,
    warnings,
    config: {
      server,
      name: name!,
      password,
      address,
      ipv4,
      pool,
      clientPrefixes,
      interface: iface,
      mtu,
      control,
      ...(metrics ? { metrics } : {}),
      logFormat: logFormat as "text" | "json",
      logLevel: logLevel as TepConfig["logLevel"],
      backoff,
      dataPlane: {
        forward,
        bindingCapacity: (file.bindingCapacity as number | undefined) ?? 65_536,
        bindingTtlMaxMs: ttlMaxSeconds * 1000,
        refreshAheadMs: refreshAheadSeconds * 1000,
        scheduler,
        dropSampleIntervalMs: ((file.dropSampleSeconds as number | undefined) ?? 1) * 1000,
      },
    },
  };
}
