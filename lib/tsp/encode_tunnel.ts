/**
 * Emit a {@link TunnelMessage} as XML in exactly the shape deployed TSP clients parse (protocol
 * brief §2.10, §8.5): one line, no XML declaration, no comments, double-quoted attributes, lower
 * case names, no trailing CR LF (the framing adds it).
 *
 * Layout:
 * - `<tunnel>` attributes in the order `action`, `type`, `lifetime`, `proxy`; the element is
 *   always written with an end tag (`<tunnel action="accept"></tunnel>`, as the drafts print it).
 * - Children: `query` writes `<client>` then `<server>` (the draft's order); every other action
 *   writes `<server>` then `<client>`; `list` writes its `<broker>` elements.
 * - Inside an endpoint: addresses, `keepalive`, `router`, `dns_server` (gogoc's request order).
 * - `<address type="…" length="…">`; other empty elements self-close (`<prefix length="24"/>`).
 *
 * An optional {@link XmlLayout} writes one element per line instead (the draft's figures).
 *
 * Throws `TypeError` for a message the codec cannot represent (an address text that
 * `address_text.ts` refuses, a non-integer lifetime): these are programmer errors.
 *
 * @module
 */
import { checkAddressText } from "./address_text.ts";
import type { Endpoint, Keepalive, Router, TspAddress, TunnelMessage } from "./tunnel_message.ts";

/** Optional multi-line layout: one element per line (brief §3.2 item 9). */
export interface XmlLayout {
  /** Indentation per nesting level, e.g. three spaces. */
  readonly indent: string;
  /** Line end between elements, e.g. CR LF. Not added after the last line. */
  readonly eol: string;
}

interface Node {
  readonly name: string;
  readonly attrs: string;
  readonly children: readonly Node[];
  readonly text: string;
}

/** Escape text or an attribute value: `&`, `<`, `>` and `"`. */
function esc(s: string): string {
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x26 || c === 0x3c || c === 0x3e || c === 0x22) break;
  }
  if (i === s.length) return s;
  return s.replace(
    /[&<>"]/g,
    (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&quot;"),
  );
}

function int(what: string, n: number | undefined, max: number): string {
  if (!Number.isInteger(n) || (n as number) < 0 || (n as number) > max) {
    throw new TypeError(
      `Cannot encode tunnel message: ${what} ${n} is not an integer in 0..${max}`,
    );
  }
  return String(n);
}

function node(name: string, attrs = "", children: readonly Node[] = [], text = ""): Node {
  return { name, attrs, children, text };
}

function addressNode(a: TspAddress): Node {
  const checked = checkAddressText(a.type, a.value);
  if (!checked.ok) {
    throw new TypeError(
      `Cannot encode tunnel message: ${a.type} address ${
        JSON.stringify(a.value)
      } (${checked.reason})`,
    );
  }
  const len = a.length === undefined ? "" : ` length="${int("address length", a.length, 128)}"`;
  return node("address", ` type="${a.type}"${len}`, [], esc(checked.value));
}

function addressNodes(list: readonly TspAddress[] | undefined): Node[] {
  return list ? list.map(addressNode) : [];
}

function keepaliveNode(k: Keepalive): Node {
  const attrs = ` interval="${int("keepalive interval", k.interval, 0x7fffffff)}"`;
  return node("keepalive", attrs, addressNodes(k.addresses));
}

function routerNode(r: Router): Node {
  const children: Node[] = [];
  if (r.prefix) {
    const attrs = ` length="${int("prefix length", r.prefix.length, 128)}"`;
    children.push(node("prefix", attrs, [], r.prefix.value ? esc(r.prefix.value) : ""));
  }
  if (r.dnsServers) children.push(node("dns_server", "", addressNodes(r.dnsServers)));
  return node("router", r.protocol ? ` protocol="${esc(r.protocol)}"` : "", children);
}

function endpointNode(name: string, e: Endpoint): Node {
  const children = addressNodes(e.addresses);
  if (e.keepalive) children.push(keepaliveNode(e.keepalive));
  if (e.router) children.push(routerNode(e.router));
  if (e.dnsServers) children.push(node("dns_server", "", addressNodes(e.dnsServers)));
  return node(name, "", children);
}

function tunnelNode(m: TunnelMessage): Node {
  switch (m.action) {
    case "accept":
    case "reject":
      return node("tunnel", ` action="${m.action}"${m.type ? ` type="${m.type}"` : ""}`);
    case "list":
      return node(
        "tunnel",
        ` action="list" type="broker"`,
        m.brokers.map((b) => node("broker", "", addressNodes(b.addresses))),
      );
    case "create":
    case "delete":
    case "info":
    case "query": {
      if (
        !(m.type === "v4v6" || m.type === "v6v4" || m.type === "v6udpv4" || m.type === "v6anyv4")
      ) {
        throw new TypeError(`Cannot encode tunnel message: unknown type ${String(m.type)}`);
      }
      let attrs = ` action="${m.action}" type="${m.type}"`;
      if (m.lifetime !== undefined) {
        attrs += ` lifetime="${int("lifetime", m.lifetime, 0x7fffffff)}"`;
      }
      if (m.proxy !== undefined) attrs += ` proxy="${m.proxy === "yes" ? "yes" : "no"}"`;
      const order: ["client" | "server", Endpoint | undefined][] = m.action === "query"
        ? [["client", m.client], ["server", m.server]]
        : [["server", m.server], ["client", m.client]];
      const children: Node[] = [];
      for (const [name, e] of order) if (e) children.push(endpointNode(name, e));
      return node("tunnel", attrs, children);
    }
    default:
      throw new TypeError(
        `Cannot encode tunnel message: unknown action ${String((m as { action: unknown }).action)}`,
      );
  }
}

function write(n: Node, depth: number, layout: XmlLayout | undefined): string {
  const pad = layout && depth > 0 ? layout.indent.repeat(depth) : "";
  if (n.children.length === 0) {
    // The root is always written with an end tag, as the drafts print `accept`.
    if (n.text === "" && depth > 0) return `${pad}<${n.name}${n.attrs}/>`;
    return `${pad}<${n.name}${n.attrs}>${n.text}</${n.name}>`;
  }
  const eol = layout ? layout.eol : "";
  let s = `${pad}<${n.name}${n.attrs}>${n.text}`;
  for (const c of n.children) s += eol + write(c, depth + 1, layout);
  return `${s}${eol}${pad}</${n.name}>`;
}

/**
 * The XML for a message, without a final line end. One line by default; with `layout`, one
 * element per line. Throws `TypeError` for an unrepresentable message.
 */
export function encodeTunnel(m: TunnelMessage, layout?: XmlLayout): string {
  return write(tunnelNode(m), 0, layout);
}
