/** Command-line surface of `dstm-server`. */
import type { CommandSpec } from "../lib/cli/command.ts";

/** The help and flags of `dstm-server`. */
export const SERVER_CLI: CommandSpec = {
  program: "dstm-server",
  summary:
    "the DSTM server: leases temporary IPv4 addresses over TSP to clients of a multi-TEP domain",
  description:
    "dstm-server is the DSTM server of draft-jaehwoon-dstm-multitep-02. Dual-stack hosts inside an " +
    "IPv6-only network ask it (TSP, RFC 5572, port 3653, TCP or UDP, over IPv6 or IPv4) for a " +
    "temporary IPv4 address; it leases one from a single pool shared by every TEP (border router) " +
    "of the domain, names the TEP the client should tunnel to, and pushes the binding to that TEP " +
    "at once. A TEP that receives return traffic for an address it does not know asks with the " +
    "draft's `query` message. Leases are written to a journal in the state directory before the " +
    "client sees them, so a crash loses no acknowledged lease and never leases an address twice.\n" +
    "TEPs connect with their own credentials (role `tep` in the credentials file, user name = TEP " +
    "name, DIGEST-MD5 only) and keep one TSP session open; that session is their liveness. New " +
    "leases go to the least-loaded live TEP. A TEP that (re)connects gets every binding assigned " +
    "to it. When a lease ends, the assigned TEP and every TEP that queried it get a delete. A " +
    "client renewing while its TEP is down is moved (same IPv4) to a live TEP.\n" +
    "The JSON config file (--config) takes the flags' settings as keys (listen, pool, exclude, " +
    "teps [{name, ipv6, ipv4}], lifetimeMinutes, stateDir, credentials, allowAnonymous, " +
    "allowPlain, dnsServer, control, metrics, logFormat, logLevel) plus realm, " +
    "tepBindingMaxMinutes, quarantineMinutes, maxLeasesPerIpv6, maxLeasesPerIdentity, " +
    "maxConnections, idleTimeoutSeconds, authTimeoutSeconds, frameTimeoutSeconds, maxLineLength, " +
    "maxContentLength, keepaliveSeconds, tepPushQueue and trustRequestAddress; unknown keys are " +
    "rejected and flags win over the file. SIGHUP reloads the file and the credentials (the old " +
    "configuration stays if the new one is bad; pool, listen and state changes need a restart); " +
    "SIGTERM or SIGINT stops gracefully.",
  flags: [
    {
      name: "config",
      short: "c",
      type: "string",
      value: "FILE",
      help: "JSON configuration file (unknown keys are rejected).",
    },
    {
      name: "check-config",
      type: "boolean",
      help: "Validate the configuration (file plus flags), print every issue with its path, exit " +
        "0 if valid or 78 if not.",
    },
    {
      name: "listen",
      short: "l",
      type: "string",
      multiple: true,
      value: "ADDR:PORT",
      help: "Address to listen on for TSP over TCP and UDP, e.g. [2001:db8:1::1]:3653 or " +
        "0.0.0.0:3653. [::] is dual-stack: it serves IPv4 too.",
      default: "[::]:3653",
    },
    {
      name: "pool",
      short: "p",
      type: "string",
      value: "CIDR",
      help: "The IPv4 pool shared by all TEPs, e.g. 198.51.100.0/24. Network, broadcast and TEP " +
        "IPv4 addresses are never leased.",
    },
    {
      name: "exclude",
      type: "string",
      multiple: true,
      value: "IPV4",
      help: "An address of the pool that must never be leased.",
    },
    {
      name: "tep",
      short: "t",
      type: "string",
      multiple: true,
      value: "NAME,IPV6,IPV4",
      help:
        "A TEP of the domain: its name (also its TSP user name), IPv6 tunnel address and IPv4 " +
        "address.",
    },
    {
      name: "lifetime",
      type: "string",
      value: "MINUTES",
      help: "Lease lifetime handed to clients, in minutes (TSP unit).",
      default: "1440",
    },
    {
      name: "state-dir",
      short: "s",
      type: "string",
      value: "DIR",
      help: "Directory of the lease journal, its snapshot and the lock (one server per directory).",
      default: "/var/lib/dstm-server",
    },
    {
      name: "credentials",
      type: "string",
      value: "FILE",
      help: "Credentials file: one `user:password:role` per line, role `client` or `tep`.",
    },
    {
      name: "allow-anonymous",
      type: "boolean",
      help: "Offer AUTHENTICATE ANONYMOUS to clients (never to TEPs).",
    },
    {
      name: "allow-plain",
      type: "boolean",
      help: "Offer AUTHENTICATE PLAIN to clients. Cleartext: only on a network you trust (a " +
        "warning is logged at start). TEPs never authenticate with PLAIN.",
    },
    {
      name: "dns-server",
      type: "string",
      value: "IPV6",
      help: "DNS server sent to clients in <dns_server> (deployed clients expect one).",
    },
    {
      name: "control",
      type: "string",
      value: "PATH",
      help: "Unix socket of the control channel used by `dstm-server ctl` (mode 0600).",
      default: "/run/dstm-server/control.sock",
    },
    {
      name: "metrics",
      type: "string",
      value: "ADDR:PORT",
      help: "Serve Prometheus metrics over HTTP at /metrics (off by default).",
    },
    {
      name: "log-format",
      type: "string",
      value: "text|json",
      help: "Format of the log lines on stderr.",
      default: "text",
    },
    {
      name: "log-level",
      type: "string",
      value: "debug|info|warn|error",
      help: "Least severe log events written (also `logLevel` in the file; SIGHUP reloads it).",
      default: "info",
    },
    { name: "json", type: "boolean", help: "With `ctl`: print JSON instead of text." },
  ],
  subcommands: [
    { usage: "(none)", help: "Run the server." },
    { usage: "ctl status", help: "Show the running server's state (uptime, pool use, TEPs)." },
    {
      usage: "ctl leases",
      help: "List the live leases (and, with --json, the addresses in quarantine).",
    },
    { usage: "ctl teps", help: "List the TEPs, whether their session is up, and their pushes." },
    { usage: "ctl stats", help: "Show the counters (every refusal and drop has a named reason)." },
    {
      usage: "ctl reload",
      help: "Reload the configuration, as SIGHUP does, and say what changed or why not.",
    },
  ],
  examples: [
    [
      "dstm-server --pool 198.51.100.0/24 --tep tep1,2001:db8:ffff::1,192.0.2.1 " +
      "--tep tep2,2001:db8:ffff::2,192.0.2.2 --credentials /etc/dstm/users --state-dir /var/lib/dstm",
      "Serve a domain with two TEPs sharing 198.51.100.0/24.",
    ],
    [
      "dstm-server --config /etc/dstm/server.json --check-config",
      "Validate a configuration: exit 0, or 78 and every issue with its path.",
    ],
    [
      "dstm-server ctl leases --json --control /run/dstm-server/control.sock",
      "List the leases of a running server as JSON.",
    ],
  ],
};
