/** Command-line surface of `dstm-client`. */
import type { CommandSpec } from "../lib/cli/command.ts";

/** The help and flags of `dstm-client`. */
export const CLIENT_CLI: CommandSpec = {
  program: "dstm-client",
  summary: "the DSTM host agent: temporary IPv4 over an IPv6-only network",
  description:
    "dstm-client gives a dual-stack host inside an IPv6-only network temporary IPv4 connectivity " +
    "(DSTM, draft-jaehwoon-dstm-multitep-02). It asks the DSTM server over TSP for an IPv4 address " +
    "and a TEP, brings up a 4over6 interface (TUN) with that address and the IPv4 routes, carries " +
    "IPv4 inside IPv6 to the TEP, renews the lease at half its lifetime and releases it on exit. " +
    "Return traffic is accepted from every TEP of the domain (the multi-TEP case), and from no one " +
    "else. When its TEP stops answering it asks the server again and moves to the TEP it names.\n" +
    "The TSP session (TCP, from the registered IPv6 address) stays open while the lease lives, so a " +
    "server-sent delete takes the address down at once; SIGTERM or SIGINT releases the lease (TSP " +
    "delete) and removes the interface, its address and its routes. Packets are carried by a " +
    "data-plane Worker; `ctl status` shows the lease, the TEP, and every counter with what it means. " +
    "Needs CAP_NET_ADMIN and CAP_NET_RAW (exit 77 without). Flags override the JSON config file; " +
    "its keys are server, source, interface, routes, credentials, mechanism, tepPrefixes, up, down, " +
    "control, mtu, keepaliveSeconds, keepaliveMisses, responseTimeoutSeconds, requestTimeoutSeconds, " +
    "hookTimeoutSeconds, renewOnBindingUnknown, hopLimit, retrySeconds, logFormat, logLevel.",
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
      help: "The DSTM server's TSP address (TCP). The port defaults to 3653.",
    },
    {
      name: "source",
      type: "string",
      value: "IPV6",
      help: "This host's global IPv6 address, used for TSP and as the tunnel source.",
      default: "the address the kernel picks toward the server",
    },
    {
      name: "interface",
      short: "i",
      type: "string",
      value: "NAME",
      help: "Name of the 4over6 TUN interface.",
      default: "dstm0",
    },
    {
      name: "route",
      short: "r",
      type: "string",
      multiple: true,
      value: "CIDR|default",
      help: "IPv4 destination to route into the tunnel.",
      default: "default",
    },
    {
      name: "credentials",
      type: "string",
      value: "USER:PASS|FILE",
      help: "TSP credentials, inline or as a file holding one user:password line. They are used " +
        "with DIGEST-MD5, which also proves the server knows them (rspauth); without " +
        "credentials ANONYMOUS is used and the server is not authenticated.",
    },
    {
      name: "tep-prefix",
      type: "string",
      multiple: true,
      value: "CIDR",
      help:
        "IPv6 prefix of the domain's TEPs: decapsulated traffic and tunnel ICMPv6 are accepted " +
        "only from these (and from each TEP the server names). Return traffic may come from any " +
        "TEP of the domain, not only the one the server named.",
      default: "the /64 of each TEP address the server names",
    },
    {
      name: "up",
      type: "string",
      value: "SCRIPT",
      help: "Script run after the interface is up and after a move to another TEP (environment: " +
        "DSTM_EVENT=up|tep-change, DSTM_INTERFACE, DSTM_IPV4, DSTM_LOCAL_IPV6, DSTM_REMOTE_IPV6, " +
        "DSTM_MTU, DSTM_LEASE_EXPIRES, ...; examples in client/hooks/).",
    },
    {
      name: "down",
      type: "string",
      value: "SCRIPT",
      help:
        "Script run before the interface goes down (DSTM_EVENT=down, DSTM_REASON=expired|refused|deleted|stopped|replaced).",
    },
    {
      name: "control",
      type: "string",
      value: "PATH",
      help: "Unix socket of the control channel used by `dstm-client ctl`.",
      default: "/run/dstm-client/control.sock",
    },
    {
      name: "mtu",
      type: "string",
      value: "BYTES",
      help:
        "MTU of the tunnel interface: the path MTU to the TEPs minus 40. ICMPv6 Packet Too Big " +
        "lowers it at run time.",
      default: "1460",
    },
    {
      name: "log-level",
      type: "string",
      value: "debug|info|warn|error",
      help: "Least severe log level written.",
      default: "info",
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
    { usage: "(none)", help: "Run the client." },
    {
      usage: "ctl status [--json]",
      help: "Show the lease, the TEP, the accepted tunnel sources and every counter, explained.",
    },
    {
      usage: "cleanup [--interface NAME]",
      help: "Remove an interface (and its address and routes) left behind by a killed client.",
    },
  ],
  examples: [
    [
      "dstm-client --server [2001:db8:1::1]:3653 --credentials alice:secret " +
      "--tep-prefix 2001:db8:ffff::/48",
      "Get an IPv4 lease and route all IPv4 through the domain's TEPs.",
    ],
    [
      "dstm-client --server [2001:db8:1::1]:3653 --route 203.0.113.0/24",
      "Only send 203.0.113.0/24 over DSTM, anonymously.",
    ],
    ["dstm-client ctl status", "What the running client holds, and what it dropped and why."],
    ["dstm-client --config /etc/dstm/client.json --check-config", "Validate a configuration."],
  ],
};
