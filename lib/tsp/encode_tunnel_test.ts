import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../testing/prng.ts";
import { encodeTunnel } from "./encode_tunnel.ts";
import { parseTunnel } from "./parse_tunnel.ts";
import type { Endpoint, TspAddress, TunnelMessage } from "./tunnel_message.ts";
import { pick } from "./_fuzz.ts";

test("encode tunnel: one line, double quotes, lower case, no declaration", () => {
  const xml = encodeTunnel({
    action: "create",
    type: "v4v6",
    proxy: "no",
    client: {
      addresses: [{ type: "ipv6", value: "2001:db8:100::10" }],
      keepalive: { interval: 30, addresses: [{ type: "ipv4", value: "127.0.0.1" }] },
      router: { prefix: { length: 24 } },
    },
  });
  assert.equal(
    xml,
    '<tunnel action="create" type="v4v6" proxy="no"><client><address type="ipv6">2001:db8:100::10</address><keepalive interval="30"><address type="ipv4">127.0.0.1</address></keepalive><router><prefix length="24"/></router></client></tunnel>',
  );
  assert.equal(encodeTunnel({ action: "accept" }), '<tunnel action="accept"></tunnel>');
  assert.equal(
    encodeTunnel({
      action: "list",
      brokers: [{ addresses: [{ type: "ipv4", value: "192.0.2.9" }] }],
    }),
    '<tunnel action="list" type="broker"><broker><address type="ipv4">192.0.2.9</address></broker></tunnel>',
  );
});

test("encode tunnel: query writes client before server, other actions server before client", () => {
  const server: Endpoint = { addresses: [{ type: "ipv4", value: "198.51.100.7" }] };
  const client: Endpoint = { addresses: [{ type: "ipv4", value: "192.0.2.2" }] };
  assert.match(
    encodeTunnel({ action: "query", type: "v4v6", server, client }),
    /<client>.*<server>/,
  );
  assert.match(
    encodeTunnel({ action: "info", type: "v4v6", server, client }),
    /<server>.*<client>/,
  );
});

test("encode tunnel: layout writes one element per line, no final line end", () => {
  const xml = encodeTunnel(
    {
      action: "delete",
      type: "v4v6",
      client: { addresses: [{ type: "ipv4", value: "198.51.100.7" }], router: {} },
    },
    { indent: "  ", eol: "\n" },
  );
  assert.equal(
    xml,
    '<tunnel action="delete" type="v4v6">\n  <client>\n    <address type="ipv4">198.51.100.7</address>\n    <router/>\n  </client>\n</tunnel>',
  );
  assert.equal(
    encodeTunnel({ action: "accept" }, { indent: "  ", eol: "\n" }),
    '<tunnel action="accept"></tunnel>',
  );
});

test("encode tunnel: values are escaped", () => {
  const xml = encodeTunnel({
    action: "create",
    type: "v4v6",
    client: { addresses: [], router: { protocol: 'a"<&>', prefix: { length: 8, value: "x&y" } } },
  });
  assert.match(xml, /protocol="a&quot;&lt;&amp;&gt;"/);
  assert.match(xml, /x&amp;y/);
  const back = parseTunnel(xml);
  assert.ok(back.ok && back.message.action === "create");
  assert.equal(back.message.client?.router?.protocol, 'a"<&>');
});

test("encode tunnel: unrepresentable messages throw TypeError", () => {
  const bad: unknown[] = [
    {
      action: "create",
      type: "v4v6",
      client: { addresses: [{ type: "ipv4", value: "010.1.1.1" }] },
    },
    { action: "create", type: "v4v6", lifetime: 1.5 },
    { action: "create", type: "v4v6", lifetime: -1 },
    { action: "create", type: "bogus" },
    { action: "explode" },
    {
      action: "info",
      type: "v4v6",
      client: { addresses: [{ type: "ipv4", value: "1.2.3.4", length: 200 }] },
    },
  ];
  for (const m of bad) {
    assert.throws(() => encodeTunnel(m as TunnelMessage), TypeError, JSON.stringify(m));
  }
});

function randomAddress(rng: Prng): TspAddress {
  const t = rng.int(3);
  if (t === 0) {
    const v = `${rng.int(256)}.${rng.int(256)}.${rng.int(256)}.${rng.int(256)}`;
    return rng.int(2)
      ? { type: "ipv4", value: v, length: rng.int(33) }
      : { type: "ipv4", value: v };
  }
  if (t === 1) {
    return {
      type: "ipv6",
      value: `2001:db8:${rng.int(65536).toString(16)}::${rng.int(65536).toString(16)}`,
    };
  }
  return { type: "dn", value: `h${rng.int(1000)}.example` };
}

function randomEndpoint(rng: Prng): Endpoint {
  const e: {
    addresses: TspAddress[];
    keepalive?: Endpoint["keepalive"];
    router?: Endpoint["router"];
    dnsServers?: TspAddress[];
  } = {
    addresses: Array.from({ length: rng.int(4) }, () => randomAddress(rng)),
  };
  if (rng.int(3) === 0) {
    e.keepalive = { interval: rng.int(100000), addresses: [randomAddress(rng)] };
  }
  if (rng.int(3) === 0) {
    e.router = { prefix: { length: rng.int(129) }, dnsServers: [randomAddress(rng)] };
  }
  if (rng.int(3) === 0) e.dnsServers = [randomAddress(rng)];
  return e;
}

function randomMessage(rng: Prng): TunnelMessage {
  const action = pick(
    rng,
    ["create", "delete", "info", "query", "accept", "reject", "list"] as const,
  );
  if (action === "accept" || action === "reject") {
    return rng.int(2) ? { action } : { action, type: "v4v6" };
  }
  if (action === "list") return { action, brokers: [{ addresses: [randomAddress(rng)] }] };
  const m: {
    action: typeof action;
    type: "v4v6" | "v6v4";
    lifetime?: number;
    proxy?: "yes" | "no";
    server?: Endpoint;
    client?: Endpoint;
  } = { action, type: rng.int(4) ? "v4v6" : "v6v4" };
  if (rng.int(2)) m.lifetime = rng.int(2 ** 31);
  if (rng.int(4) === 0) m.proxy = rng.int(2) ? "yes" : "no";
  if (rng.int(2)) m.server = randomEndpoint(rng);
  if (rng.int(2)) m.client = randomEndpoint(rng);
  return m as TunnelMessage;
}

test("encode tunnel: seeded random round trip parse(encode(m)) == m, both layouts", () => {
  const rng = new Prng(0xe4c0);
  for (let i = 0; i < 3000; i++) {
    const m = randomMessage(rng);
    const layout = i % 2 ? { indent: "   ", eol: "\r\n" } : undefined;
    const r = parseTunnel(encodeTunnel(m, layout));
    assert.ok(r.ok, JSON.stringify(m));
    assert.deepEqual(r.message, m);
  }
});
