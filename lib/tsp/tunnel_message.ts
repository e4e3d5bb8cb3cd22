/**
 * Typed TSP tunnel messages (protocol brief §2.6, §3): a discriminated union on `action`.
 *
 * The vocabulary is the DTD of TSP drafts -03/-04 plus what real traffic carries beyond it:
 * `keepalive` and `dns_server` inside `client`, `proxy` on `tunnel`, `length` on addresses, the
 * broker `list` of redirects, and the multi-TEP draft's `query`.
 *
 * Meaning of `server`/`client` depends on the action (brief §3.2 item 2): in allocation replies
 * `server` is the TEP and `client` the DSTM client; in `query` and its reply `client` is the
 * querying TEP and `server` the DSTM client being looked up.
 *
 * Addresses are carried as cleaned text (see `address_text.ts`); `lifetime` is in minutes.
 *
 * @module
 */
import type { AddressType } from "./address_text.ts";

export type { AddressType } from "./address_text.ts";

/** Tunnel types of the TSP registry. DSTM uses only `v4v6`; the others parse so that a server can answer 303. */
export type TunnelType = "v4v6" | "v6v4" | "v6udpv4" | "v6anyv4";

/** Every {@link TunnelType}. */
export const TUNNEL_TYPES: readonly TunnelType[] = Object.freeze([
  "v4v6",
  "v6v4",
  "v6udpv4",
  "v6anyv4",
]);

/** `<address type="…" length="…">text</address>`. */
export interface TspAddress {
  /** The `type` attribute, lower case. */
  readonly type: AddressType;
  /** The address text, whitespace removed (IP) or trimmed (dn). */
  readonly value: string;
  /** The `length` attribute (prefix length), when present. */
  readonly length?: number;
}

/** `<keepalive interval="N">` with its addresses (brief §2.8). */
export interface Keepalive {
  /** Interval in seconds. */
  readonly interval: number;
  /** Where keepalives go (gogoc sends `127.0.0.1` as a placeholder for v4v6). */
  readonly addresses: readonly TspAddress[];
}

/** `<prefix length="L">text</prefix>` (text often empty: `<prefix length="24"/>`). */
export interface Prefix {
  /** The `length` attribute. */
  readonly length: number;
  /** The prefix text, when present and not empty. */
  readonly value?: string;
}

/** `<router>` with its optional `protocol` attribute, `prefix` and `dns_server`. */
export interface Router {
  /** The `protocol` attribute (2002 profile: `rip` or `bgp`), as sent. */
  readonly protocol?: string;
  /** The requested or assigned prefix. */
  readonly prefix?: Prefix;
  /** `<dns_server>` addresses inside the router element. */
  readonly dnsServers?: readonly TspAddress[];
}

/** The content of `<server>` or `<client>`. */
export interface Endpoint {
  /** `<address>` children, in order. */
  readonly addresses: readonly TspAddress[];
  /** `<keepalive>` (found in `client` in real traffic). */
  readonly keepalive?: Keepalive;
  /** `<router>`. */
  readonly router?: Router;
  /** `<dns_server>` addresses directly inside the endpoint (brief §8.5). */
  readonly dnsServers?: readonly TspAddress[];
}

/** A `<broker>` of a redirect list. */
export interface Broker {
  /** The broker's addresses. */
  readonly addresses: readonly TspAddress[];
}

/** Fields shared by the actions that describe a tunnel. */
export interface TunnelFields {
  /** The tunnel type (`v4v6` for DSTM). */
  readonly type: TunnelType;
  /** Lifetime in minutes (brief §5.1). */
  readonly lifetime?: number;
  /** gogoc's `proxy` attribute. */
  readonly proxy?: "yes" | "no";
  /** `<server>`. */
  readonly server?: Endpoint;
  /** `<client>`. */
  readonly client?: Endpoint;
}

/** Ask for a tunnel, or renew one (DSTM: a lease). */
export interface CreateMessage extends TunnelFields {
  /** Discriminant. */
  readonly action: "create";
}

/** Remove a tunnel (client release, or server-initiated lease end). */
export interface DeleteMessage extends TunnelFields {
  /** Discriminant. */
  readonly action: "delete";
}

/** Tunnel properties: the broker's answer to `create`/`query`, or a client's request for them. */
export interface InfoMessage extends TunnelFields {
  /** Discriminant. */
  readonly action: "info";
}

/** The multi-TEP lookup: a TEP asks which IPv6 address holds a pool IPv4 address (brief §3). */
export interface QueryMessage extends TunnelFields {
  /** Discriminant. */
  readonly action: "query";
}

/** The client takes the offered tunnel (`<tunnel action="accept"></tunnel>`). */
export interface AcceptMessage {
  /** Discriminant. */
  readonly action: "accept";
  /** Usually absent. */
  readonly type?: TunnelType;
}

/** The client refuses the offered tunnel. */
export interface RejectMessage {
  /** Discriminant. */
  readonly action: "reject";
  /** Usually absent. */
  readonly type?: TunnelType;
}

/** The broker list after a redirect status (`<tunnel action="list" type="broker">`). */
export interface ListMessage {
  /** Discriminant. */
  readonly action: "list";
  /** The alternative brokers, in order of preference. */
  readonly brokers: readonly Broker[];
}

/** Any TSP tunnel message. */
export type TunnelMessage =
  | CreateMessage
  | DeleteMessage
  | InfoMessage
  | QueryMessage
  | AcceptMessage
  | RejectMessage
  | ListMessage;

/** The `action` values. */
export type TunnelAction = TunnelMessage["action"];

/** The messages a client sends as a command and a server handler answers. */
export type CommandMessage = CreateMessage | DeleteMessage | InfoMessage | QueryMessage;

/** True for the actions a server handler answers (`create`, `delete`, `info`, `query`). */
export function isCommandMessage(m: TunnelMessage): m is CommandMessage {
  return m.action === "create" || m.action === "delete" || m.action === "info" ||
    m.action === "query";
}
