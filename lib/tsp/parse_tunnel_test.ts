import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../testing/prng.ts";
import { parseTunnel, statusForParseFailure, type TunnelParseReason } from "./parse_tunnel.ts";
import { mutateBytes, pick, randomBytes } from "./_fuzz.ts";

const enc = new TextEncoder();

test("parse tunnel: allocation reply with every field", () => {
  const r = parseTunnel(
    '<tunnel action="info" type="v4v6" lifetime="1440"><server><address type="ipv4" length="32">192.0.2.1</address><address type="ipv6">2001:db8:ffff::1</address></server><client><address type="ipv4" length="32">198.51.100.7</address><address type="ipv6">2001:db8:100::10</address><keepalive interval="30"><address type="ipv4">192.0.2.1</address></keepalive><router protocol="BGP"><prefix length="24"/><dns_server><address type="dn">ns.example</address></dns_server></router><dns_server><address type="ipv6">2001:db8::53</address></dns_server></client></tunnel>',
  );
  assert.deepEqual(r, {
    ok: true,
    repaired: false,
    message: {
      action: "info",
      type: "v4v6",
      lifetime: 1440,
      server: {
        addresses: [{ type: "ipv4", value: "192.0.2.1", length: 32 }, {
          type: "ipv6",
          value: "2001:db8:ffff::1",
        }],
      },
      client: {
        addresses: [{ type: "ipv4", value: "198.51.100.7", length: 32 }, {
          type: "ipv6",
          value: "2001:db8:100::10",
        }],
        keepalive: { interval: 30, addresses: [{ type: "ipv4", value: "192.0.2.1" }] },
        router: {
          protocol: "bgp",
          prefix: { length: 24 },
          dnsServers: [{ type: "dn", value: "ns.example" }],
        },
        dnsServers: [{ type: "ipv6", value: "2001:db8::53" }],
      },
    },
  });
});

test("parse tunnel: lenient in case, whitespace and unknown elements; bytes input", () => {
  const r = parseTunnel(
    enc.encode(
      '<Tunnel ACTION="Create" TYPE="V4V6" Proxy="NO" extra="1">\r\n <client>\r\n  <ADDRESS type="IPv6">\r\n 2001:db8:100::10 </ADDRESS>\r\n <unknown><address type="ipv4">1.2.3.4</address></unknown></client><as>1</as></Tunnel>\r\n',
    ),
  );
  assert.deepEqual(r, {
    ok: true,
    repaired: false,
    message: {
      action: "create",
      type: "v4v6",
      proxy: "no",
      client: { addresses: [{ type: "ipv6", value: "2001:db8:100::10" }] },
    },
  });
});

test("parse tunnel: accept, reject, list, query", () => {
  assert.deepEqual(parseTunnel('<tunnel action="accept"></tunnel>'), {
    ok: true,
    repaired: false,
    message: { action: "accept" },
  });
  assert.deepEqual(parseTunnel('<tunnel action="reject" type="v4v6"/>'), {
    ok: true,
    repaired: false,
    message: { action: "reject", type: "v4v6" },
  });
  assert.deepEqual(
    parseTunnel(
      '<tunnel action="list" type="broker"><broker><address type="ipv4">192.0.2.9</address></broker><broker><address type="dn">b.example</address></broker></tunnel>',
    ),
    {
      ok: true,
      repaired: false,
      message: {
        action: "list",
        brokers: [{ addresses: [{ type: "ipv4", value: "192.0.2.9" }] }, {
          addresses: [{ type: "dn", value: "b.example" }],
        }],
      },
    },
  );
  const q = parseTunnel(
    '<tunnel action="query" type="v4v6"><server><address type="ipv4">198.51.100.7</address></server></tunnel>',
  );
  assert.ok(q.ok && q.message.action === "query");
});

test("parse tunnel: other tunnel types parse (so that a server can answer 303)", () => {
  for (const t of ["v6v4", "v6udpv4", "v6anyv4"]) {
    const r = parseTunnel(
      `<tunnel action="create" type="${t}"><client><address type="ipv4">192.0.2.5</address></client></tunnel>`,
    );
    assert.ok(r.ok && r.message.action === "create" && r.message.type === t);
  }
});

test("parse tunnel: tagged refusals and their status codes", () => {
  const cases: [string, TunnelParseReason, number][] = [
    ['<tunnel type="v4v6"/>', "missing-action", 500],
    ['<tunnel action="dance" type="v4v6"/>', "unknown-action", 500],
    ['<tunnel action="create"/>', "missing-type", 500],
    ['<tunnel action="create" type="v9v9"/>', "unknown-type", 303],
    ['<tunnel action="list" type="v4v6"/>', "unknown-type", 303],
    ['<tunnel action="info" type="v4v6" lifetime="-1"/>', "bad-lifetime", 500],
    ['<tunnel action="info" type="v4v6" lifetime="99999999999"/>', "bad-lifetime", 500],
    ['<tunnel action="create" type="v4v6" proxy="maybe"/>', "bad-proxy", 500],
    [
      '<tunnel action="create" type="v4v6"><client><address>1.2.3.4</address></client></tunnel>',
      "bad-address-type",
      500,
    ],
    [
      '<tunnel action="create" type="v4v6"><client><address type="ipv4">010.0.0.1</address></client></tunnel>',
      "bad-ipv4",
      501,
    ],
    [
      '<tunnel action="create" type="v4v6"><client><address type="ipv6">fe80::1%eth0</address></client></tunnel>',
      "bad-ipv6",
      502,
    ],
    [
      '<tunnel action="create" type="v4v6"><client><address type="dn">a b</address></client></tunnel>',
      "bad-dn",
      500,
    ],
    [
      '<tunnel action="create" type="v4v6"><client><address type="ipv4" length="33x">1.2.3.4</address></client></tunnel>',
      "bad-length",
      500,
    ],
    [
      '<tunnel action="create" type="v4v6"><client><address type="ipv4" length="129">1.2.3.4</address></client></tunnel>',
      "bad-length",
      500,
    ],
    [
      '<tunnel action="create" type="v4v6"><client><router><prefix/></router></client></tunnel>',
      "bad-length",
      500,
    ],
    [
      '<tunnel action="create" type="v4v6"><client><keepalive/></client></tunnel>',
      "bad-interval",
      500,
    ],
    [
      '<tunnel action="create" type="v4v6"><client>' +
      '<address type="ipv4">1.2.3.4</address>'.repeat(17) + "</client></tunnel>",
      "too-many-addresses",
      500,
    ],
    ["<info/>", "not-tunnel", 500],
    ["<tunnel", "malformed", 500],
    ["", "no-root", 500],
    ["<!DOCTYPE x><tunnel/>", "dtd", 500],
  ];
  for (const [doc, reason, status] of cases) {
    const r = parseTunnel(doc);
    assert.ok(!r.ok && r.reason === reason, `${doc.slice(0, 60)}: ${JSON.stringify(r)}`);
    assert.equal(statusForParseFailure(reason), status, reason);
  }
  assert.deepEqual(parseTunnel(Uint8Array.of(0x3c, 0xff, 0x3e)), { ok: false, reason: "not-utf8" });
  assert.deepEqual(parseTunnel(new Uint8Array(20000)), { ok: false, reason: "too-large" });
  assert.deepEqual(parseTunnel(42 as unknown as string), { ok: false, reason: "malformed" });
  const withAction = parseTunnel('<tunnel action="create" type="v9v9"/>');
  assert.ok(!withAction.ok && withAction.action === "create");
});

test("parse tunnel: 100k random and mutated documents never throw and end in a defined status", () => {
  const rng = new Prng(0x7a11);
  const seeds = [
    '<tunnel action="info" type="v4v6" lifetime="1440"><server><address type="ipv4" length="32">192.0.2.1</address><address type="ipv6">2001:db8:ffff::1</address></server><client><address type="ipv4" length="32">198.51.100.7</address></client></tunnel>\r\n',
    '<tunnel action="query" type="v4v6">\r\n <client>\r\n <address type="ipv4">192.0.2.2</address>\r\n </client>\r\n <server>\r\n <address type="ipv4">198.51.100.7\r\n </address>\r\n </tunnel>',
    '<tunnel action="create" type="v4v6" proxy="no"><client><address type="ipv6">2001:db8:100::10</address><keepalive interval="30"><address type="ipv4">127.0.0.1</address></keepalive><router><prefix length="24"/></router></client></tunnel>',
    '<tunnel action="list" type="broker"><broker><address type="dn">b.example</address></broker></tunnel>',
  ].map((s) => enc.encode(s));
  const statuses = new Set([303, 500, 501, 502]);
  let ok = 0;
  for (let i = 0; i < 100_000; i++) {
    const input = i % 10 === 0 ? randomBytes(rng, 64) : mutateBytes(rng, pick(rng, seeds));
    const r = parseTunnel(input);
    if (r.ok) ok++;
    else assert.ok(statuses.has(statusForParseFailure(r.reason)) && typeof r.reason === "string");
  }
  assert.ok(ok > 1000, `${ok} mutations still parse`);
});
