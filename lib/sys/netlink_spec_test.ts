import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkIfName,
  describeAddress,
  describeLinkChange,
  describeRoute,
  parseAddressSpec,
  parseRouteSpec,
} from "./netlink_spec.ts";

test("netlink spec: interface names", () => {
  checkIfName("tun0");
  checkIfName("a".repeat(15));
  for (const bad of ["", "a".repeat(16), "a b", "a/b", "x:1", "."]) {
    assert.throws(() => checkIfName(bad), TypeError, bad);
  }
});

test("netlink spec: address specs", () => {
  const p = parseAddressSpec(
    { dev: "tun0", address: "2001:db8::1", prefixLength: 64, noDad: true },
    3,
  );
  assert.equal(p.family, 6);
  assert.equal(p.request.index, 3);
  assert.equal(p.request.flags, 2);
  assert.throws(
    () => parseAddressSpec({ dev: "tun0", address: "10.0.0.300", prefixLength: 24 }, 1),
    TypeError,
  );
  assert.throws(
    () => parseAddressSpec({ dev: "tun0", address: "10.0.0.1", prefixLength: 33 }, 1),
    TypeError,
  );
  assert.throws(
    () => parseAddressSpec({ dev: "tun0", address: "10.0.0.1", prefixLength: 32, peer: "::1" }, 1),
    TypeError,
  );
  assert.equal(
    describeAddress({ dev: "tun0", address: "10.0.0.1", prefixLength: 32, peer: "10.0.0.2" }),
    "10.0.0.1/32 peer 10.0.0.2 dev tun0",
  );
});

test("netlink spec: route specs", () => {
  const d = parseRouteSpec({ dst: "default", gateway: "2001:db8::fe" });
  assert.equal(d.family, 6);
  assert.equal(d.dstText, "default");
  assert.equal(d.request.dstLength, 0);
  const h = parseRouteSpec({ dst: "2001:DB8:ffff::1", table: 100, metric: 5, type: "blackhole" });
  assert.equal(h.dstText, "2001:db8:ffff::1/128");
  assert.equal(h.request.table, 100);
  assert.equal(h.request.type, 6);
  assert.equal(parseRouteSpec({ dst: "198.51.100.0/24" }).request.table, 254);
  assert.throws(() => parseRouteSpec({ dst: "default" }), TypeError);
  assert.throws(() => parseRouteSpec({ dst: "10.1.2.3/16" }), /host bits set/);
  assert.throws(() => parseRouteSpec({ dst: "10.0.0.0/8", gateway: "::1" }), /mixed/);
  assert.throws(() => parseRouteSpec({ dst: "10.0.0.0/8", family: 6 }), TypeError);
  assert.throws(() => parseRouteSpec({ dst: "10.0.0.0/8", metric: -1 }), TypeError);
  assert.throws(() => parseRouteSpec({ dst: "10.0.0.0/8", dev: "bad name" }), TypeError);
  assert.equal(
    describeRoute({
      dst: "10.4.0.0/16",
      gateway: "10.0.0.254",
      dev: "tun0",
      table: 1000,
      metric: 9,
    }),
    "10.4.0.0/16 via 10.0.0.254 dev tun0 table 1000 metric 9",
  );
  assert.equal(describeRoute({ dst: "10.3.0.0/16", type: "blackhole" }), "blackhole 10.3.0.0/16");
  assert.equal(describeLinkChange("tun0", { up: true, mtu: 1400 }), "tun0 up mtu 1400");
});
