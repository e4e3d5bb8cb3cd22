/**
 * Address-valued configuration fields: checks for the schema validator and parsers for
 * `ADDR:PORT` endpoints (`[2001:db8::1]:3653`, `192.0.2.1:3653`, `[::]:3653`).
 */
import { parseCidr4, parseCidr6, parseIpv4, parseIpv6 } from "../addr/mod.ts";

/** A host and port to listen on or connect to. */
export interface Endpoint {
  /** Address text as given to sockets (`2001:db8::1`, `192.0.2.1`, `::`). */
  host: string;
  /** 6 or 4. */
  family: 6 | 4;
  /** TCP/UDP port. */
  port: number;
}

/** Parse `[IPV6]:PORT`, `IPV4:PORT`, or (with `defaultPort`) a bare address. */
export function parseEndpoint(text: string, defaultPort?: number): Endpoint | string {
  const s = text.trim();
  let host: string;
  let portText: string | undefined;
  const m6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (m6) {
    host = m6[1];
    portText = m6[2];
  } else if (s.split(":").length === 2) {
    [host, portText] = s.split(":");
  } else {
    host = s;
  }
  if (portText === undefined) {
    if (defaultPort === undefined) return `missing port in ${JSON.stringify(text)}`;
    portText = String(defaultPort);
  }
  if (!/^\d{1,5}$/.test(portText) || +portText < 1 || +portText > 65535) {
    return `bad port in ${JSON.stringify(text)}`;
  }
  if (m6 || host.includes(":")) {
    const r = parseIpv6(host);
    if (!r.ok) return `bad IPv6 address in ${JSON.stringify(text)} (${r.reason})`;
    return { host, family: 6, port: +portText };
  }
  const r4 = parseIpv4(host);
  if (!r4.ok) return `bad address in ${JSON.stringify(text)} (${r4.reason})`;
  return { host, family: 4, port: +portText };
}

/** Schema check: an IPv4 address. */
export const checkIpv4 = (s: string): string | undefined => {
  const r = parseIpv4(s);
  return r.ok ? undefined : `not an IPv4 address (${r.reason})`;
};

/** Schema check: an IPv6 address. */
export const checkIpv6 = (s: string): string | undefined => {
  const r = parseIpv6(s);
  return r.ok ? undefined : `not an IPv6 address (${r.reason})`;
};

/** Schema check: an IPv4 CIDR. */
export const checkCidr4 = (s: string): string | undefined => {
  const r = parseCidr4(s);
  return r.ok ? undefined : `not an IPv4 prefix (${r.reason})`;
};

/** Schema check: an IPv6 CIDR. */
export const checkCidr6 = (s: string): string | undefined => {
  const r = parseCidr6(s);
  return r.ok ? undefined : `not an IPv6 prefix (${r.reason})`;
};

/** Schema check: an endpoint with a port. */
export const checkEndpoint = (s: string): string | undefined => {
  const r = parseEndpoint(s);
  return typeof r === "string" ? r : undefined;
};
