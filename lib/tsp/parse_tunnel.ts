/**
 * Parse a TSP `<tunnel>` document into a typed {@link TunnelMessage} (protocol brief §2.6, §3.2).
 *
 * Lenient where real traffic needs it: names in any case, values compared case-insensitively,
 * text trimmed (IP addresses lose all whitespace), unknown elements and attributes ignored, the
 * single §3.2 repair (reported as `repaired: true`). Strict elsewhere: one `tunnel` root, known
 * `action`, a `type` on the tunnel actions, numeric `lifetime`/`length`/`interval`, and address
 * texts that `lib/addr/` accepts. Returns a result with a tagged reason; never throws.
 *
 * @module
 */
import { type AddressType, checkAddressText } from "./address_text.ts";
import type {
  Broker,
  Endpoint,
  Keepalive,
  Prefix,
  Router,
  TspAddress,
  TunnelMessage,
  TunnelType,
} from "./tunnel_message.ts";
import { parseXmlTree, type XmlElement, type XmlTreeReason } from "./xml_tree.ts";
import { Status } from "./status_codes.ts";

/** Why {@link parseTunnel} refused a document. */
export type TunnelParseReason =
  | XmlTreeReason
  /** The bytes are not UTF-8. */
  | "not-utf8"
  /** The root element is not `tunnel`. */
  | "not-tunnel"
  /** No `action` attribute. */
  | "missing-action"
  /** An `action` other than create, delete, info, accept, reject, query, list. */
  | "unknown-action"
  /** No `type` on create, delete, info or query. */
  | "missing-type"
  /** A `type` outside v4v6, v6v4, v6udpv4, v6anyv4 (broker for list). */
  | "unknown-type"
  /** `lifetime` is not a decimal integer. */
  | "bad-lifetime"
  /** `proxy` is neither yes nor no. */
  | "bad-proxy"
  /** An `<address>` without a known `type`. */
  | "bad-address-type"
  /** An IPv4 address `lib/addr` refuses. */
  | "bad-ipv4"
  /** An IPv6 address `lib/addr` refuses. */
  | "bad-ipv6"
  /** A `dn` address that is not a host name. */
  | "bad-dn"
  /** A `length` attribute that is not 0..128. */
  | "bad-length"
  /** A keepalive `interval` that is not a decimal integer. */
  | "bad-interval"
  /** More addresses in one element than {@link MAX_ADDRESSES}. */
  | "too-many-addresses";

/** Result of {@link parseTunnel}. */
export type TunnelParseResult =
  | { readonly ok: true; readonly message: TunnelMessage; readonly repaired: boolean }
  | {
    readonly ok: false;
    readonly reason: TunnelParseReason;
    /** The `action` attribute as sent, when the root was readable. */
    readonly action?: string;
  };

/** Options of {@link parseTunnel}. */
export interface ParseTunnelOptions {
  /** Longest document, in bytes or characters. Default 16384. */
  readonly maxLength?: number;
}

/** Most `<address>` children accepted in one element. */
export const MAX_ADDRESSES = 16;

/** Largest `lifetime` or `interval` accepted (2^31 - 1). */
const MAX_INT = 0x7fffffff;

const decoder = new TextDecoder("utf-8", { fatal: true });

class Refusal {
  constructor(readonly reason: TunnelParseReason) {}
}

/** Parse a tunnel document given as text or UTF-8 bytes. Never throws. */
export function parseTunnel(
  input: string | Uint8Array,
  options: ParseTunnelOptions = {},
): TunnelParseResult {
  const maxLength = options.maxLength ?? 16384;
  let text: string;
  if (typeof input === "string") {
    text = input;
  } else if (input instanceof Uint8Array) {
    if (input.length > maxLength) return { ok: false, reason: "too-large" };
    try {
      text = decoder.decode(input);
    } catch {
      return { ok: false, reason: "not-utf8" };
    }
  } else {
    return { ok: false, reason: "malformed" };
  }
  const tree = parseXmlTree(text, { maxLength });
  if (!tree.ok) return { ok: false, reason: tree.reason };
  const root = tree.root;
  if (root.name !== "tunnel") return { ok: false, reason: "not-tunnel" };
  const actionRaw = root.attrs.get("action");
  if (actionRaw === undefined) return { ok: false, reason: "missing-action" };
  try {
    const message = readTunnel(root, actionRaw.toLowerCase());
    return { ok: true, message, repaired: tree.repaired };
  } catch (e) {
    if (e instanceof Refusal) return { ok: false, reason: e.reason, action: actionRaw };
    return { ok: false, reason: "malformed", action: actionRaw };
  }
}

/**
 * The status a server answers for a refused command (brief §2.7, §3.2 item 10): 303 for a tunnel
 * type it does not know, 501/502 for a bad IPv4/IPv6 address, 500 for everything else.
 */
export function statusForParseFailure(reason: TunnelParseReason): number {
  switch (reason) {
    case "unknown-type":
      return Status.UNSUPPORTED_TUNNEL_TYPE;
    case "bad-ipv4":
      return Status.INVALID_IPV4;
    case "bad-ipv6":
      return Status.INVALID_IPV6;
    default:
      return Status.INVALID_REQUEST;
  }
}

function readTunnel(root: XmlElement, action: string): TunnelMessage {
  const typeRaw = root.attrs.get("type")?.toLowerCase();
  switch (action) {
    case "accept":
    case "reject": {
      const type = typeRaw === undefined || typeRaw === "" ? undefined : tunnelType(typeRaw);
      return type === undefined ? { action } : { action, type };
    }
    case "list": {
      if (typeRaw !== undefined && typeRaw !== "broker") throw new Refusal("unknown-type");
      const brokers: Broker[] = [];
      for (const c of root.children) {
        if (c.name === "broker") brokers.push({ addresses: addresses(c) });
      }
      return { action: "list", brokers };
    }
    case "create":
    case "delete":
    case "info":
    case "query": {
      if (typeRaw === undefined || typeRaw === "") throw new Refusal("missing-type");
      const type = tunnelType(typeRaw);
      const out: {
        action: typeof action;
        type: TunnelType;
        lifetime?: number;
        proxy?: "yes" | "no";
        server?: Endpoint;
        client?: Endpoint;
      } = { action, type };
      const lifetime = root.attrs.get("lifetime");
      if (lifetime !== undefined) out.lifetime = integer(lifetime, MAX_INT, "bad-lifetime");
      const proxy = root.attrs.get("proxy");
      if (proxy !== undefined) {
        const p = proxy.toLowerCase();
        if (p !== "yes" && p !== "no") throw new Refusal("bad-proxy");
        out.proxy = p;
      }
      const server = first(root, "server");
      if (server) out.server = endpoint(server);
      const client = first(root, "client");
      if (client) out.client = endpoint(client);
      return out as TunnelMessage;
    }
    default:
      throw new Refusal("unknown-action");
  }
}

function tunnelType(t: string): TunnelType {
  if (t === "v4v6" || t === "v6v4" || t === "v6udpv4" || t === "v6anyv4") return t;
  throw new Refusal("unknown-type");
}

function first(el: XmlElement, name: string): XmlElement | undefined {
  for (const c of el.children) if (c.name === name) return c;
  return undefined;
}

function integer(text: string, max: number, reason: TunnelParseReason): number {
  if (!/^[0-9]{1,10}$/.test(text)) throw new Refusal(reason);
  const n = Number(text);
  if (n > max) throw new Refusal(reason);
  return n;
}

function address(el: XmlElement): TspAddress {
  const t = el.attrs.get("type")?.toLowerCase();
  if (t !== "ipv4" && t !== "ipv6" && t !== "dn") throw new Refusal("bad-address-type");
  const checked = checkAddressText(t as AddressType, el.text);
  if (!checked.ok) throw new Refusal(checked.reason);
  const len = el.attrs.get("length");
  if (len === undefined || len === "") return { type: t, value: checked.value };
  return { type: t, value: checked.value, length: integer(len, 128, "bad-length") };
}

function addresses(el: XmlElement): TspAddress[] {
  const out: TspAddress[] = [];
  for (const c of el.children) {
    if (c.name !== "address") continue;
    if (out.length === MAX_ADDRESSES) throw new Refusal("too-many-addresses");
    out.push(address(c));
  }
  return out;
}

function endpoint(el: XmlElement): Endpoint {
  const out: {
    addresses: TspAddress[];
    keepalive?: Keepalive;
    router?: Router;
    dnsServers?: TspAddress[];
  } = { addresses: addresses(el) };
  const ka = first(el, "keepalive");
  if (ka) {
    const interval = ka.attrs.get("interval");
    if (interval === undefined) throw new Refusal("bad-interval");
    out.keepalive = {
      interval: integer(interval, MAX_INT, "bad-interval"),
      addresses: addresses(ka),
    };
  }
  const router = first(el, "router");
  if (router) out.router = readRouter(router);
  const dns = first(el, "dns_server");
  if (dns) out.dnsServers = addresses(dns);
  return out;
}

function readRouter(el: XmlElement): Router {
  const out: { protocol?: string; prefix?: Prefix; dnsServers?: TspAddress[] } = {};
  const protocol = el.attrs.get("protocol");
  if (protocol !== undefined && protocol !== "") out.protocol = protocol.toLowerCase();
  const prefix = first(el, "prefix");
  if (prefix) {
    const len = prefix.attrs.get("length");
    if (len === undefined) throw new Refusal("bad-length");
    const length = integer(len, 128, "bad-length");
    out.prefix = prefix.text === ""
      ? { length }
      : { length, value: prefix.text.replace(/\s+/g, "") };
  }
  const dns = first(el, "dns_server");
  if (dns) out.dnsServers = addresses(dns);
  return out;
}
