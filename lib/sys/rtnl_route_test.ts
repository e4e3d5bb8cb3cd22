import { test } from "node:test";
import assert from "node:assert/strict";
import golden from "./testdata/rtnetlink_golden.json" with { type: "json" };
import { fromHex, seqOf, toHex } from "./testdata/hex.ts";
import { parseIpv4, parseIpv6 } from "./ip_text.ts";
import { RTM } from "./netlink_constants.ts";
import { parseNetlinkMessages } from "./netlink_message.ts";
import {
  parseRoute,
  type RouteInfo,
  type RouteRequest,
  writeRouteChange,
  writeRouteDump,
} from "./rtnl_route.ts";
import { Prng } from "../testing/prng.ts";

const idx = golden.ifindex as Record<string, number>;

function encode(hex: string, op: "add" | "replace" | "delete", req: RouteRequest): string {
  const out = new Uint8Array(256);
  const n = writeRouteChange(out, seqOf(fromHex(hex)), op, req);
  return toHex(out.subarray(0, n));
}

const v4 = (s: string) => parseIpv4(s)!;
const v6 = (s: string) => parseIpv6(s)!;

test("rtnl route: IPv4 device route in table 100 matches ip route add", () => {
  const g = golden.route_add4_dev.hex;
  const req = { dst: v4("10.1.0.0"), dstLength: 16, table: 100, priority: 5, oif: idx.tun0 };
  assert.equal(encode(g, "add", req), g);
});

test("rtnl route: IPv4 route with table 1000, gateway, metric and src matches ip", () => {
  const g = golden.route_add4_full.hex;
  const req = {
    dst: v4("10.4.0.0"),
    dstLength: 16,
    table: 1000,
    gateway: v4("10.0.0.254"),
    priority: 9,
    prefsrc: v4("10.0.0.1"),
    oif: idx.tun0,
  };
  assert.equal(encode(g, "add", req), g);
});

test("rtnl route: IPv4 default route via a gateway matches ip", () => {
  const g = golden.route_add4_default.hex;
  const req = { dst: v4("0.0.0.0"), dstLength: 0, table: 254, gateway: v4("10.0.0.254") };
  assert.equal(encode(g, "add", req), g);
});

test("rtnl route: IPv6 host route into a device matches ip -6 route add", () => {
  const g = golden.route_add6_host.hex;
  const req = { dst: v6("2001:db8:ffff::1"), dstLength: 128, table: 254, oif: idx.tun0 };
  assert.equal(encode(g, "add", req), g);
});

test("rtnl route: IPv6 route via a gateway matches ip -6 route add", () => {
  const g = golden.route_add6_via.hex;
  const req = {
    dst: v6("2001:db8:aa::"),
    dstLength: 48,
    table: 254,
    gateway: v6("2001:db8::fe"),
    oif: idx.tun0,
  };
  assert.equal(encode(g, "add", req), g);
});

test("rtnl route: replace of a blackhole route matches ip route replace", () => {
  const g = golden.route_replace_blackhole.hex;
  const req = { dst: v4("10.3.0.0"), dstLength: 16, table: 254, type: 6 };
  assert.equal(encode(g, "replace", req), g);
});

test("rtnl route: delete matches ip route del", () => {
  const g = golden.route_delete4.hex;
  const req = { dst: v4("10.1.0.0"), dstLength: 16, table: 100, priority: 5, oif: idx.tun0 };
  assert.equal(encode(g, "delete", req), g);
});

test("rtnl route: dump request and a too small buffer", () => {
  const out = new Uint8Array(64);
  const n = writeRouteDump(out, 9, 4);
  assert.equal(
    toHex(out.subarray(0, n)),
    "1c0000001a0001030900000000000000" + "020000000000000000000000",
  );
  assert.equal(
    writeRouteChange(new Uint8Array(30), 1, "add", {
      dst: v4("10.0.0.0"),
      dstLength: 8,
      table: 254,
    }),
    0,
  );
});

function routes(hexes: string[]): RouteInfo[] {
  return hexes.map(fromHex).flatMap((b) => {
    const m = parseNetlinkMessages(b);
    assert.ok(m.ok);
    return m.messages.filter((x) => x.type === RTM.NEWROUTE).map((x) => {
      const r = parseRoute(x.payload);
      assert.ok(r.ok);
      return r.route;
    });
  });
}

test("rtnl route: decodes the kernel's IPv4 route dump", () => {
  const rs = routes(golden.answer_route_dump4.hex);
  const byDst = new Map(rs.map((r) => [`${r.table} ${r.dst}`, r]));
  assert.deepEqual(byDst.get("1000 10.4.0.0/16"), {
    family: 4,
    dst: "10.4.0.0/16",
    table: 1000,
    type: "unicast",
    protocol: 3,
    scope: 0,
    gateway: "10.0.0.254",
    oif: idx.tun0,
    metric: 9,
    prefsrc: "10.0.0.1",
  });
  const local = byDst.get("255 10.0.0.1/32");
  assert.equal(local?.type, "local");
  assert.equal(byDst.get("254 default")?.gateway, "10.0.0.254");
});

test("rtnl route: decodes the kernel's IPv6 route dump", () => {
  const rs = routes(golden.answer_route_dump6.hex);
  const host = rs.find((r) => r.dst === "2001:db8:ffff::1/128");
  assert.ok(host);
  assert.equal(host.metric, 1024);
  assert.equal(host.oif, idx.tun0);
  assert.equal(host.table, 254);
  const via = rs.find((r) => r.dst === "2001:db8:aa::/48");
  assert.equal(via?.gateway, "2001:db8::fe");
});

test("rtnl route: truncated and random payloads never throw", () => {
  const m = parseNetlinkMessages(fromHex(golden.answer_route_dump4.hex[0]));
  assert.ok(m.ok);
  const p = m.messages[0].payload;
  for (let n = 0; n < p.length; n++) parseRoute(p.subarray(0, n));
  assert.deepEqual(parseRoute(p.subarray(0, 11)), { ok: false, reason: "truncated" });
  const rng = new Prng(7);
  for (let i = 0; i < 2000; i++) parseRoute(rng.bytes(rng.int(120)));
});
