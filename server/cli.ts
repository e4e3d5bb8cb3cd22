/** Command-line surface of `dstm-server`. */
import type { CommandSpec } from "../lib/cli/command.ts";

/** The help and flags of `dstm-server`. */
export const SERVER_CLI: CommandSpec = {
  program: "dstm-server",
  summary:
    "the DSTM server: leases temporary IPv4 addresses over TSP to clients of a multi-TEP domain",
  description:
    "dstm-server is the DSTM server of draft-jaehwoon-dstm-multitep-02. Dual-stack hosts inside an " +
    "IPv6-only network ask it (TSP, RFC 5572, port 3653, TCP or UDP) for a temporary IPv4 address; " +
    "it leases one from a single pool shared by every TEP (border router) of the domain, names the " +
    "TEP the client should tunnel to, and tells that TEP about the binding at once (push). Other TEPs " +
    "that receive return traffic for a pool address ask it with the draft's `query` message. Leases " +
    "are written to a journal in the state directory before the client sees them, so a crash loses " +
    "no acknowledged lease and never leases an address twice.\n" +
    "TEPs connect to the server with their own credentials (role `tep`) and keep one authenticated " +
    "TSP session open; that session is their liveness. Flags override the JSON config file.",
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
        "0.0.0.0:3653.",
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
      help: "Directory of the lease journal and snapshots.",
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
      help: "Offer AUTHENTICATE PLAIN. Cleartext: only on a network you trust.",
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
      help: "Unix socket of the control channel used by `dstm-server ctl`.",
      default: "/run/dstm-server.sock",
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
    { name: "json", type: "boolean", help: "With `ctl`: print JSON instead of text." },
  ],
  subcommands: [
    { usage: "(none)", help: "Run the server." },
    { usage: "ctl status", help: "Show the running server's state (uptime, pool use, TEPs)." },
    { usage: "ctl leases", help: "List the live leases." },
    { usage: "ctl teps", help: "List the TEPs and whether their session is up." },
    { usage: "ctl stats", help: "Show the counters." },
  ],
  examples: [
    [
      "dstm-server --pool 198.51.100.0/24 --tep tep1,2001:db8:ffff::1,192.0.2.1 " +
      "--tep tep2,2001:db8:ffff::2,192.0.2.2 --credentials /etc/dstm/users --state-dir /var/lib/dstm",
      "Serve a domain with two TEPs sharing 198.51.100.0/24.",
    ],
    ["dstm-server --config /etc/dstm/server.json --check-config", "Validate a configuration."],
    [
      "dstm-server ctl leases --control /run/dstm-server.sock",
      "List the leases of a running server.",
    ],
  ],
};
