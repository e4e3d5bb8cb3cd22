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
    "else. When its TEP stops answering it asks the server again and moves to the TEP it names.",
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
      help: "TSP credentials (DIGEST-MD5 when offered); without them ANONYMOUS is used.",
    },
    {
      name: "tep-prefix",
      type: "string",
      multiple: true,
      value: "CIDR",
      help: "IPv6 prefix of the domain's TEPs: decapsulated traffic is accepted only from these.",
      default: "the TEP the server names",
    },
    {
      name: "up",
      type: "string",
      value: "SCRIPT",
      help: "Script run after the interface is up (environment: DSTM_INTERFACE, DSTM_IPV4, ...).",
    },
    {
      name: "down",
      type: "string",
      value: "SCRIPT",
      help: "Script run before the interface goes down.",
    },
    {
      name: "control",
      type: "string",
      value: "PATH",
      help: "Unix socket of the control channel used by `dstm-client ctl`.",
      default: "/run/dstm-client.sock",
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
    { usage: "ctl status", help: "Show the lease, the TEP and the counters." },
    { usage: "cleanup", help: "Remove an interface and routes left behind by a killed client." },
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
  ],
};
