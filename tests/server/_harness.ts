/**
 * Test harness (not a test file): an in-process `dstm-server` on ephemeral loopback ports with a
 * temporary state directory and credentials, plus the addresses the tests use.
 *
 * @module
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { loadServerConfig, type ServerConfig } from "../../server/config.ts";
import { type Daemon, startDaemon } from "../../server/daemon.ts";
import type { TspTestPeerOptions } from "./tsp_test_client.ts";

/** Users of the test credentials file. */
export const USERS = {
  alice: "alice-secret",
  bob: "bob-secret",
  tep1: "tep1-secret",
  tep2: "tep2-secret",
} as const;

/** The TEPs of the test domain (brief's example table). */
export const TEPS = [
  { name: "tep1", ipv6: "2001:db8:ffff::1", ipv4: "192.0.2.1" },
  { name: "tep2", ipv6: "2001:db8:ffff::2", ipv4: "192.0.2.2" },
];

/** The credentials file text. */
export const CREDENTIALS = `# test users
alice:${USERS.alice}:client
bob:${USERS.bob}:client
tep1:${USERS.tep1}:tep
tep2:${USERS.tep2}:tep
`;

/** A running test server. */
export interface TestServer {
  /** The daemon. */
  readonly daemon: Daemon;
  /** Its configuration. */
  readonly config: ServerConfig;
  /** TCP port on ::1 and on 127.0.0.1. */
  readonly tcp6: number;
  /** TCP port on 127.0.0.1. */
  readonly tcp4: number;
  /** UDP port on ::1. */
  readonly udp6: number;
  /** UDP port on 127.0.0.1. */
  readonly udp4: number;
  /** State directory. */
  readonly dir: string;
  /** Control socket path. */
  readonly control: string;
  /** Log lines so far. */
  readonly logs: string[];
  /** Peer options for the IPv6 TCP listener with this mechanism and user. */
  peer(o?: Partial<TspTestPeerOptions>): TspTestPeerOptions;
  /** Log lines with this event name. */
  events(name: string): string[];
  /** Stop and remove the state directory (unless `keep`). */
  stop(keep?: boolean): Promise<void>;
}

/** Options of {@link startTestServer}. */
export interface TestServerOptions {
  /** Extra config file keys (JSON), e.g. `{ lifetimeSeconds: 2 }`. */
  readonly file?: Record<string, unknown>;
  /** Extra flags. */
  readonly flags?: Record<string, string | boolean | string[]>;
  /** Reuse a state directory (restart tests). */
  readonly dir?: string;
  /** Fsync the journal (default false: faster, crash tests use a child process). */
  readonly sync?: boolean;
}

/** Start a server on ephemeral ports of `::1` and `127.0.0.1`. */
export async function startTestServer(o: TestServerOptions = {}): Promise<TestServer> {
  const dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "dstm-srv-"));
  const control = path.join(dir, "control.sock");
  const fileText = JSON.stringify({ ...BASE_FILE, ...o.file });
  const files: Record<string, string> = { "server.json": fileText, users: CREDENTIALS };
  const flags = { config: "server.json", "state-dir": dir, control, ...o.flags };
  const reloadable = { text: fileText };
  const read = (p: string) => {
    if (p === "server.json") return reloadable.text;
    if (p in files) return files[p];
    throw new Error(`ENOENT ${p}`);
  };
  const load = () => {
    const r = loadServerConfig(flags, read);
    if (!r.ok) return r;
    r.config.listen = [
      { host: "::1", family: 6, port: 0 },
      { host: "127.0.0.1", family: 4, port: 0 },
    ];
    return r;
  };
  const r = load();
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const logs: string[] = [];
  const daemon = await startDaemon(r.config, {
    writeLog: (l) => {
      logs.push(l);
      if (process.env.DSTM_TEST_LOG) process.stderr.write(l);
    },
    reloadConfig: load,
    sync: o.sync ?? false,
  });
  const port = (t: "tcp" | "udp", fam: 4 | 6) =>
    daemon.bound.find((b) => b.transport === t && b.address.includes(":") === (fam === 6))!.port;
  const server: TestServer & {
    setFile(j: Record<string, unknown>, extra?: Record<string, string>): void;
  } = {
    daemon,
    config: r.config,
    tcp6: port("tcp", 6),
    tcp4: port("tcp", 4),
    udp6: port("udp", 6),
    udp4: port("udp", 4),
    dir,
    control,
    logs,
    peer: (p = {}) => ({ host: "::1", port: port("tcp", 6), mechanism: "ANONYMOUS", ...p }),
    events: (name) => logs.filter((l) => l.includes(` ${name} `) || l.includes(`"${name}"`)),
    setFile(j, extra = {}) {
      reloadable.text = JSON.stringify(j);
      Object.assign(files, extra);
    },
    async stop(keep = false) {
      await daemon.stop();
      if (!keep && o.dir === undefined) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** The config file a test server starts with (before `file` overrides). */
export const BASE_FILE = {
  pool: "198.51.100.0/28",
  teps: TEPS,
  credentials: "users",
  allowAnonymous: true,
  dnsServer: "2001:db8::53",
  realm: "dstm.test",
  logLevel: "debug",
};

/** Replace the config file (and add files) a test server reloads from (SIGHUP tests). */
export function setConfigFile(
  s: TestServer,
  j: Record<string, unknown>,
  extra: Record<string, string> = {},
): void {
  (s as TestServer & {
    setFile(j: Record<string, unknown>, extra?: Record<string, string>): void;
  }).setFile(j, extra);
}

/** Sleep. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `cond` every 20 ms until true or `timeoutMs` passes (then throw `what`). */
export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A client IPv6 address for test number `i`. */
export function clientIpv6(i: number): string {
  return `2001:db8:100::${(i + 16).toString(16)}`;
}
