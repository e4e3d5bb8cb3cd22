/**
 * The DSTM `v4v6` profile of TSP: builders and readers for the messages the three programs
 * exchange (protocol brief §2.10, §3.3, §5, §8.5, §8.7; pushes in `PUSH.md`).
 *
 * | Message | From → to | `<server>` | `<client>` |
 * |---|---|---|---|
 * | allocation `create` | client → server | — | client IPv6 |
 * | renewal `create` | client → server | — | client IPv6, leased IPv4 (/32) |
 * | release `delete` | client → server | — | client IPv6, leased IPv4 (/32) |
 * | allocation `info` | server → client | TEP IPv4 (/32), TEP IPv6 | leased IPv4 (/32), [client IPv6], [dns_server], [keepalive] |
 * | `query` | TEP → server | looked-up IPv4 | TEP IPv4, TEP IPv6 |
 * | query `info` | server → TEP | looked-up IPv4 (/32), client IPv6 | TEP IPv4 (/32), TEP IPv6 |
 * | binding `create` push | server → TEP | — | leased IPv4 (/32), client IPv6 (with `lifetime`) |
 * | binding `delete` push | server → TEP | — | leased IPv4 (/32), client IPv6 |
 * | lease `delete` push | server → client | TEP IPv4 (/32), TEP IPv6 | leased IPv4 (/32), client IPv6 |
 *
 * Builders take address texts and throw nothing themselves; the encoder checks the texts.
 * Readers never throw and return `undefined` when a required address is missing.
 *
 * @module
 */
import type {
  CreateMessage,
  DeleteMessage,
  Endpoint,
  InfoMessage,
  Keepalive,
  QueryMessage,
  TspAddress,
  TunnelMessage,
} from "./tunnel_message.ts";

/** Default lease lifetime in minutes (the DTD default, 24 h). */
export const DEFAULT_LIFETIME_MINUTES = 1440;

function v4(value: string, host = true): TspAddress {
  return host ? { type: "ipv4", value, length: 32 } : { type: "ipv4", value };
}

function v6(value: string): TspAddress {
  return { type: "ipv6", value };
}

/** The first address of a type in an endpoint, or `undefined`. */
export function firstAddress(
  e: Endpoint | undefined,
  type: TspAddress["type"],
): string | undefined {
  if (!e) return undefined;
  for (const a of e.addresses) if (a.type === type) return a.value;
  return undefined;
}

/** Options of {@link allocationRequest}. */
export interface AllocationRequestOptions {
  /** Add gogoc's `proxy="no"`. */
  readonly proxy?: "yes" | "no";
  /** Add a `<keepalive>` (gogoc sends interval 30 and `127.0.0.1`). */
  readonly keepalive?: Keepalive;
}

/** Allocation: `create` with the client's global IPv6 address only (brief §2.10). */
export function allocationRequest(
  clientIpv6: string,
  options: AllocationRequestOptions = {},
): CreateMessage {
  const client: Endpoint = options.keepalive
    ? { addresses: [v6(clientIpv6)], keepalive: options.keepalive }
    : { addresses: [v6(clientIpv6)] };
  return options.proxy
    ? { action: "create", type: "v4v6", proxy: options.proxy, client }
    : { action: "create", type: "v4v6", client };
}

/** Renewal: `create` with the client IPv6 and the leased IPv4 (brief §2.10, satisfies exp-04 and the 2002 profile). */
export function renewalRequest(clientIpv6: string, ipv4: string): CreateMessage {
  return { action: "create", type: "v4v6", client: { addresses: [v6(clientIpv6), v4(ipv4)] } };
}

/** Release: `delete` with the client IPv6 and the leased IPv4 (brief §2.10). */
export function releaseRequest(clientIpv6: string, ipv4: string): DeleteMessage {
  return { action: "delete", type: "v4v6", client: { addresses: [v6(clientIpv6), v4(ipv4)] } };
}

/** The querying TEP's own addresses. */
export interface TepAddresses {
  /** TEP IPv4 address. */
  readonly ipv4?: string;
  /** TEP IPv6 address. */
  readonly ipv6?: string;
}

function tepEndpoint(tep: TepAddresses, host: boolean): Endpoint | undefined {
  const addresses: TspAddress[] = [];
  if (tep.ipv4 !== undefined) addresses.push(v4(tep.ipv4, host));
  if (tep.ipv6 !== undefined) addresses.push(v6(tep.ipv6));
  return addresses.length > 0 ? { addresses } : undefined;
}

/** Multi-TEP `query` (brief §3.3): `<client>` = the TEP, `<server>` = the IPv4 address looked up. */
export function queryRequest(ipv4: string, tep: TepAddresses = {}): QueryMessage {
  const client = tepEndpoint(tep, false);
  const server: Endpoint = { addresses: [v4(ipv4, false)] };
  return client
    ? { action: "query", type: "v4v6", client, server }
    : { action: "query", type: "v4v6", server };
}

/** The fields of an allocation (or renewal) answer. */
export interface AllocationInfoFields {
  /** Leased IPv4 address. */
  readonly ipv4: string;
  /** The assigned TEP's IPv4 address. */
  readonly tepIpv4: string;
  /** The assigned TEP's IPv6 address. */
  readonly tepIpv6: string;
  /** Lease lifetime in minutes. */
  readonly lifetime: number;
  /** The client's IPv6 address (gogoc wants it, brief §8.5; also the 2002 profile's form). */
  readonly clientIpv6?: string;
  /** `<client><dns_server>` addresses (brief §8.5). */
  readonly dnsServers?: readonly TspAddress[];
  /** `<client><keepalive>` (brief §8.5). */
  readonly keepalive?: Keepalive;
}

/** Allocation answer: `info` with `<server>` = TEP, `<client>` = lease (brief §2.10, §8.5). */
export function allocationInfo(f: AllocationInfoFields): InfoMessage {
  const addresses = [v4(f.ipv4)];
  if (f.clientIpv6 !== undefined) addresses.push(v6(f.clientIpv6));
  const client: {
    addresses: TspAddress[];
    dnsServers?: readonly TspAddress[];
    keepalive?: Keepalive;
  } = {
    addresses,
  };
  if (f.keepalive) client.keepalive = f.keepalive;
  if (f.dnsServers) client.dnsServers = f.dnsServers;
  return {
    action: "info",
    type: "v4v6",
    lifetime: f.lifetime,
    server: { addresses: [v4(f.tepIpv4), v6(f.tepIpv6)] },
    client,
  };
}

/** What a client reads from an allocation answer. */
export interface AllocationView {
  /** Leased IPv4. */
  readonly ipv4: string;
  /** TEP IPv6 (the tunnel's far end). */
  readonly tepIpv6: string;
  /** TEP IPv4, when sent. */
  readonly tepIpv4?: string;
  /** Lifetime in minutes, when sent. */
  readonly lifetime?: number;
}

/** Read an allocation answer; `undefined` unless it has the leased IPv4 and the TEP IPv6. */
export function readAllocationInfo(m: TunnelMessage): AllocationView | undefined {
  if (m.action !== "info") return undefined;
  const ipv4 = firstAddress(m.client, "ipv4");
  const tepIpv6 = firstAddress(m.server, "ipv6");
  if (ipv4 === undefined || tepIpv6 === undefined) return undefined;
  const tepIpv4 = firstAddress(m.server, "ipv4");
  return {
    ipv4,
    tepIpv6,
    ...(tepIpv4 === undefined ? {} : { tepIpv4 }),
    ...(m.lifetime === undefined ? {} : { lifetime: m.lifetime }),
  };
}

/** The addresses a client names in `create`/`delete`: its IPv6 and, on renewal/release, its IPv4. */
export function readRequestAddresses(m: TunnelMessage): { clientIpv6?: string; ipv4?: string } {
  if (m.action !== "create" && m.action !== "delete") return {};
  const clientIpv6 = firstAddress(m.client, "ipv6");
  const ipv4 = firstAddress(m.client, "ipv4");
  return {
    ...(clientIpv6 === undefined ? {} : { clientIpv6 }),
    ...(ipv4 === undefined ? {} : { ipv4 }),
  };
}

/** The IPv4 address a `query` looks up (`<server><address type="ipv4">`), or `undefined`. */
export function readQueryKey(m: TunnelMessage): string | undefined {
  return m.action === "query" ? firstAddress(m.server, "ipv4") : undefined;
}

/** The fields of a query answer. */
export interface QueryInfoFields {
  /** The IPv4 address looked up (the lease). */
  readonly ipv4: string;
  /** The DSTM client's IPv6 address holding it. */
  readonly clientIpv6: string;
  /** Remaining lease in minutes, rounded up (brief §3.2 item 5); 0 means do not cache. */
  readonly lifetime: number;
  /** The querying TEP, echoed in `<client>` as the draft does. */
  readonly tep?: TepAddresses;
}

/** Query answer (brief §3.3): `<server>` = the DSTM client, `<client>` = the querying TEP. */
export function queryInfo(f: QueryInfoFields): InfoMessage {
  const client = f.tep ? tepEndpoint(f.tep, true) : undefined;
  const server: Endpoint = { addresses: [v4(f.ipv4), v6(f.clientIpv6)] };
  return client
    ? { action: "info", type: "v4v6", lifetime: f.lifetime, server, client }
    : { action: "info", type: "v4v6", lifetime: f.lifetime, server };
}

/** A binding: leased IPv4 → client IPv6, with a lifetime in minutes when known. */
export interface BindingView {
  /** Leased IPv4. */
  readonly ipv4: string;
  /** The client's IPv6 address. */
  readonly clientIpv6: string;
  /** Minutes the binding may be kept, when sent. */
  readonly lifetime?: number;
}

/** Read a query answer; `undefined` unless `<server>` has both the IPv4 and the IPv6 address. */
export function readQueryInfo(m: TunnelMessage): BindingView | undefined {
  if (m.action !== "info") return undefined;
  const ipv4 = firstAddress(m.server, "ipv4");
  const clientIpv6 = firstAddress(m.server, "ipv6");
  if (ipv4 === undefined || clientIpv6 === undefined) return undefined;
  return m.lifetime === undefined
    ? { ipv4, clientIpv6 }
    : { ipv4, clientIpv6, lifetime: m.lifetime };
}

/**
 * Binding push to a TEP (PUSH.md): `create` (add, with `lifetime`) or `delete` (remove), the
 * binding in `<client>`. The `create` form is byte for byte the 2002 profile's server → TEP
 * provisioning request of brief §2.10.
 */
export function bindingPush(kind: "add" | "remove", b: BindingView): CreateMessage | DeleteMessage {
  const client: Endpoint = { addresses: [v4(b.ipv4), v6(b.clientIpv6)] };
  if (kind === "add") {
    return {
      action: "create",
      type: "v4v6",
      lifetime: b.lifetime ?? DEFAULT_LIFETIME_MINUTES,
      client,
    };
  }
  return { action: "delete", type: "v4v6", client };
}

/** Lease-end push to a client (PUSH.md, 2002 profile): `delete`, `<server>` = TEP, `<client>` = lease. */
export function leaseDeletePush(b: BindingView, tep: TepAddresses = {}): DeleteMessage {
  const server = tepEndpoint(tep, true);
  const client: Endpoint = { addresses: [v4(b.ipv4), v6(b.clientIpv6)] };
  return server
    ? { action: "delete", type: "v4v6", server, client }
    : { action: "delete", type: "v4v6", client };
}

/** Read a binding or lease push (`create`/`delete` with the binding in `<client>`). */
export function readPush(m: TunnelMessage): ({ kind: "add" | "remove" } & BindingView) | undefined {
  if (m.action !== "create" && m.action !== "delete") return undefined;
  const ipv4 = firstAddress(m.client, "ipv4");
  const clientIpv6 = firstAddress(m.client, "ipv6");
  if (ipv4 === undefined || clientIpv6 === undefined) return undefined;
  const kind = m.action === "create" ? "add" : "remove";
  return m.lifetime === undefined
    ? { kind, ipv4, clientIpv6 }
    : { kind, ipv4, clientIpv6, lifetime: m.lifetime };
}

/**
 * True for a message a server sends unsolicited on an open session (PUSH.md): `create` or
 * `delete`. A reply to a command is never one of these (replies are `info`, `list` or status only),
 * so a client tells pushes from replies by the action alone.
 */
export function isPushMessage(m: TunnelMessage): m is CreateMessage | DeleteMessage {
  return m.action === "create" || m.action === "delete";
}
