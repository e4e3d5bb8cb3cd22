/** Command-line surface of `dstm-tep`. */
import type { CommandSpec } from "../lib/cli/command.ts";

/** The help and flags of `dstm-tep`. */
export const TEP_CLI: CommandSpec = {
  program: "dstm-tep",
  summary: "a DSTM tunnel end point (border router) of a multi-TEP domain",
  description:
    "dstm-tep is a TEP of draft-jaehwoon-dstm-multitep-02: a dual-stack border router between the " +
    "IPv6-only DSTM domain and the IPv4 world. It decapsulates IPv4-in-IPv6 from DSTM clients and " +
    "forwards the IPv4 packet, and it tunnels IPv4 traffic for the shared pool back to the right " +
    "client, whichever TEP that client used outbound. Bindings (pool IPv4 <-> client IPv6) come only " +
    "from the DSTM server over one authenticated TSP session: pushed at allocation, or asked for with " +
    "the draft's `query` when traffic arrives for an address it does not know. It never learns a " +
    "binding from a data packet, and checks every decapsulated packet against its binding.\n" +
    "The data plane runs in user space over a TUN device (no kernel tunnel module needed); the TEP " +
    "adds its TUN, its tunnel route and the pool route itself, and removes them on exit.",
  flags: [
    { name: "config", short: "c", type: "string", value: "FILE", help: "JSON configuration file." },
    {
      name: "check-config",
      type: "boolean",
      help: "Validate the configuration, print every issue with its path, exit 0 or 78.",
    },
    {
      name: "server",
      type: "string",
      value: "[IPV6]:PORT",
      help: "The DSTM server's TSP address.",
    },
    { name: "name", short: "n", type: "string", value: "NAME", help: "This TEP's name." },
    {
      name: "credentials",
      type: "string",
      value: "USER:PASS|FILE",
      help: "TSP credentials of this TEP (role `tep` on the server), inline or a file holding " +
        "`user:password`.",
    },
    {
      name: "address",
      type: "string",
      value: "IPV6",
      help: "This TEP's IPv6 tunnel end point address (TEPV6ADDR).",
    },
    { name: "ipv4", type: "string", value: "IPV4", help: "This TEP's IPv4 address (TEPV4ADDR)." },
    { name: "pool", type: "string", value: "CIDR", help: "The domain's shared IPv4 pool." },
    {
      name: "client-prefix",
      type: "string",
      multiple: true,
      value: "CIDR",
      help: "IPv6 prefix of the domain's clients; encapsulated packets from elsewhere are dropped.",
    },
    {
      name: "interface",
      short: "i",
      type: "string",
      value: "NAME",
      help: "Name of the TUN device.",
      default: "dstm-tep0",
    },
    {
      name: "mtu",
      type: "string",
      value: "BYTES",
      help: "IPv6 path MTU toward clients; the tunnel MTU is this minus 40.",
      default: "1500",
    },
    {
      name: "control",
      type: "string",
      value: "PATH",
      help: "Unix socket of the control channel used by `dstm-tep ctl`.",
      default: "/run/dstm-tep.sock",
    },
    {
      name: "metrics",
      type: "string",
      value: "ADDR:PORT",
      help: "Serve Prometheus metrics at /metrics (off by default).",
    },
    {
      name: "binding-ttl-max",
      type: "string",
      value: "SECONDS",
      help:
        "Longest a binding is kept, whatever lifetime the server sent (brief §5.4: 5-15 min); " +
        "bindings still in use are queried again before they expire.",
      default: "600",
    },
    {
      name: "query-rate",
      type: "string",
      value: "PER_SEC",
      help: "Most queries per second to the server, all sources together (token bucket; burst " +
        "twice the rate, at most 200). Floods to unleased pool addresses are held to this.",
      default: "100",
    },
    {
      name: "query-burst",
      type: "string",
      value: "N",
      help: "Burst of the global query rate.",
    },
    {
      name: "query-source-rate",
      type: "string",
      value: "PER_SEC",
      help: "Most queries per second caused by one source (IPv4 host, or client IPv6 /64).",
      default: "5",
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
      value: "LEVEL",
      help: "Least severe log level written: debug, info, warn or error.",
      default: "info",
    },
    { name: "json", type: "boolean", help: "With `ctl`: print JSON instead of text." },
  ],
  subcommands: [
    { usage: "(none)", help: "Run the TEP (needs CAP_NET_ADMIN; exits 77 without it)." },
    {
      usage: "ctl status",
      help: "Show the server session, the TUN, bindings and queries at a glance.",
    },
    { usage: "ctl bindings", help: "List the bindings this TEP holds and where each came from." },
    { usage: "ctl stats", help: "Show counters, with a named counter and explanation per drop." },
    {
      usage: "cleanup",
      help: "Remove a TUN device (--interface, default dstm-tep0) and its routes left behind " +
        "by a TEP that was killed, and a stale control socket.",
    },
  ],
  examples: [
    [
      "dstm-tep --server [2001:db8:1::1]:3653 --name tep1 --credentials tep1:secret " +
      "--address 2001:db8:ffff::1 --ipv4 192.0.2.1 --pool 198.51.100.0/24 " +
      "--client-prefix 2001:db8:100::/48",
      "Run TEP1 of the draft's Figure 1.",
    ],
    ["dstm-tep ctl stats", "Show why packets were dropped."],
    ["dstm-tep --check-config -c /etc/dstm/tep.json", "Validate a configuration file."],
    ["dstm-tep cleanup --interface dstm-tep0", "Remove what a killed TEP left behind."],
  ],
};
